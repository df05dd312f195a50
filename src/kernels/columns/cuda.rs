//! The column ops on CUDA: the im2col, col2im and bias kernels (CUDA C, compiled by `nvrtc`)
//! and a layer's forward as im2col + bias + one strided-batched cuBLAS product.

use candle_core::cuda_backend::cudarc::cublas::sys::cublasOperation_t;
use candle_core::cuda_backend::cudarc::cublas::{Gemm, GemmConfig, StridedBatchedConfig};
use candle_core::cuda_backend::WrapErr;
use candle_core::{CudaStorage, Layout, Result};

use crate::kernels::nvrtc;

const MODULE: &str = "vgg_mnist_columns";

pub(super) const IM2COL: &str = "vgg_im2col3x3";
pub(super) const COL2IM: &str = "vgg_col2im3x3";
const FILL_BIAS: &str = "vgg_fill_bias";

/// One block per plane (image × channel): 32-bit index arithmetic within it, however large
/// the batch. Every kernel writes every output element, so outputs need no zeroing.
const SOURCE: &str = r#"
extern "C" __global__ void vgg_im2col3x3(const float *x, float *cols, int h, int w) {
    const int hw = h * w;
    const float *src = x + (size_t)blockIdx.x * hw;
    float *dst = cols + (size_t)blockIdx.x * 9 * hw;
    for (int i = threadIdx.x; i < 9 * hw; i += blockDim.x) {
        const int k = i / hw, p = i - k * hw;
        const int y = p / w + k / 3 - 1, xx = p % w + k % 3 - 1;
        dst[i] = (y >= 0 && y < h && xx >= 0 && xx < w) ? src[y * w + xx] : 0.0f;
    }
}

extern "C" __global__ void vgg_col2im3x3(const float *cols, float *x, int h, int w) {
    const int hw = h * w;
    const float *src = cols + (size_t)blockIdx.x * 9 * hw;
    float *dst = x + (size_t)blockIdx.x * hw;
    for (int p = threadIdx.x; p < hw; p += blockDim.x) {
        const int y = p / w, xx = p % w;
        float sum = 0.0f;
        for (int k = 0; k < 9; ++k) {
            const int sy = y - k / 3 + 1, sx = xx - k % 3 + 1;
            if (sy >= 0 && sy < h && sx >= 0 && sx < w) sum += src[k * hw + sy * w + sx];
        }
        dst[p] = sum;
    }
}

// Plane `blockIdx.x` of a (B, O, HW) output, filled with its channel's bias.
extern "C" __global__ void vgg_fill_bias(const float *bias, float *y, int o, int hw) {
    const float v = bias[blockIdx.x % o];
    float *dst = y + (size_t)blockIdx.x * hw;
    for (int p = threadIdx.x; p < hw; p += blockDim.x) dst[p] = v;
}
"#;

/// Kernel `name` (im2col or col2im) over `planes` planes of `h × w` pixels into a new buffer
/// of `out_len` floats.
pub(super) fn launch(
    name: &str,
    s: &CudaStorage,
    l: &Layout,
    planes: usize,
    hw: (usize, usize),
    out_len: usize,
) -> Result<CudaStorage> {
    nvrtc::launch_per_plane((MODULE, SOURCE), name, &[(s, l)], planes, hw, out_len)
}

/// `y_b = W × im2col(x_b) + bias` for every image `b`: the columns in a scratch buffer, the
/// bias written into `y`, then one strided-batched product accumulating onto it.
pub(super) fn columns_conv(
    sx: &CudaStorage,
    lx: &Layout,
    sw: &CudaStorage,
    lw: &Layout,
    sb: &CudaStorage,
    lb: &Layout,
    (b, c, h, w, o): (usize, usize, usize, usize, usize),
) -> Result<CudaStorage> {
    let dev = &sx.device;
    let (hw, k) = (h * w, 9 * c);
    // SAFETY (both): every element is written by a kernel before it is read.
    let mut cols = unsafe { dev.alloc::<f32>(b * k * hw)? };
    let mut y = unsafe { dev.alloc::<f32>(b * o * hw)? };
    let module = (MODULE, SOURCE);
    nvrtc::run_per_plane(
        dev,
        module,
        IM2COL,
        &[nvrtc::view(sx, lx, "columns-conv")?],
        &mut cols,
        b * c,
        (h, w),
    )?;
    nvrtc::run_per_plane(
        dev,
        module,
        FILL_BIAS,
        &[nvrtc::view(sb, lb, "columns-conv")?],
        &mut y,
        b * o,
        (o, hw),
    )?;
    // Row-major `Y_b (O × HW) = W (O × K) · col_b (K × HW)` is column-major
    // `Y_bᵀ (HW × O) = col_bᵀ (HW × K) · Wᵀ (K × O)`: A = col_b, B = W (shared: stride 0).
    let cfg = StridedBatchedConfig {
        gemm: GemmConfig {
            transa: cublasOperation_t::CUBLAS_OP_N,
            transb: cublasOperation_t::CUBLAS_OP_N,
            m: hw as i32,
            n: o as i32,
            k: k as i32,
            alpha: 1f32,
            lda: hw as i32,
            ldb: k as i32,
            beta: 1f32,
            ldc: hw as i32,
        },
        batch_size: b as i32,
        stride_a: (k * hw) as i64,
        stride_b: 0,
        stride_c: (o * hw) as i64,
    };
    let wv = nvrtc::view(sw, lw, "columns-conv")?;
    // SAFETY: the three buffers hold b·K·HW, O·K and b·O·HW floats, as the strides and
    // leading dimensions above address them.
    unsafe { dev.cublas_handle().gemm_strided_batched(cfg, &cols, &wv, &mut y) }.w()?;
    Ok(CudaStorage::wrap_cuda_slice(y, dev.clone()))
}

/// NVRTC needs no GPU: this runs wherever libnvrtc loads (with the stub-linked build, put
/// PyTorch's `nvidia/cu13/lib` first on `LD_LIBRARY_PATH`).
#[test]
fn the_kernels_compile() {
    let ptx = nvrtc::ptx(MODULE, SOURCE).unwrap();
    assert!(ptx.contains(".entry vgg_im2col3x3") && ptx.contains(".entry vgg_col2im3x3"));
}
