#!/usr/bin/env bash
# Builds a release `vgg-mnist` with the `cuda` feature on a machine that has no CUDA libraries, so
# the binary can be carried to a GPU machine (one without a Rust toolchain).
#
# cudarc links the CUDA libraries dynamically. Here they are replaced at link time by stub shared
# libraries that carry the real SONAMEs and define every function cudarc declares (each returns 100,
# CUDA_ERROR_NO_DEVICE, so a run against the stubs behaves as a machine without a GPU); the binary
# records those SONAMEs as NEEDED and the dynamic loader binds the real libraries at run time:
#   libcuda.so.1 (driver), libcublas.so.13, libcublasLt.so.13, libcurand.so.10, libnvrtc.so.13,
#   libcudart.so.13 (the last is real: it comes with the toolkit wheels).
# On the GPU machine put the directories holding them on LD_LIBRARY_PATH (PyTorch's CUDA 13 wheels
# ship all but libcuda, which comes with the driver).
#
# Usage: CUDA_COMPUTE_CAP=90 scripts/cuda-build-stubbed.sh [extra cargo build args]
# Prints the path of the stripped binary as its last line. With STUBBED_TESTS=1 it builds the
# library's unit-test binary instead.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/cuda-toolkit.sh

stubs="$VGG_CUDA_HOME/stubs"
if [[ ! -e "$stubs/lib/libcudart.so" ]]; then
    registry=$(cargo metadata --format-version 1 --features cuda |
        python3 -c 'import json,sys; print(next(p["manifest_path"] for p in json.load(sys.stdin)["packages"] if p["name"]=="cudarc"))')
    cudarc=$(dirname "$registry")/src
    scratch=$(mktemp -d)
    mkdir -p "$stubs/lib"
    # module of cudarc's bindings, SONAME, link name
    while read -r module soname link; do
        grep -ho '^pub unsafe fn [A-Za-z0-9_]*' "$cudarc/$module/sys/mod.rs" | awk '{print $4}' | sort -u |
            sed 's/.*/int &(void) { return 100; }/' >"$scratch/$link.c"
        gcc -shared -fPIC -Wl,-soname,"$soname" -o "$stubs/lib/lib$link.so" "$scratch/$link.c"
    done <<'EOF'
driver libcuda.so.1 cuda
nvrtc libnvrtc.so.13 nvrtc
curand libcurand.so.10 curand
cublas libcublas.so.13 cublas
cublaslt libcublasLt.so.13 cublasLt
EOF
    rm -rf "$scratch"
    ln -sf "$CUDA_ROOT/lib/libcudart.so.13" "$stubs/lib/libcudart.so"
fi
# Files named by the SONAMEs too, so that a run against the stubs (a dry run on this machine:
# LD_LIBRARY_PATH=$VGG_CUDA_HOME/stubs/lib) finds them.
for pair in cuda:libcuda.so.1 nvrtc:libnvrtc.so.13 curand:libcurand.so.10 cublas:libcublas.so.13 \
    cublasLt:libcublasLt.so.13; do
    ln -sf "lib${pair%%:*}.so" "$stubs/lib/${pair#*:}"
done
ln -sf "$CUDA_ROOT/lib/libcudart.so.13" "$stubs/lib/libcudart.so.13"
# cudarc adds `$CUDA_HOME/lib` to the link search path (candle-kernels links cudart without one).
export CUDA_HOME="$stubs"

if [[ "${STUBBED_TESTS:-0}" = 1 ]]; then
    # The library's unit tests instead (the CUDA ones run on the GPU machine).
    bin=$(cargo test --release --features cuda --lib --no-run --message-format=json "$@" |
        python3 -c 'import json,sys; print([m["executable"] for m in map(json.loads, sys.stdin) if m.get("executable")][-1])')
else
    cargo build --release --features cuda --bin vgg-mnist "$@"
    bin="${CARGO_TARGET_DIR:-target}/release/vgg-mnist"
fi
strip "$bin"
readelf -d "$bin" | grep NEEDED >&2
echo "$bin"
