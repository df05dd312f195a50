#!/usr/bin/env bash
# Fills .gpu/ with what scripts/gpu-run.sh needs on a GPU machine that has no Rust and no network
# (docs/cuda.md): the CUDA builds of vgg-mnist, without and with cuDNN (built against stub
# libraries, 7.3 MB together),
# libcurand.so.10 from NVIDIA's PyPI wheel (PyTorch's newer CUDA 13 wheels no longer ship it, and
# candle opens a cuRAND generator with every CUDA device; 41 MB compressed), and PyTorch's reference
# script. About 48 MB in all, under the device tool's 64 MiB carry limit.
#
# Usage: scripts/gpu-prepare.sh     Env: CUDA_COMPUTE_CAP (default 90, the H200), CARGO_TARGET_DIR
#        (default /work/cuda-target: keeps the CUDA build apart from the CPU one), SHARED (../shared).
set -euo pipefail
cd "$(dirname "$0")/.."
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-90}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-/work/cuda-target}
SHARED=${SHARED:-../shared}
CURAND_WHEEL=nvidia-curand==10.4.0.35   # CUDA 13.0's cuRAND

mkdir -p .gpu/lib
# Two builds: candle's CUDA backend as it is (im2col + cuBLAS convolutions, its own backward
# kernels), and with `--features cudnn` (cuDNN's forward convolutions; PyTorch's wheels ship
# libcudnn.so.9). Same target directory: the second build recompiles only what the feature touches.
# They travel in one xz stream with a dictionary larger than one binary: both are mostly the same
# PTX, so the pair takes 7.3 MB, not 2 x 7.1 MB (the carry limit counts the whole tree).
pack=$(mktemp -d)
cp "$(scripts/cuda-build-stubbed.sh | tail -1)" "$pack/vgg-mnist"
cp "$(scripts/cuda-build-stubbed.sh --features cudnn | tail -1)" "$pack/vgg-mnist-cudnn"
rm -f .gpu/vgg-mnist.xz .gpu/vgg-mnist-cudnn.xz
tar -C "$pack" -cf - vgg-mnist vgg-mnist-cudnn | xz -T1 --lzma2=preset=9,dict=128MiB > .gpu/vgg-mnist.tar.xz
rm -rf "$pack"
cp "$SHARED/bench/torch_reference.py" .gpu/
if [ ! -f .gpu/lib/libcurand.so.10.xz ]; then
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
