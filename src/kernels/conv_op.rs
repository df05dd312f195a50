//! The candle custom ops behind [`super::conv3x3_relu`]: the fused forward and the three
//! gradient kernels its backward pass is made of.
//!
//! Contract: CPU, f32 and contiguous inputs only (the public wrapper makes them contiguous); any
//! other shape, dtype or layout is a `candle_core::Error`, never a panic. With `g` the output
//! gradient masked by `y > 0` (ReLU is fused into the forward):
//!
//! ```text
//! forward  y_b  = relu(W (O, K) × col(x_b) (K, HW) + bias)      K = C_in * 9
//! dW            = Σ_b g_b (O, HW) × col(x_b)^T (HW, K)
//! dx_b          = col2im(W^T (K, O) × g_b (O, HW))
//! dbias         = Σ_{b, hw} g
//! ```

use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, CustomOp3, Layout, Result, Shape, Tensor};

use super::im2col::{col2im, im2col, matmul, Geometry, Mat};
use super::{for_each_image, sum_over_images};

/// The contiguous f32 data behind `(storage, layout)`.
fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<&'a [f32]> {
    let Some((start, end)) = l.contiguous_offsets() else {
        bail!("{op}: expected a contiguous tensor, got strides {:?}", l.stride())
    };
    Ok(&s.as_slice::<f32>()?[start..end])
}

/// Geometry of weights `(C_out, C_in, 3, 3)` applied to `H x W` images.
fn weight_geometry(w: &[usize], h: usize, wd: usize, op: &str) -> Result<Geometry> {
    let &[c_out, c_in, 3, 3] = w else {
        bail!("{op}: expected weights (O, C, 3, 3), got {w:?}")
    };
    if c_in == 0 || c_out == 0 || h == 0 || wd == 0 {
        bail!("{op}: zero-sized convolution (weights {w:?}, image {h}x{wd})")
    }
    Ok(Geometry { c_in, c_out, h, w: wd })
}

/// Batch and geometry of a conv of `x` `(B, C_in, H, W)` with weights `(C_out, C_in, 3, 3)`.
fn geometry(x: &[usize], w: &[usize], op: &str) -> Result<(usize, Geometry)> {
    let &[b, c_in, h, wd] = x else {
        bail!("{op}: expected input (B, C, H, W), got {x:?}")
    };
    let g = weight_geometry(w, h, wd, op)?;
    if g.c_in != c_in {
        bail!("{op}: input {x:?} does not fit weights {w:?}")
    }
    Ok((b, g))
}

/// `relu(conv3x3(x, w) + bias)`, padding 1, stride 1. Args: `x`, `w`, `bias`.
pub struct Conv3x3Relu;

impl CustomOp3 for Conv3x3Relu {
    fn name(&self) -> &'static str {
        "conv3x3-relu"
    }

    fn cpu_fwd(
        &self,
        s1: &CpuStorage,
        l1: &Layout,
        s2: &CpuStorage,
        l2: &Layout,
        s3: &CpuStorage,
        l3: &Layout,
    ) -> Result<(CpuStorage, Shape)> {
        let name = self.name();
        let (b, g) = geometry(l1.dims(), l2.dims(), name)?;
        if l3.dims() != [g.c_out] {
            bail!(
                "{name}: bias {:?} does not match {} output channels",
                l3.dims(),
                g.c_out
            )
        }
        let (x, w, bias) = (
            f32_slice(s1, l1, name)?,
            f32_slice(s2, l2, name)?,
            f32_slice(s3, l3, name)?,
        );
        let w = Mat::row_major(w, g.c_out, g.k());
        let mut y = vec![0f32; b * g.out_len()]; // (B, O, H, W)
        for_each_image(&mut y, g.out_len(), g.col_len(), |i, y_i, col| {
            im2col(&x[i * g.in_len()..][..g.in_len()], g, col); // (K, HW)
            matmul(y_i, w, Mat::row_major(col, g.k(), g.hw()), false); // (O, HW)

            // Bias and ReLU while the image is still in cache, instead of two more passes over
            // the whole batch.
            for (row, &bo) in y_i.chunks_exact_mut(g.hw()).zip(bias) {
                for v in row {
                    *v = (*v + bo).max(0.0);
                }
            }
        });
        Ok((CpuStorage::F32(y), Shape::from((b, g.c_out, g.h, g.w))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        bias: &Tensor,
        y: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let g = grad.contiguous()?.apply_op2_no_bwd(y, &ReluMask)?; // (B, O, H, W)

        // A tensor that tracks no op is a leaf that is not a variable (e.g. the network's input
        // images): nobody reads its gradient, and for the first layer it is the costliest one.
        let dx = if x.track_op() {
            Some(g.apply_op2_no_bwd(w, &InputGrad)?)
        } else {
            None
        };
        let dw = w.track_op().then(|| x.apply_op2_no_bwd(&g, &WeightGrad)).transpose()?;
        let db = bias.track_op().then(|| g.apply_op1_no_bwd(&BiasGrad)).transpose()?;
        Ok((dx, dw, db))
    }
}

/// `grad * (y > 0)`: the output gradient pushed back through the fused ReLU. Args: `grad`, `y`.
struct ReluMask;

impl CustomOp2 for ReluMask {
    fn name(&self) -> &'static str {
        "conv3x3-relu-mask"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        if l1.dims() != l2.dims() {
            bail!("{}: shapes {:?} and {:?} differ", self.name(), l1.dims(), l2.dims())
        }
        let (grad, y) = (f32_slice(s1, l1, self.name())?, f32_slice(s2, l2, self.name())?);
        let g = grad
            .iter()
            .zip(y)
            .map(|(&d, &v)| if v > 0.0 { d } else { 0.0 })
            .collect();
        Ok((CpuStorage::F32(g), l1.shape().clone()))
    }
}

