//! 2x2 max-pooling (stride 2) as candle custom ops, forward and backward.
//!
//! Why: candle's `max_pool2d` backward builds its mask from about eight full-size tensor passes
//! (upsample, compare, cast, average-pool, multiply, upsample, multiply, add); `perf` put the
//! pool at about a tenth of a training step. Here the backward is one pass that routes each
//! window's gradient to its maximum.
//!
//! Both run on the CPU and (with the `cuda` feature) on CUDA.
//!
//! Contract: the forward equals candle's `max_pool2d(2)` on `(B, C, H, W)` → `(B, C, H/2, W/2)`
//! (odd edges dropped). The backward is the true derivative, as in PyTorch: each window's whole
//! gradient goes to its first maximum. Candle's backward (0.11.1) differs: it multiplies by the
//! window's mean of the "is maximum" mask, so a unique maximum gets 1/4 of the gradient.

use std::mem::MaybeUninit;

use candle_core::{bail, CpuStorage, CustomOp1, CustomOp3, Layout, Result, Shape, Tensor};

use super::{f32_slice, for_each_image};

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

/// The larger of two values, the first on ties, in a form that compiles to SIMD max instructions.
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
        // Parallel over images; within a plane, one output row from two input rows at a time.
        let len = planes * oh * ow;
        let mut y = Vec::with_capacity(len); // (B, C, H/2, W/2), written whole below
        for_each_image(d[0], &mut y.spare_capacity_mut()[..len], 0, 0, |i, y_i, _, _| {
            let x_i = &x[i * d[1] * h * w..][..d[1] * h * w];
            for (plane, out) in x_i.chunks_exact(h * w).zip(y_i.chunks_exact_mut(oh * ow)) {
                pool_plane(plane, h, w, out);
            }
        });
        // SAFETY: every output of every plane of every image was written just above.
        unsafe { y.set_len(len) };
        Ok((CpuStorage::F32(y), Shape::from((d[0], d[1], oh, ow))))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(&self, s: &candle_core::CudaStorage, l: &Layout) -> Result<(candle_core::CudaStorage, Shape)> {
        let (planes, h, w, oh, ow) = dims(l, self.name())?;
        let y = cuda::launch(cuda::POOL, &[(s, l)], planes, (h, w), planes * oh * ow)?;
        let d = l.dims();
        Ok((y, Shape::from((d[0], d[1], oh, ow))))
    }

    fn bwd(&self, x: &Tensor, res: &Tensor, grad: &Tensor) -> Result<Option<Tensor>> {
        Ok(Some(x.apply_op3_no_bwd(res, &grad.contiguous()?, &MaxPool2x2Grad)?))
    }
}

/// The gradient of [`MaxPool2x2`]. Args: `x` `(B, C, H, W)`, `y` (its pooled output) and `grad`,
/// both `(B, C, H/2, W/2)`.
struct MaxPool2x2Grad;

impl MaxPool2x2Grad {
    /// The input's planes and sides (as [`dims`]), checking that the pooled output `l2` and its
    /// gradient `l3` fit them.
    fn dims(&self, l1: &Layout, l2: &Layout, l3: &Layout) -> Result<(usize, usize, usize, usize, usize)> {
        let (planes, h, w, oh, ow) = dims(l1, self.name())?;
        let d = l1.dims();
        if l2.dims() != [d[0], d[1], oh, ow] || l3.dims() != l2.dims() {
            bail!(
                "{}: pooled {:?} and gradient {:?} do not fit input {d:?}",
                self.name(),
                l2.dims(),
                l3.dims()
            )
        }
        Ok((planes, h, w, oh, ow))
    }
}

impl CustomOp3 for MaxPool2x2Grad {
    fn name(&self) -> &'static str {
        "max-pool-2x2-grad"
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
        let (planes, h, w, oh, ow) = self.dims(l1, l2, l3)?;
        let d = l1.dims();
        let x = f32_slice(s1, l1, self.name())?;
        let (y, dy) = (f32_slice(s2, l2, self.name())?, f32_slice(s3, l3, self.name())?);
        let len = planes * h * w;
        let mut dx = Vec::with_capacity(len); // (B, C, H, W), written whole below
        let (per_in, per_out) = (d[1] * h * w, d[1] * oh * ow);
        for_each_image(d[0], &mut dx.spare_capacity_mut()[..len], 0, 0, |i, dx_i, _, _| {
            let planes = x[i * per_in..][..per_in]
                .chunks_exact(h * w)
                .zip(dx_i.chunks_exact_mut(h * w))
                .zip(y[i * per_out..][..per_out].chunks_exact(oh * ow))
                .zip(dy[i * per_out..][..per_out].chunks_exact(oh * ow));
            for (((plane, dplane), pooled), grads) in planes {
                route_plane::<false>(plane, h, w, pooled, grads, dplane);
            }
        });
        // SAFETY: `route_plane` writes every element of every plane of every image.
        unsafe { dx.set_len(len) };
        Ok((CpuStorage::F32(dx), l1.shape().clone()))
    }

    #[cfg(feature = "cuda")]
    fn cuda_fwd(
        &self,
        s1: &candle_core::CudaStorage,
        l1: &Layout,
        s2: &candle_core::CudaStorage,
        l2: &Layout,
        s3: &candle_core::CudaStorage,
        l3: &Layout,
    ) -> Result<(candle_core::CudaStorage, Shape)> {
        let (planes, h, w, _, _) = self.dims(l1, l2, l3)?;
        let dx = cuda::launch(
            cuda::POOL_GRAD,
            &[(s1, l1), (s2, l2), (s3, l3)],
            planes,
            (h, w),
            planes * h * w,
        )?;
        Ok((dx, l1.shape().clone()))
    }
}

