//! The column matrix of a 3x3 convolution (padding 1, stride 1) and its adjoint, as candle ops
//! that run on the CPU and on CUDA: what the model's convolutions are built from on a GPU.
//!
//! `im2col3x3`: `(B, C, H, W)` → `(B, 9C, HW)`, row `9c + 3ky + kx` holding channel `c` shifted
//! by `(ky - 1, kx - 1)` (zero outside the image), so a layer is `W.reshape(O, 9C) × col` per
//! image, already in `(B, O, H, W)` order. `col2im3x3` is its adjoint (each pixel sums the nine
//! entries it was copied to), and each op's gradient is the other.
//!
//! Why on CUDA: candle's CUDA `conv2d` backward runs a direct transposed convolution (21 % of
//! the GPU's time on an H200) and an im2col over a 28x28 "kernel" for the weight gradient (most
//! of the 26 % its im2col took), both with 64-bit index arithmetic per element. Here the
//! weight and input gradients are two cuBLAS products over the saved columns plus one gather
//! pass. The CUDA kernels are compiled from the source below with NVRTC (`nvrtc` says why).
//! The CPU versions are the reference the tests compare with; the CPU model itself uses the
//! fused kernels of this module's parent.

use candle_core::{bail, CpuStorage, CustomOp1, Layout, Result, Shape, Tensor};

/// `relu(conv3x3(xs, weight) + bias)` (padding 1, stride 1) as `W (O, 9C) × col (B, 9C, HW)` per
/// image (one batched product, already in `(B, O, H, W)` order), then candle's bias add and ReLU;
/// on any device. The model uses it on CUDA.
///
/// # Shapes
/// `xs`: `(B, C_in, H, W)`, `weight`: `(C_out, C_in, 3, 3)`, `bias`: `(C_out,)` →
/// `(B, C_out, H, W)`.
///
/// # Errors
/// If the shapes do not fit together, or as the ops.
pub fn conv3x3_relu_by_columns(xs: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
    let (b, c_in, h, w) = xs.dims4()?;
    let (c_out, c_w, kh, kw) = weight.dims4()?;
    if (c_w, kh, kw) != (c_in, 3, 3) || bias.dims() != [c_out] {
        bail!(
            "conv3x3: weights {:?} and bias {:?} do not fit {c_in} input channels",
            weight.dims(),
            bias.dims()
        )
    }
    let cols = im2col3x3(xs)?; // (B, 9C, HW)
    let ys = weight.reshape((c_out, 9 * c_in))?.broadcast_matmul(&cols)?; // (B, O, HW)
    ys.reshape((b, c_out, h, w))?
        .broadcast_add(&bias.reshape((1, c_out, 1, 1))?)?
        .relu()
}

/// `im2col` for a 3x3 kernel with padding 1: `(B, C, H, W)` → `(B, 9C, H·W)`.
pub fn im2col3x3(xs: &Tensor) -> Result<Tensor> {
    xs.contiguous()?.apply_op1(Im2Col)
}

/// The adjoint of [`im2col3x3`]: `(B, 9C, H·W)` → `(B, C, H, W)` for an image of `h × w`.
pub fn col2im3x3(cols: &Tensor, h: usize, w: usize) -> Result<Tensor> {
    cols.contiguous()?.apply_op1(Col2Im { h, w })
}

fn dims4(l: &Layout, op: &str) -> Result<(usize, usize, usize, usize)> {
    match l.dims() {
        &[b, c, h, w] => Ok((b, c, h, w)),
        d => bail!("{op}: expected (B, C, H, W), got {d:?}"),
    }
}

fn contiguous_range(l: &Layout, op: &str) -> Result<(usize, usize)> {
    match l.contiguous_offsets() {
        Some(r) => Ok(r),
        None => bail!("{op}: expected a contiguous tensor, got strides {:?}", l.stride()),
    }
}

#[derive(Clone, Copy)]
struct Im2Col;

impl CustomOp1 for Im2Col {
    fn name(&self) -> &'static str {
        "im2col3x3"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c, h, w) = dims4(l, self.name())?;
        let (start, end) = contiguous_range(l, self.name())?;
        let xs = &s.as_slice::<f32>()?[start..end];
        let hw = h * w;
        let mut cols = vec![0f32; b * c * 9 * hw];
        for (plane, x) in xs.chunks_exact(hw).enumerate() {
            for k in 0..9 {
                let (dy, dx) = (k / 3, k % 3);
                let row = &mut cols[(plane * 9 + k) * hw..][..hw];
                for y in 0..h {
                    for xx in 0..w {
                        let (sy, sx) = ((y + dy).wrapping_sub(1), (xx + dx).wrapping_sub(1));
                        if sy < h && sx < w {
                            row[y * w + xx] = x[sy * w + sx];
                        }
                    }
                }
            }
        }
        Ok((CpuStorage::F32(cols), Shape::from((b, 9 * c, hw))))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(&self, s: &candle_core::CudaStorage, l: &Layout) -> Result<(candle_core::CudaStorage, Shape)> {
        let (b, c, h, w) = dims4(l, self.name())?;
        let out = cuda::launch(cuda::IM2COL, s, l, b * c, (h, w), b * c * 9 * h * w)?;
        Ok((out, Shape::from((b, 9 * c, h * w))))
    }

    fn bwd(&self, arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        let (_, _, h, w) = arg.dims4()?;
        Ok(Some(col2im3x3(grad, h, w)?))
    }
}

