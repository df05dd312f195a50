//! The candle custom ops behind [`super::conv3x3_relu`]: the fused forward and the fused
//! backward that produces all three gradients in one pass over the batch; and the per-image
//! layer functions ([`forward_image`], [`backward_image`]) that [`super::block_op`] chains.
//!
//! Contract: CPU, f32 and contiguous inputs only (the public wrapper makes them contiguous); any
//! other shape, dtype or layout is a `candle_core::Error`, never a panic. With `g` the output
//! gradient masked by `y > 0` (ReLU is fused into the forward) and `K = C_in * 9`:
//!
//! ```text
//! forward  y_b  = relu(W (O, K) × col(x_b) (K, HW) + bias)
//! dW^T          = Σ_b col(x_b) (K, HW) × g_b^T (HW, O)
//! dx_b          = W' (C, O*9) × col(g_b) (O*9, HW)      W'[c][o*9 + k] = W[o][c][8 - k]
//! dbias         = Σ_{b, hw} g
//! ```
//!
//! The input gradient is the transposed convolution written as a plain one: the gradient
//! convolved with the weights rotated by 180° and their in/out channels swapped. Why not
//! `col2im(W^T × g_b)`: that gemm has inner dimension O (8-64), far too short to run at speed,
//! and col2im is one more pass; this one has inner dimension O*9, like the forward.

use std::mem::MaybeUninit;

use candle_core::{bail, CpuStorage, CustomOp3, Layout, Result, Shape, Tensor};

use super::im2col::{im2col, Geometry};
use super::matmul::{matmul, matmul_into, Mat};
use super::{f32_slice, for_each_image};

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
        let len = b * g.out_len();
        let mut y = Vec::with_capacity(len); // (B, O, H, W), written whole below
        for_each_image(
            b,
            &mut y.spare_capacity_mut()[..len],
            0,
            g.col_len(),
            |i, y_i, _, col| {
                forward_image(g, &x[i * g.in_len()..][..g.in_len()], w, bias, col, y_i);
            },
        );
        // SAFETY: `for_each_image` gave every image its `out_len` chunk, and `matmul_into`
        // wrote each chunk whole.
        unsafe { y.set_len(len) };
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
        // A tensor that tracks no op is a leaf that is not a variable (e.g. the network's input
        // images): nobody reads its gradient, and for the first layer it is the costliest one.
        let wflip = if x.track_op() {
            let (c_out, c_in) = w.dims4().map(|(o, c, _, _)| (o, c))?;
            Some(rotate_weights(&w.flatten_all()?.to_vec1::<f32>()?, c_out, c_in))
        } else {
            None
        };
        let packed = x.apply_op3_no_bwd(y, &grad.contiguous()?, &Conv3x3ReluGrad { wflip })?;

        let (dx, grads) = unpack_grads(&packed, x, &[w, bias])?;
        let mut grads = grads.into_iter();
        Ok((dx, grads.next().flatten(), grads.next().flatten()))
    }
}

/// Splits a grad op's packed result, `[dx (when computed) | one part per tensor of rest]`, into
/// the input gradient and each tensor's gradient (`None` for a tensor that tracks nothing);
/// narrow + reshape are views, not copies.
pub(super) fn unpack_grads(
    packed: &Tensor,
    x: &Tensor,
    rest: &[&Tensor],
) -> Result<(Option<Tensor>, Vec<Option<Tensor>>)> {
    let rest_len: usize = rest.iter().map(|t| t.elem_count()).sum();
    let Some(dx_len) = packed.elem_count().checked_sub(rest_len) else {
        bail!(
            "gradients of {} values cannot hold {rest_len} parameters",
            packed.elem_count()
        )
    };
    let dx = (dx_len > 0)
        .then(|| packed.narrow(0, 0, dx_len)?.reshape(x.shape()))
        .transpose()?;
    let mut at = dx_len;
    let mut grads = Vec::with_capacity(rest.len());
    for t in rest {
        let g = t
            .track_op()
            .then(|| packed.narrow(0, at, t.elem_count())?.reshape(t.shape()));
        grads.push(g.transpose()?);
        at += t.elem_count();
    }
    Ok((dx, grads))
}

/// One image through one layer: `y = relu(W (O, K) × col(x) (K, HW) + bias)`, into `y`
/// `(O, HW)`, every element written; returns `y`. `x`: `(C, HW)`, `w`: `(O, K)`, `col`: scratch
/// of at least `g.col_len()` floats.
pub(super) fn forward_image<'a>(
    g: Geometry,
    x: &[f32],
    w: &[f32],
    bias: &[f32],
    col: &mut [f32],
    y: &'a mut [MaybeUninit<f32>],
) -> &'a mut [f32] {
    let col = &mut col[..g.col_len()];
    im2col(x, g.h, g.w, col); // (K, HW)
    let w = Mat::row_major(w, g.c_out, g.k());
    let y = matmul_into(y, w, Mat::row_major(col, g.k(), g.hw())); // (O, HW)
                                                                   // Bias and ReLU while the image is still in cache, instead of two more passes.
    add_bias_relu(y, bias);
    y
}