/// `dx`: `col2im(W^T × g_b)` for every image. Args: `g` `(B, O, H, W)`, `w` `(O, C, 3, 3)`.
struct InputGrad;

impl CustomOp2 for InputGrad {
    fn name(&self) -> &'static str {
        "conv3x3-input-grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let name = self.name();
        let &[b, c_out, h, wd] = l1.dims() else {
            bail!("{name}: expected a (B, O, H, W) gradient, got {:?}", l1.dims())
        };
        let g = weight_geometry(l2.dims(), h, wd, name)?;
        if g.c_out != c_out {
            bail!("{name}: gradient {:?} does not fit weights {:?}", l1.dims(), l2.dims())
        }
        let (dy, w) = (f32_slice(s1, l1, name)?, f32_slice(s2, l2, name)?);
        let wt = Mat::row_major(w, g.c_out, g.k()).t(); // (K, O)
        let mut dx = vec![0f32; b * g.in_len()]; // (B, C, H, W)
        for_each_image(&mut dx, g.in_len(), g.col_len(), |i, dx_i, col| {
            let dy_i = Mat::row_major(&dy[i * g.out_len()..][..g.out_len()], g.c_out, g.hw());
            matmul(col, wt, dy_i, false); // (K, HW)
            col2im(col, g, dx_i);
        });
        Ok((CpuStorage::F32(dx), Shape::from((b, g.c_in, h, wd))))
    }
}

/// `dW = Σ_b g_b × col(x_b)^T`. Args: `x` `(B, C, H, W)`, `g` `(B, O, H, W)`.
struct WeightGrad;

impl CustomOp2 for WeightGrad {
    fn name(&self) -> &'static str {
        "conv3x3-weight-grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let name = self.name();
        let (xd, gd) = (l1.dims(), l2.dims());
        let (&[b, c_in, h, wd], &[gb, c_out, gh, gw]) = (xd, gd) else {
            bail!("{name}: expected (B, C, H, W) input and gradient, got {xd:?} and {gd:?}")
        };
        if (gb, gh, gw) != (b, h, wd) {
            bail!("{name}: input {xd:?} and gradient {gd:?} disagree")
        }
        let (_, g) = geometry(xd, &[c_out, c_in, 3, 3], name)?;
        let (x, dy) = (f32_slice(s1, l1, name)?, f32_slice(s2, l2, name)?);
        let dw = sum_over_images(b, g.c_out * g.k(), g.col_len(), |i, acc, col| {
            im2col(&x[i * g.in_len()..][..g.in_len()], g, col); // (K, HW)
            let dy_i = Mat::row_major(&dy[i * g.out_len()..][..g.out_len()], g.c_out, g.hw());
            let col_t = Mat::row_major(col, g.k(), g.hw()).t(); // (HW, K)
            matmul(acc, dy_i, col_t, true); // (O, K)
        });
        Ok((CpuStorage::F32(dw), Shape::from((g.c_out, g.c_in, 3, 3))))
    }
}

/// `dbias[o] = Σ_{b, y, x} g[b, o, y, x]`. Arg: `g` `(B, O, H, W)`.
struct BiasGrad;

impl CustomOp1 for BiasGrad {
    fn name(&self) -> &'static str {
        "conv3x3-bias-grad"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let &[_, c_out, h, w] = l.dims() else {
            bail!("{}: expected a (B, O, H, W) gradient, got {:?}", self.name(), l.dims())
        };
        let dy = f32_slice(s, l, self.name())?;
        let mut db = vec![0f32; c_out];
        if h * w > 0 {
            for (k, plane) in dy.chunks_exact(h * w).enumerate() {
                db[k % c_out] += plane.iter().sum::<f32>();
            }
        }
        Ok((CpuStorage::F32(db), Shape::from(c_out)))
    }
}
