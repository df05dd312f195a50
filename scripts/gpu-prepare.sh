#!/usr/bin/env bash
# Fills .gpu/ with what scripts/gpu-run.sh needs on a GPU machine that has no Rust and no network
# (docs/cuda.md): the CUDA build of vgg-mnist and of its unit tests (built against stub
# libraries) and PyTorch's reference script, 8 MB; with CARRY_CURAND=1 also libcurand.so.10 from
# NVIDIA's PyPI wheel (41 MB compressed; candle opens a cuRAND generator with every CUDA device,
# and PyTorch's newest CUDA 13 wheels no longer ship it; the lent H200's PyTorch 2.11 does).
# The device tool's 64 MiB limit counts the whole working tree with it.
#
# Usage: [BASE_BIN=older/vgg-mnist] scripts/gpu-prepare.sh
# Env: CUDA_COMPUTE_CAP (default 90, the H200), CARGO_TARGET_DIR (default /work/cuda-target: keeps
#      the CUDA build apart from the CPU one), SHARED (../shared).
set -euo pipefail
cd "$(dirname "$0")/.."
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/cuda-target}
SHARED=${SHARED:-../shared}
CURAND_WHEEL=nvidia-curand==10.4.0.35   # CUDA 13.0's cuRAND

mkdir -p .gpu
# The program and its unit tests (the CUDA ones check our kernels against the CPU on the GPU),
# and, with BASE_BIN=path, an older build to measure beside it. They travel in one xz stream with
# a dictionary larger than one binary: all are mostly candle's same PTX, so three take about 8 MB,
# not 3 x 7 (the carry limit, 64 MiB, counts the whole working tree).
pack=$(mktemp -d)
cp "$(scripts/cuda-build-stubbed.sh | tail -1)" "$pack/vgg-mnist"
cp "$(STUBBED_TESTS=1 scripts/cuda-build-stubbed.sh | tail -1)" "$pack/vgg-mnist-tests"
[ -n "${BASE_BIN:-}" ] && cp "$BASE_BIN" "$pack/vgg-mnist-base"
rm -f .gpu/vgg-mnist.xz
(cd "$pack" && tar -cf - vgg-mnist*) | xz -T1 --lzma2=preset=9,dict=128MiB > .gpu/vgg-mnist.tar.xz
rm -rf "$pack"
cp "$SHARED/bench/torch_reference.py" .gpu/
if [ "${CARRY_CURAND:-0}" != 1 ]; then
  rm -rf .gpu/lib
elif [ ! -f .gpu/lib/libcurand.so.10.xz ]; then
  mkdir -p .gpu/lib
  tmp=$(mktemp -d)
  python3 -m pip download --quiet --no-deps --only-binary=:all: --platform manylinux_2_27_x86_64 \
    -d "$tmp" "$CURAND_WHEEL"
  python3 - "$tmp" <<'PY'
import glob, sys, zipfile
wheel = zipfile.ZipFile(glob.glob(sys.argv[1] + "/*.whl")[0])
name = next(n for n in wheel.namelist() if n.endswith("/libcurand.so.10"))
open(sys.argv[1] + "/libcurand.so.10", "wb").write(wheel.read(name))
PY
  xz -T0 -9 -c "$tmp/libcurand.so.10" > .gpu/lib/libcurand.so.10.xz
  rm -rf "$tmp"
fi
du -sh .gpu
echo "gpu-prepare: ok; carry .gpu and run: OUT=\$OUT scripts/gpu-run.sh"
