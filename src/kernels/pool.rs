//! 2x2 max-pooling (stride 2) as candle custom ops, forward and backward.
//!
//! Why: candle's `max_pool2d` backward builds its mask from about eight full-size tensor passes
//! (upsample, compare, cast, average-pool, multiply, upsample, multiply, add); `perf` put the
//! pool at about a tenth of a training step. Here the backward is one pass that routes each
//! window's gradient to its maximum.
//!
//! Contract: the forward equals candle's `max_pool2d(2)` on `(B, C, H, W)` → `(B, C, H/2, W/2)`
//! (odd edges dropped). The backward is the true derivative, as in PyTorch: each window's whole
//! gradient goes to its first maximum. Candle's backward (0.11.1) differs: it multiplies by the
//! window's mean of the "is maximum" mask, so a unique maximum gets 1/4 of the gradient.

use candle_core::{bail, CpuStorage, CustomOp1, CustomOp2, Layout, Result, Shape, Tensor};

use super::for_each_image;

/// `(B*C, H, W)` planes and the pooled side lengths, or an error for a non-4D or tiny input.
fn dims(l: &Layout, op: &str) -> Result<(usize, usize, usize, usize, usize)> {
    let &[b, c, h, w] = l.dims() else {
        bail!("{op}: expected (B, C, H, W), got {:?}", l.dims())
    };
    if h < 2 || w < 2 {
        bail!("{op}: image {h}x{w} is smaller than the 2x2 window")
    }
    Ok((b * c, h, w, h / 2, w / 2))
}

fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<&'a [f32]> {
    let Some((start, end)) = l.contiguous_offsets() else {
        bail!("{op}: expected a contiguous tensor")
    };
    Ok(&s.as_slice::<f32>()?[start..end])
}

/// Offset inside the plane of the first maximum of the window at pooled `(oy, ox)`.
#[inline]
fn argmax(plane: &[f32], w: usize, oy: usize, ox: usize) -> usize {
    let i = 2 * oy * w + 2 * ox;
    [i + 1, i + w, i + w + 1]
        .into_iter()
        .fold(i, |best, j| if plane[j] > plane[best] { j } else { best })
}

/// The larger of two values, the first on ties: the value [`argmax`] picks, in a form that
/// compiles to SIMD max instructions.
#[inline]
fn first_max(a: f32, b: f32) -> f32 {
    if b > a {
        b
    } else {
        a
    }
}

/// `max_pool2d(2)`. Arg: `x` `(B, C, H, W)`.
pub struct MaxPool2x2;

impl CustomOp1 for MaxPool2x2 {
    fn name(&self) -> &'static str {
        "max-pool-2x2"
    }

    fn cpu_fwd(&self, s: &CpuStorage, l: &Layout) -> Result<(CpuStorage, Shape)> {
        let (planes, h, w, oh, ow) = dims(l, self.name())?;
        let x = f32_slice(s, l, self.name())?;
        let d = l.dims();
        let mut y = vec![0f32; planes * oh * ow]; // (B, C, H/2, W/2)
                                                  // Parallel over images; within a plane, one output row from two input rows at a time.
        for_each_image(d[0], &mut y, 0, 0, |i, y_i, _, _| {
            let x_i = &x[i * d[1] * h * w..][..d[1] * h * w];
            for (plane, out) in x_i.chunks_exact(h * w).zip(y_i.chunks_exact_mut(oh * ow)) {
                for (oy, out_row) in out.chunks_exact_mut(ow).enumerate() {
                    let (r0, r1) = (&plane[2 * oy * w..][..2 * ow], &plane[(2 * oy + 1) * w..][..2 * ow]);
                    for ((o, a), b) in out_row.iter_mut().zip(r0.chunks_exact(2)).zip(r1.chunks_exact(2)) {
                        *o = first_max(first_max(a[0], a[1]), first_max(b[0], b[1]));
                    }
                }
            }
        });
        let d = l.dims();
        Ok((CpuStorage::F32(y), Shape::from((d[0], d[1], oh, ow))))
    }

    fn bwd(&self, x: &Tensor, _res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(x.apply_op2_no_bwd(&grad.contiguous()?, &MaxPool2x2Grad)?))
    }
}

/// The gradient of [`MaxPool2x2`]. Args: `x` `(B, C, H, W)`, `grad` `(B, C, H/2, W/2)`.
struct MaxPool2x2Grad;

impl CustomOp2 for MaxPool2x2Grad {
    fn name(&self) -> &'static str {
        "max-pool-2x2-grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let (planes, h, w, oh, ow) = dims(l1, self.name())?;
        let d = l1.dims();
        if l2.dims() != [d[0], d[1], oh, ow] {
            bail!("{}: gradient {:?} does not fit input {d:?}", self.name(), l2.dims())
        }
        let (x, dy) = (f32_slice(s1, l1, self.name())?, f32_slice(s2, l2, self.name())?);
        let mut dx = vec![0f32; planes * h * w]; // (B, C, H, W)
        let (per_in, per_out) = (d[1] * h * w, d[1] * oh * ow);
        for_each_image(d[0], &mut dx, 0, 0, |i, dx_i, _, _| {
            let (x_i, dy_i) = (&x[i * per_in..][..per_in], &dy[i * per_out..][..per_out]);
            let planes_in = x_i.chunks_exact(h * w).zip(dx_i.chunks_exact_mut(h * w));
            for ((plane, dplane), dy) in planes_in.zip(dy_i.chunks_exact(oh * ow)) {
                for oy in 0..oh {
                    for ox in 0..ow {
                        dplane[argmax(plane, w, oy, ox)] = dy[oy * ow + ox];
                    }
                }
            }
        });
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }
}
