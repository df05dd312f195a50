#!/usr/bin/env bash
# Compile-checks and lints the `cuda` feature on a machine with no GPU and no CUDA install (CI
# runs this): clippy costs what `cargo check` costs and also lints the CUDA-only code.
#
# A check needs nvcc but no GPU, driver or CUDA library: candle-kernels' build script compiles its
# .cu files with nvcc (most of the time goes there, about 750 s of CPU), cudarc's build script asks
# `nvcc --version` which CUDA API to bind, and a check links nothing. scripts/cuda-toolkit.sh
# fetches nvcc 13.0 from NVIDIA's PyPI wheels into a cache directory once.
#
# Usage: scripts/cuda-check.sh [extra cargo clippy args]
# Env:   VGG_CUDA_HOME, CUDA_COMPUTE_CAP (see scripts/cuda-toolkit.sh), CARGO_TARGET_DIR as usual.
# Prints `cuda-check: ok (...)` as its last line on success.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/cuda-toolkit.sh
nvcc --version | tail -1 >&2

started=$SECONDS
cargo clippy --release --features cuda --all-targets "$@" -- -D warnings
echo "cuda-check: ok ($((SECONDS - started)) s, nvcc $(nvcc --version | grep -o 'release [0-9.]*' | cut -d' ' -f2), sm_$CUDA_COMPUTE_CAP)"