#[cfg(feature = "cuda")]
mod cuda;
mod simd;
#[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
use simd::simd128;
#[cfg(target_arch = "x86_64")]
use simd::sse2;

/// One plane `(H, W)` max-pooled into `out` `(H/2, W/2)`, every element written.
pub(super) fn pool_plane(plane: &[f32], h: usize, w: usize, out: &mut [MaybeUninit<f32>]) {
    let (oh, ow) = (h / 2, w / 2);
    for (oy, out_row) in out[..oh * ow].chunks_exact_mut(ow).enumerate() {
        let (r0, r1) = (&plane[2 * oy * w..][..2 * ow], &plane[(2 * oy + 1) * w..][..2 * ow]);
        for ((o, a), b) in out_row.iter_mut().zip(r0.chunks_exact(2)).zip(r1.chunks_exact(2)) {
            // In candle's order (row-major fold), so even NaNs pick the same value.
            o.write(first_max(first_max(first_max(a[0], a[1]), b[0]), b[1]));
        }
    }
}

/// The gradient of one pooled plane: `grads` `(H/2, W/2)` routed to the maxima of `plane`
/// `(H, W)` (given its pooled values `pooled`), into `out` `(H, W)`, every element written.
///
/// With `RELU`, `plane` is a ReLU's output and the result is also the gradient through that ReLU
/// (the block op's last layer): a window's gradient lands on its maximum, which passed the ReLU
/// exactly when it is above zero, so windows whose maximum is not are given no gradient.
pub(super) fn route_plane<const RELU: bool>(
    plane: &[f32],
    h: usize,
    w: usize,
    pooled: &[f32],
    grads: &[f32],
    out: &mut [MaybeUninit<f32>],
) {
    let (oh, ow) = (h / 2, w / 2);
    for oy in 0..oh {
        let (r0, r1) = (&plane[2 * oy * w..][..w], &plane[(2 * oy + 1) * w..][..w]);
        let (d0, d1) = out[2 * oy * w..][..2 * w].split_at_mut(w);
        let (m, g) = (&pooled[oy * ow..][..ow], &grads[oy * ow..][..ow]);
        route_row::<RELU>(r0, r1, m, g, d0, d1);
        // An odd last column is outside every window: no gradient.
        for d in d0[2 * ow..].iter_mut().chain(&mut d1[2 * ow..]) {
            d.write(0.0);
        }
    }
    // So is an odd last row.
    for d in &mut out[2 * oh * w..h * w] {
        d.write(0.0);
    }
}

/// One pooled row's gradient into its two input rows: each window's gradient goes to the first
/// of its values (row-major order) equal to the window's maximum `m`, or to the first value when
/// `m` is NaN (the forward's fold only yields NaN when the first value is NaN); exactly one of
/// the four positions receives it. Two windows at a time with SSE2 on x86_64
/// (`sse2::route_pairs`) and with simd128 in the browser (`simd128::route_pairs`).
#[inline]
fn route_row<const RELU: bool>(
    r0: &[f32],
    r1: &[f32],
    m_row: &[f32],
    g_row: &[f32],
    d0: &mut [MaybeUninit<f32>],
    d1: &mut [MaybeUninit<f32>],
) {
    let ow = m_row.len();
    let (r0, r1) = (&r0[..2 * ow], &r1[..2 * ow]);
    let (d0, d1) = (&mut d0[..2 * ow], &mut d1[..2 * ow]);
    #[cfg(target_arch = "x86_64")]
    let done = {
        let pairs = ow / 2;
        // SAFETY: SSE2 is part of x86_64; every slice holds at least `pairs` pairs of windows.
        unsafe { sse2::route_pairs::<RELU>(r0, r1, m_row, g_row, d0, d1, pairs) };
        2 * pairs
    };
    #[cfg(all(target_arch = "wasm32", target_feature = "simd128"))]
    let done = {
        let pairs = ow / 2;
        simd128::route_pairs::<RELU>(r0, r1, m_row, g_row, d0, d1, pairs);
        2 * pairs
    };
    #[cfg(not(any(target_arch = "x86_64", all(target_arch = "wasm32", target_feature = "simd128"))))]
    let done = 0;
    let windows = (r0[2 * done..].chunks_exact(2).zip(r1[2 * done..].chunks_exact(2))).zip(
        d0[2 * done..]
            .chunks_exact_mut(2)
            .zip(d1[2 * done..].chunks_exact_mut(2)),
    );
    for (((a0, a1), (o0, o1)), (&m, &g)) in windows.zip(m_row[done..].iter().zip(&g_row[done..])) {
        let g = if !RELU || m > 0.0 { g } else { 0.0 }; // NaN m: no gradient through the ReLU
        #[allow(clippy::eq_op)] // `m != m` is the NaN test.
        let a = (a0[0] == m) | (m != m);
        let b = !a & (a0[1] == m);
        let c = !(a | b) & (a1[0] == m);
        let rest = !(a | b | c);
        o0[0].write(if a { g } else { 0.0 });
        o0[1].write(if b { g } else { 0.0 });
        o1[0].write(if c { g } else { 0.0 });
        o1[1].write(if rest { g } else { 0.0 });
    }
}