#[derive(Clone, Copy)]
struct Col2Im {
    h: usize,
    w: usize,
}

impl Col2Im {
    /// `(B, 9C, HW)` → `(B, C)`, checking that the columns fit `h × w`.
    fn planes(&self, l: &Layout) -> Result<(usize, usize)> {
        let &[b, rows, hw] = l.dims() else {
            bail!("col2im3x3: expected (B, 9C, HW), got {:?}", l.dims())
        };
        if rows % 9 != 0 || hw != self.h * self.w {
            bail!(
                "col2im3x3: {:?} are not the columns of {}x{} images",
                l.dims(),
                self.h,
                self.w
            )
        }
        Ok((b, rows / 9))
    }
}

impl CustomOp1 for Col2Im {
    fn name(&self) -> &'static str {
        "col2im3x3"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (b, c) = self.planes(l)?;
        let (start, end) = contiguous_range(l, self.name())?;
        let cols = &s.as_slice::<f32>()?[start..end];
        let (h, w) = (self.h, self.w);
        let hw = h * w;
        let mut xs = vec![0f32; b * c * hw];
        for (plane, x) in xs.chunks_exact_mut(hw).enumerate() {
            for k in 0..9 {
                let (dy, dx) = (k / 3, k % 3);
                let row = &cols[(plane * 9 + k) * hw..][..hw];
                for y in 0..h {
                    for xx in 0..w {
                        let (sy, sx) = ((y + dy).wrapping_sub(1), (xx + dx).wrapping_sub(1));
                        if sy < h && sx < w {
                            x[sy * w + sx] += row[y * w + xx];
                        }
                    }
                }
            }
        }
        Ok((CpuStorage::F32(xs), Shape::from((b, c, h, w))))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(&self, s: &candle_core::CudaStorage, l: &Layout) -> Result<(candle_core::CudaStorage, Shape)> {
        let (b, c) = self.planes(l)?;
        let out = cuda::launch(cuda::COL2IM, s, l, b * c, (self.h, self.w), b * c * self.h * self.w)?;
        Ok((out, Shape::from((b, c, self.h, self.w))))
    }

    fn bwd(&self, _arg: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(im2col3x3(grad)?))
    }
}

#[cfg(feature = "cuda")]
mod cuda {
    use candle_core::cuda_backend::cudarc::driver::{LaunchConfig, PushKernelArg};
    use candle_core::cuda_backend::WrapErr;
    use candle_core::{bail, CudaStorage, Layout, Result};

    pub(super) const IM2COL: &str = "vgg_im2col3x3";
    pub(super) const COL2IM: &str = "vgg_col2im3x3";

    /// One block per plane (image × channel): 32-bit index arithmetic within it, however large
    /// the batch. Both kernels write every output element, so outputs need no zeroing.
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
"#;

    /// Runs kernel `name` over `planes` planes of `h × w` pixels into a new buffer of `out_len`.
    pub(super) fn launch(
        name: &str,
        s: &CudaStorage,
        l: &Layout,
        planes: usize,
        (h, w): (usize, usize),
        out_len: usize,
    ) -> Result<CudaStorage> {
        let Some((start, end)) = l.contiguous_offsets() else {
            bail!("{name}: expected a contiguous tensor")
        };
        let dev = &s.device;
        let src = s.as_cuda_slice::<f32>()?.slice(start..end);
        let func = crate::kernels::nvrtc::function(dev, "vgg_mnist_columns", SOURCE, name)?;
        // SAFETY: every element is written by the kernel before it is read.
        let out = unsafe { dev.alloc::<f32>(out_len)? };
        let (h, w) = (h as i32, w as i32);
        let cfg = LaunchConfig {
            grid_dim: (planes as u32, 1, 1),
            block_dim: (256, 1, 1),
            shared_mem_bytes: 0,
        };
        let stream = dev.cuda_stream();
        let mut builder = stream.launch_builder(&func);
        builder.arg(&src);
        builder.arg(&out);
        builder.arg(&h);
        builder.arg(&w);
        // SAFETY: the arguments match the kernel's signature; the grid covers `planes` planes of
        // the input and output lengths checked by the callers.
        unsafe { builder.launch(cfg) }.w()?;
        Ok(CudaStorage::wrap_cuda_slice(out, dev.clone()))
    }

    /// NVRTC needs no GPU: this runs wherever libnvrtc loads (with the stub-linked build, put
    /// PyTorch's `nvidia/cu13/lib` first on `LD_LIBRARY_PATH`).
    #[test]
    fn the_kernels_compile() {
        let ptx = crate::kernels::nvrtc::ptx("vgg_mnist_columns", SOURCE).unwrap();
        assert!(ptx.contains(".entry vgg_im2col3x3") && ptx.contains(".entry vgg_col2im3x3"));
    }
}