/// The weights `(O, C, 3, 3)` as `W'` `(C, O, 9)`, each 3x3 rotated by 180°: the matrix of the
/// input gradient's convolution.
pub(super) fn rotate_weights(w: &[f32], c_out: usize, c_in: usize) -> Vec<f32> {
    let mut flipped = vec![0f32; w.len()];
    for (oc, kernel) in w.chunks_exact(9).enumerate() {
        let (o, c) = (oc / c_in, oc % c_in);
        for (k, &v) in kernel.iter().enumerate() {
            flipped[(c * c_out + o) * 9 + 8 - k] = v;
        }
    }
    flipped
}

/// Floats of scratch memory [`backward_image`] needs for a layer of geometry `g`.
pub(super) fn backward_scratch_len(g: Geometry) -> usize {
    g.out_len() + g.k().max(g.c_out * 9) * g.hw()
}

/// One image's gradients through one layer, given `dy` `(O, HW)`, the gradient of the layer's
/// output `y` `(O, HW)` (after ReLU; `relu_out = Some(y)`), or with `relu_out = None` the
/// gradient already through the ReLU; `x` `(C, HW)` is the layer's input.
/// `acc` = `[dW^T (K, O) | dbias (O)]` gets this image's contributions added; with
/// `input_grad = Some((W', dx))` (the rotated weights `(C, O*9)` and room for `(C, HW)`), `dx` is
/// written whole. `scratch`: [`backward_scratch_len`] floats.
pub(super) fn backward_image(
    g: Geometry,
    x: &[f32],
    relu_out: Option<&[f32]>,
    dy: &[f32],
    input_grad: Option<(&[f32], &mut [MaybeUninit<f32>])>,
    acc: &mut [f32],
    scratch: &mut [f32],
) {
    let (masked, col) = scratch.split_at_mut(g.out_len());
    let (dw_t, db) = acc.split_at_mut(g.c_out * g.k());
    let gi: &[f32] = match relu_out {
        Some(y) => {
            relu_mask_and_bias_grad(masked, dy, y, db);
            masked
        }
        None => {
            bias_grad(dy, db);
            dy
        }
    };

    // dW^T (K, O) += col(x) (K, HW) × g^T (HW, O). Why transposed: gemm copies an operand into
    // panels unless the result's rows are its contiguous direction; this way the operand copied
    // is g^T (O*HW floats), not col (K*HW, nine times more).
    let col_x = &mut col[..g.col_len()];
    im2col(x, g.h, g.w, col_x); // (K, HW)
    let g_t = Mat::row_major(gi, g.c_out, g.hw()).t(); // (HW, O)
    matmul(dw_t, Mat::row_major(col_x, g.k(), g.hw()), g_t, true); // (K, O)

    if let Some((wflip, dx)) = input_grad {
        let col_g = &mut col[..g.c_out * 9 * g.hw()];
        im2col(gi, g.h, g.w, col_g); // (O*9, HW)
        let wf = Mat::row_major(wflip, g.c_in, g.c_out * 9);
        matmul_into(dx, wf, Mat::row_major(col_g, g.c_out * 9, g.hw())); // (C, HW)
    }
}

/// Writes a layer's summed `[dW^T (K, O) | dbias (O)]` as `[dW (O, K) | dbias (O)]` into `out`,
/// every element.
pub(super) fn write_param_grads(g: Geometry, sums: &[f32], out: &mut [MaybeUninit<f32>]) {
    let dw_len = g.c_out * g.k();
    let (dw_t, db) = sums.split_at(dw_len);
    let (dw_out, db_out) = out.split_at_mut(dw_len);
    for (o, row) in dw_out.chunks_exact_mut(g.k()).enumerate() {
        for (k, v) in row.iter_mut().enumerate() {
            v.write(dw_t[k * g.c_out + o]);
        }
    }
    for (v, &d) in db_out.iter_mut().zip(db) {
        v.write(d);
    }
}

/// All gradients of [`Conv3x3Relu`] in one pass over the images: each image's masked output
/// gradient is formed once, in cache, and feeds the bias sum and both gemms.
///
/// Args: `x` `(B, C, H, W)`, `y` `(B, O, H, W)` (the forward's output), `grad` `(B, O, H, W)`.
/// Result, flat: `dx` `(B, C, H, W)` when `wflip` (the rotated weights `(C, O, 9)`) is given,
/// then `dW` `(O, C, 3, 3)`, then `dbias` `(O,)`.
struct Conv3x3ReluGrad {
    wflip: Option<Vec<f32>>,
}

