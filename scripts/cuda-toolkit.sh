# Sourced by the cuda-*.sh scripts: provides nvcc (CUDA 13.0) on a machine with no CUDA install.
#
# NVIDIA publishes the compiler as PyPI wheels; they are downloaded once into a cache directory,
# unpacked to `$VGG_CUDA_TOOLKIT/nvidia/cu13/{bin,nvvm,include,lib}` and reused.
#
# Env in:  VGG_CUDA_HOME     cache directory (default ~/.cache/vgg-mnist/cuda)
#          CUDA_COMPUTE_CAP  GPU architecture to compile kernels for (default 80; with none set,
#                            candle-kernels' build asks nvidia-smi, which a GPU-less machine lacks)
# Env out: PATH (nvcc first), CUDA_ROOT, CUDA_COMPUTE_CAP, VGG_CUDA_HOME, VGG_CUDA_TOOLKIT

# CUDA 13.0, the oldest CUDA 13 toolkit on PyPI. candle-kernels ships PTX that the driver
# JIT-compiles, and a driver rejects PTX from a newer toolkit than its own, so building with 13.0
# keeps binaries usable with every CUDA 13 driver (>= 580).
VGG_CUDA_WHEELS=(
    nvidia-cuda-nvcc==13.0.88
    nvidia-nvvm==13.0.88
    nvidia-cuda-crt==13.0.88
    nvidia-cuda-runtime==13.0.88
    nvidia-cuda-cccl==13.0.85
)

export VGG_CUDA_HOME=${VGG_CUDA_HOME:-$HOME/.cache/vgg-mnist/cuda}
export VGG_CUDA_TOOLKIT="$VGG_CUDA_HOME/cu13.0.88"

if [[ ! -x "$VGG_CUDA_TOOLKIT/nvidia/cu13/bin/nvcc" ]]; then
    echo "cuda: fetching the CUDA 13.0 compiler wheels into $VGG_CUDA_HOME" >&2
    mkdir -p "$VGG_CUDA_HOME/wheels"
    python3 -m pip download --quiet --no-deps --only-binary=:all: \
        --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 --platform manylinux_2_12_x86_64 \
        -d "$VGG_CUDA_HOME/wheels" "${VGG_CUDA_WHEELS[@]}"
    # Unpack into a scratch directory and rename it into place, so an interrupted run never leaves
    # a half-unpacked toolkit that a later run would trust.
    _scratch=$(mktemp -d "$VGG_CUDA_HOME/unpack.XXXXXX")
    for _spec in "${VGG_CUDA_WHEELS[@]}"; do
        _name=${_spec%%==*}
        python3 -m zipfile -e "$(ls "$VGG_CUDA_HOME/wheels/${_name//-/_}-${_spec##*==}-"*.whl)" "$_scratch"
    done
    # Python's zipfile drops the executable bits.
    chmod +x "$_scratch"/nvidia/cu13/bin/* "$_scratch"/nvidia/cu13/nvvm/bin/*
    rm -rf "$VGG_CUDA_TOOLKIT"
    mv "$_scratch" "$VGG_CUDA_TOOLKIT"
    unset _scratch _spec _name
fi

export PATH="$VGG_CUDA_TOOLKIT/nvidia/cu13/bin:$PATH"
export CUDA_ROOT="$VGG_CUDA_TOOLKIT/nvidia/cu13"
export CUDA_COMPUTE_CAP=${CUDA_COMPUTE_CAP:-80}
