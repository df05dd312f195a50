//! The column matrix of a 3x3 convolution (padding 1, stride 1) and its adjoint, as candle ops
//! that run on the CPU and on CUDA: what the model's convolutions are built from on a GPU.
//!
//! `im2col3x3`: `(B, C, H, W)` → `(B, 9C, HW)`, row `9c + 3ky + kx` holding channel `c` shifted
//! by `(ky - 1, kx - 1)` (zero outside the image), so a layer is `W.reshape(O, 9C) × col` per
//! image, already in `(B, O, H, W)` order. `col2im3x3` is its adjoint (each pixel sums the nine
//! entries it was copied to), and each op's gradient is the other.
//!
//! A layer, [`conv3x3_relu_by_columns`], is one op (`ColumnsConv`): im2col into a scratch
//! buffer, the bias written into the output, one strided-batched cuBLAS product on top, then
//! candle's ReLU. Its backward recomputes the columns and takes two products and one gather
//! pass (`col2im3x3`).
//!
//! Why on CUDA: candle's CUDA `conv2d` backward runs a direct transposed convolution (21 % of
//! the GPU's time on an H200) and an im2col over a 28x28 "kernel" for the weight gradient (most
//! of the 26 % its im2col took), both with 64-bit index arithmetic per element. Why one op and
//! not im2col, matmul and bias add as three candle ops (the first version, measured on the
//! H200): candle's autograd then gives the column matrix, nine times an activation, its own
//! gradient (a zero tensor plus an add), and the bias is a broadcast add with candle's strided
//! kernel: `badd` took 35 % of the GPU's time (12 % with this op). The batch sums of the weight
//! and bias gradients are still candle's `fast_sum` (15 % in both runs). The CUDA kernels
//! (`columns/cuda.rs`) are compiled with NVRTC (`nvrtc` says why). The CPU versions are the
//! reference the tests compare with; the CPU model itself uses the fused kernels of this
//! module's parent.

use candle_core::{bail, CpuStorage, CustomOp1, CustomOp3, Layout, Result, Shape, Tensor};

use super::f32_slice;