impl CustomOp3 for Conv3x3ReluGrad {
    fn name(&self) -> &'static str {
        "conv3x3-relu-grad"
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
        let (xd, yd) = (l1.dims(), l2.dims());
        let (&[b, c_in, h, wd], &[yb, c_out, yh, yw]) = (xd, yd) else {
            bail!("{name}: expected (B, C, H, W) input and output, got {xd:?} and {yd:?}")
        };
        if (yb, yh, yw) != (b, h, wd) || l3.dims() != yd {
            bail!(
                "{name}: input {xd:?}, output {yd:?} and gradient {:?} disagree",
                l3.dims()
            )
        }
        let (_, g) = geometry(xd, &[c_out, c_in, 3, 3], name)?;
        if self.wflip.as_ref().is_some_and(|wf| wf.len() != c_in * c_out * 9) {
            bail!("{name}: rotated weights do not fit {c_out} x {c_in} channels")
        }
        let (x, y, dy) = (
            f32_slice(s1, l1, name)?,
            f32_slice(s2, l2, name)?,
            f32_slice(s3, l3, name)?,
        );

        let params_len = g.c_out * g.k() + g.c_out;
        let dx_len = if self.wflip.is_some() { b * g.in_len() } else { 0 };
        let total = dx_len + params_len;
        let mut packed = Vec::with_capacity(total); // [dx | dW | dbias], written whole below
        let (dx, rest) = packed.spare_capacity_mut()[..total].split_at_mut(dx_len);
        let sums = for_each_image(b, dx, params_len, backward_scratch_len(g), |i, dx_i, acc, scratch| {
            let input_grad = self.wflip.as_deref().map(|wf| (wf, dx_i));
            let x_i = &x[i * g.in_len()..][..g.in_len()];
            let (y_i, dy_i) = (
                &y[i * g.out_len()..][..g.out_len()],
                &dy[i * g.out_len()..][..g.out_len()],
            );
            backward_image(g, x_i, Some(y_i), dy_i, input_grad, acc, scratch);
        });
        write_param_grads(g, &sums, rest);
        // SAFETY: dx was written whole image by image (by `backward_image`; it is empty without
        // `wflip`), dW and dbias by `write_param_grads`.
        unsafe { packed.set_len(total) };
        Ok((CpuStorage::F32(packed), Shape::from(total)))
    }
}

/// The same memory viewed as possibly-uninitialised floats, for functions that write whole
/// outputs (`route_plane`).
pub(super) fn as_uninit(s: &mut [f32]) -> &mut [MaybeUninit<f32>] {
    // SAFETY: `MaybeUninit<f32>` has the layout of `f32`; the callers only write initialised
    // floats through it, so `s` stays initialised.
    unsafe { &mut *(s as *mut [f32] as *mut [MaybeUninit<f32>]) }
}

/// `y = relu(y + bias[channel])` for one image `(O, HW)`.
///
/// Why `if t > 0.0` and not `t.max(0.0)` (same result, NaN included): `f32::max` must ignore NaN,
/// which wasm's `f32x4.max` does not, so on wasm32 it becomes a scalar `fmaxf` call per element;
/// the comparison vectorises on every target.
#[inline(never)]
fn add_bias_relu(y: &mut [f32], bias: &[f32]) {
    let hw = y.len() / bias.len().max(1);
    for (row, &b) in y.chunks_exact_mut(hw.max(1)).zip(bias) {
        for v in row {
            let t = *v + b;
            *v = if t > 0.0 { t } else { 0.0 };
        }
    }
}

/// One image's output gradient through the ReLU (`g = dy * (y > 0)`, into `g`), and its sum per
/// channel added to `db`. All `(O, HW)` but `db` `(O,)`.
#[inline(never)]
fn relu_mask_and_bias_grad(g: &mut [f32], dy: &[f32], y: &[f32], db: &mut [f32]) {
    for ((m, &d), &v) in g.iter_mut().zip(dy).zip(y) {
        *m = if v > 0.0 { d } else { 0.0 };
    }
    bias_grad(g, db);
}

/// One image's gradient through the ReLU `g` `(O, HW)`, summed per channel into `db` `(O,)`.
fn bias_grad(g: &[f32], db: &mut [f32]) {
    let hw = g.len() / db.len().max(1);
    for (s, row) in db.iter_mut().zip(g.chunks_exact(hw.max(1))) {
        *s += lane_sum(row);
    }
}

/// The sum of `xs`, in eight interleaved partial sums. Why: a plain `iter().sum()` must add in
/// order, which the compiler may not vectorise; eight lanes fill a 256-bit or two 128-bit vectors.
fn lane_sum(xs: &[f32]) -> f32 {
    let mut lanes = [0f32; 8];
    let chunks = xs.chunks_exact(8);
    let tail: f32 = chunks.remainder().iter().sum();
    for c in chunks {
        for (l, v) in lanes.iter_mut().zip(c) {
            *l += v;
        }
    }
    lanes.iter().sum::<f32>() + tail
}