/// `relu(conv3x3(xs, weight) + bias)` (padding 1, stride 1) as `W (O, 9C) × col (B, 9C, HW)` + bias
/// per image (one op, already in `(B, O, H, W)` order), then candle's ReLU; on the CPU or CUDA.
/// The model uses it on CUDA.
///
/// # Shapes
/// `xs`: `(B, C_in, H, W)`, `weight`: `(C_out, C_in, 3, 3)`, `bias`: `(C_out,)` →
/// `(B, C_out, H, W)`.
///
/// # Errors
/// If the shapes do not fit together, or as the ops.
pub fn conv3x3_relu_by_columns(xs: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
    let (_, c_in, _, _) = xs.dims4()?;
    let (c_out, c_w, kh, kw) = weight.dims4()?;
    if (c_w, kh, kw) != (c_in, 3, 3) || bias.dims() != [c_out] {
        bail!(
            "conv3x3: weights {:?} and bias {:?} do not fit {c_in} input channels",
            weight.dims(),
            bias.dims()
        )
    }
    let w2 = weight.reshape((c_out, 9 * c_in))?.contiguous()?;
    xs.contiguous()?
        .apply_op3(&w2, &bias.contiguous()?, ColumnsConv)?
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

/// `(B, C, H, W)`, none of them zero: the kernels launch one block per plane and the loops
/// chunk by plane, so an empty tensor is refused here rather than panicking or failing there.
fn dims4(l: &Layout, op: &str) -> Result<(usize, usize, usize, usize)> {
    match l.dims() {
        &[b, c, h, w] if b * c * h * w > 0 => Ok((b, c, h, w)),
        d => bail!("{op}: expected a non-empty (B, C, H, W), got {d:?}"),
    }
}

/// `W × im2col(x) + bias`. Args: `x` `(B, C, H, W)`, `W` `(O, 9C)`, `bias` `(O,)` (contiguous) →
/// `(B, O, H, W)`.
struct ColumnsConv;

impl ColumnsConv {
    fn dims(&self, lx: &Layout, lw: &Layout, lb: &Layout) -> Result<(usize, usize, usize, usize, usize)> {
        let (b, c, h, w) = dims4(lx, "columns-conv")?;
        let o = lb.dims().first().copied().unwrap_or(0);
        if o == 0 || lw.dims() != [o, 9 * c] || lb.dims() != [o] {
            bail!(
                "columns-conv: weights {:?} and bias {:?} do not fit {c} channels",
                lw.dims(),
                lb.dims()
            )
        }
        Ok((b, c, h, w, o))
    }
}

impl CustomOp3 for ColumnsConv {
    fn name(&self) -> &'static str {
        "columns-conv"
    }

    fn cpu_fwd(
        &self,
        sx: &CpuStorage,
        lx: &Layout,
        sw: &CpuStorage,
        lw: &Layout,
        sb: &CpuStorage,
        lb: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        // The plain loops: a reference for the tests (the CPU model uses the fused kernels).
        let (b, c, h, w, o) = self.dims(lx, lw, lb)?;
        let (CpuStorage::F32(cols), _) = Im2Col.cpu_fwd(sx, lx)? else {
            bail!("columns-conv: expected f32")
        };
        let (wt, bias) = (f32_slice(sw, lw, self.name())?, f32_slice(sb, lb, self.name())?);
        let (hw, k) = (h * w, 9 * c);
        let mut y = vec![0f32; b * o * hw];
        for (img, y_img) in y.chunks_exact_mut(o * hw).enumerate() {
            let col = &cols[img * k * hw..][..k * hw];
            for (oc, row) in y_img.chunks_exact_mut(hw).enumerate() {
                row.fill(bias[oc]);
                for r in 0..k {
                    let (wv, src) = (wt[oc * k + r], &col[r * hw..][..hw]);
                    row.iter_mut().zip(src).for_each(|(d, s)| *d += wv * s);
                }
            }
        }
        Ok((CpuStorage::F32(y), Shape::from((b, o, h, w))))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        sx: &candle_core::CudaStorage,
        lx: &Layout,
        sw: &candle_core::CudaStorage,
        lw: &Layout,
        sb: &candle_core::CudaStorage,
        lb: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let (b, c, h, w, o) = self.dims(lx, lw, lb)?;
        let y = cuda::columns_conv(sx, lx, sw, lw, sb, lb, (b, c, h, w, o))?;
        Ok((y, Shape::from((b, o, h, w))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w2: &Tensor,
        bias: &Tensor,
        _res: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let (b, _, h, w) = x.dims4()?;
        let o = w2.dim(0)?;
        let g = grad.contiguous()?.reshape((b, o, h * w))?;
        // Each gradient only where its tensor tracks one: not the images' (the first layer's
        // input), nor the weights' of a detached layer (`explain`).
        let grad_w = if w2.track_op() {
            // Recomputed rather than kept: a step's columns are several times its activations.
            let cols = im2col3x3(&x.detach())?; // (B, 9C, HW)
            Some(g.matmul(&cols.t()?)?.sum(0)?) // (O, 9C)
        } else {
            None
        };
        let grad_b = if bias.track_op() { Some(g.sum((0, 2))?) } else { None };
        let grad_x = if x.track_op() {
            Some(col2im3x3(&w2.detach().t()?.broadcast_matmul(&g)?, h, w)?)
        } else {
            None
        };
        Ok((grad_x, grad_w, grad_b))
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
        let xs = f32_slice(s, l, self.name())?;
        let hw = h * w;
        // The CPU kernels' own im2col: its rows per channel plane are this op's layout, and the
        // batch's planes follow each other the same way.
        let mut cols = vec![0f32; b * c * 9 * hw];
        super::im2col::im2col(xs, h, w, &mut cols);
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
        if b * rows * hw == 0 || rows % 9 != 0 || hw != self.h * self.w {
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
        let cols = f32_slice(s, l, self.name())?;
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
mod cuda;
