//! The candle custom op behind [`super::conv_block`]: a whole VGG block, N conv3x3 + bias + ReLU
//! layers and the 2x2 max-pool after them, as one op over the block's input and parameters.
//!
//! Contract: computes exactly `max_pool2x2(conv3x3_relu(… conv3x3_relu(x, w_1, b_1) …, w_N,
//! b_N))` with the same gradients (tested against those ops); CPU, f32, contiguous inputs; any
//! other shape is a `candle_core::Error`, never a panic.
//!
//! Why one op: between separate ops, each intermediate activation's gradient `(B, O, H, W)` is a
//! tensor (6.4 MB per step after the seed model's first conv), for which candle's autograd
//! allocates a zero-filled tensor and then adds the incoming gradient into a second new one
//! (`GradStore::or_insert`), and every layer's forward and backward is a separate pass over the
//! batch. Here one image goes through the whole block, forward and then backward, while its
//! activations are in cache, and the gradients between the layers live in per-thread scratch.
//!
//! The parameters arrive as ONE flat tensor `[W_1 (O_1, C, 3, 3) | b_1 | W_2 | b_2 | …]` because
//! candle's custom ops take at most three tensors; the public wrapper concatenates the variables
//! and candle's `cat` backward splits the gradient again (a few 10k floats).
//!
//! ```text
//! saved by the forward, per image:  [ y_1 (O_1, H, W) | … | y_N (O_N, H, W) | pooled (O_N, H/2, W/2) ]
//! backward, per image:  dy_N = route(pooled grad)   then for l = N … 1:
//!     g_l = dy_l ⊙ (y_l > 0)  (for l = N while routing);  dW_l^T += col(y_{l-1}) g_l^T;  db_l += Σ g_l;
//!     dy_{l-1} = W_l' × col(g_l)        (y_0 = x; for l = 1 only if x needs a gradient)
//! ```

use std::mem::MaybeUninit;
use std::sync::{Arc, Mutex};

use candle_core::{bail, CpuStorage, CustomOp2, Error, Layout, Result, Shape, Tensor};

use super::conv_op::{
    as_uninit, backward_image, backward_scratch_len, forward_image, rotate_weights, unpack_grads, write_param_grads,
};
use super::f32_slice;
use super::for_each_image;
use super::im2col::Geometry;
use super::pool::{pool_plane, route_plane};
use super::recycle::Recycled;

/// Sizes and offsets of a block, derived from the input's shape and the layers' output widths.
struct Plan {
    batch: usize,
    layers: Vec<Geometry>,
    /// Where each layer's `[W | b]` starts in the flat parameters (and in their gradient).
    param_at: Vec<usize>,
    params_len: usize,
    /// Where each layer's output starts in an image's saved record; the pooled output follows.
    saved_at: Vec<usize>,
    pooled_at: usize,
    /// Floats of one image's saved record.
    stride: usize,
}

impl Plan {
    fn new(x: &[usize], widths: &[usize], params_len: usize, op: &str) -> Result<Self> {
        let &[batch, c, h, w] = x else {
            bail!("{op}: expected input (B, C, H, W), got {x:?}")
        };
        if widths.is_empty() || widths.contains(&0) || c == 0 {
            bail!("{op}: a block needs layers with channels (input {x:?}, widths {widths:?})")
        }
        if h < 2 || w < 2 {
            bail!("{op}: image {h}x{w} is smaller than the 2x2 window")
        }
        let (mut layers, mut param_at, mut saved_at) = (Vec::new(), Vec::new(), Vec::new());
        let (mut c_in, mut p, mut s) = (c, 0, 0);
        for &c_out in widths {
            let g = Geometry { c_in, c_out, h, w };
            param_at.push(p);
            saved_at.push(s);
            p += c_out * g.k() + c_out;
            s += g.out_len();
            layers.push(g);
            c_in = c_out;
        }
        if p != params_len {
            bail!("{op}: {params_len} parameters do not fit layers {widths:?} on {c} input channels")
        }
        let pooled_len = c_in * (h / 2) * (w / 2);
        Ok(Self {
            batch,
            layers,
            param_at,
            params_len,
            saved_at,
            pooled_at: s,
            stride: s + pooled_len,
        })
    }

    fn last(&self) -> Geometry {
        self.layers[self.layers.len() - 1]
    }

    /// Floats of one pooled output image `(O_N, H/2, W/2)`.
    fn pooled_len(&self) -> usize {
        self.stride - self.pooled_at
    }
}

/// The block. Args: `x` `(B, C, H, W)`, the flat parameters; output `(B, O_N, H/2, W/2)`.
pub struct ConvBlock {
    /// Output channels of each layer.
    widths: Vec<usize>,
    /// Whether to keep the activations for a backward pass (false when no input tracks
    /// gradients: candle then never calls `bwd`).
    keep: bool,
    /// The forward's per-image records (see the module doc), kept for the backward pass as the
    /// graph would keep the activations between separate ops.
    saved: Mutex<Option<Arc<Recycled>>>,
}

impl ConvBlock {
    pub fn new(widths: Vec<usize>, keep: bool) -> Self {
        Self {
            widths,
            keep,
            saved: Mutex::new(None),
        }
    }

    fn saved(&self) -> Result<std::sync::MutexGuard<'_, Option<Arc<Recycled>>>> {
        self.saved
            .lock()
            .map_err(|_| Error::Msg(format!("{}: poisoned lock", self.name())))
    }
}

impl CustomOp2 for ConvBlock {
    fn name(&self) -> &'static str {
        "conv3x3-relu-block-pool"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let name = self.name();
        let plan = Plan::new(l1.dims(), &self.widths, l2.shape().elem_count(), name)?;
        let (x, params) = (f32_slice(s1, l1, name)?, f32_slice(s2, l2, name)?);
        let (in_len, last) = (plan.layers[0].in_len(), plan.last());
        let col_len = plan.layers.iter().map(Geometry::col_len).max().unwrap_or(0);

        let pooled_len = plan.batch * plan.pooled_len();
        let mut pooled = Vec::with_capacity(pooled_len); // (B, O_N, H/2, W/2), written whole below
        if !self.keep {
            // Nothing will ask for gradients (evaluation): the layers' outputs live in scratch.
            let out = &mut pooled.spare_capacity_mut()[..pooled_len];
            for_each_image(plan.batch, out, 0, col_len + plan.pooled_at, |i, p_i, _, scratch| {
                let (col, ys) = scratch.split_at_mut(col_len);
                forward_block_image(&plan, params, &x[i * in_len..][..in_len], as_uninit(ys), p_i, col);
            });
        } else {
            // Per image [y_1 | … | y_N | pooled]; recycled memory, so that the kernel does not
            // fault in and zero fresh pages for it every step.
            let len = plan.batch * plan.stride;
            let mut saved = Recycled::with_capacity(len);
            let buf = saved.vec_mut();
            let records = &mut buf.spare_capacity_mut()[..len];
            for_each_image(plan.batch, records, 0, col_len, |i, rec, _, col| {
                let (ys, p_i) = rec.split_at_mut(plan.pooled_at);
                forward_block_image(&plan, params, &x[i * in_len..][..in_len], ys, p_i, col);
            });
            // SAFETY: `forward_block_image` wrote every image's record whole.
            unsafe { buf.set_len(len) };
            let out = pooled.spare_capacity_mut()[..pooled_len].chunks_exact_mut(plan.pooled_len());
            for (rec, out) in saved.chunks_exact(plan.stride).zip(out) {
                for (p, &v) in out.iter_mut().zip(&rec[plan.pooled_at..]) {
                    p.write(v);
                }
            }
            *self.saved()? = Some(Arc::new(saved));
        }
        // SAFETY: every image's pooled output was written whole, by `forward_block_image` or
        // copied from its record.
        unsafe { pooled.set_len(pooled_len) };
        let shape = Shape::from((plan.batch, last.c_out, last.h / 2, last.w / 2));
        Ok((CpuStorage::F32(pooled), shape))
    }

    fn bwd(
        &self,
        x: &Tensor,
        params: &Tensor,
        _pooled: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>)> {
        let Some(saved) = self.saved()?.clone() else {
            bail!("{}: backward without a forward pass", self.name())
        };
        let plan = Plan::new(x.dims(), &self.widths, params.elem_count(), self.name())?;
        let p = params.flatten_all()?.to_vec1::<f32>()?;
        // The rotated weights of every layer whose input gradient is needed: all but the first
        // always (they feed the layer before), the first only when `x` tracks gradients (a leaf
        // that is not a variable, such as the network's input images, does not).
        let wflips = plan
            .layers
            .iter()
            .zip(&plan.param_at)
            .enumerate()
            .map(|(l, (g, &at))| {
                (l > 0 || x.track_op()).then(|| rotate_weights(&p[at..][..g.c_out * g.k()], g.c_out, g.c_in))
            })
            .collect();
        let op = ConvBlockGrad {
            widths: self.widths.clone(),
            params_len: plan.params_len,
            wflips,
            saved,
        };
        let packed = x.apply_op2_no_bwd(&grad.contiguous()?, &op)?;

        // packed = [dx (if computed) | parameter gradients]
        let (dx, dp) = unpack_grads(&packed, x, &[params])?;
        Ok((dx, dp.into_iter().next().flatten()))
    }
}

/// One image `x` `(C, H, W)` forward through the block: each layer's output into `ys`
/// (`[y_1 | … | y_N]`, `plan.pooled_at` floats), the pooled output into `pooled`, both written
/// whole; `col` is scratch for the largest column matrix.
fn forward_block_image(
    plan: &Plan,
    params: &[f32],
    x: &[f32],
    ys: &mut [MaybeUninit<f32>],
    pooled: &mut [MaybeUninit<f32>],
    col: &mut [f32],
) {
    let (mut input, mut rest) = (x, ys);
    for (&g, &at) in plan.layers.iter().zip(&plan.param_at) {
        let (w, bias) = params[at..][..g.c_out * g.k() + g.c_out].split_at(g.c_out * g.k());
        let (y, after) = std::mem::take(&mut rest).split_at_mut(g.out_len());
        rest = after;
        input = forward_image(g, input, w, bias, col, y); // (O, HW)
    }
    let last = plan.last();
    let planes = input
        .chunks_exact(last.hw())
        .zip(pooled.chunks_exact_mut(plan.pooled_len() / last.c_out));
    for (plane, out) in planes {
        pool_plane(plane, last.h, last.w, out);
    }
}

/// Every gradient of [`ConvBlock`] in one pass over the images. Args: `x` `(B, C, H, W)` and the
/// pooled output's gradient `(B, O_N, H/2, W/2)`. Result, flat: `dx` `(B, C, H, W)` when the first
/// layer's rotated weights are given, then the parameters' gradient in their flat layout.
struct ConvBlockGrad {
    widths: Vec<usize>,
    /// Floats of the flat parameters (as the forward's plan found them).
    params_len: usize,
    /// Per layer, the rotated weights `(C, O*9)` when its input gradient is computed.
    wflips: Vec<Option<Vec<f32>>>,
    saved: Arc<Recycled>,
}

impl CustomOp2 for ConvBlockGrad {
    fn name(&self) -> &'static str {
        "conv3x3-relu-block-pool-grad"
    }

    fn cpu_fwd(&self, s1: &CpuStorage, l1: &Layout, s2: &CpuStorage, l2: &Layout) -> Result<(CpuStorage, Shape)> {
        let name = self.name();
        let plan = Plan::new(l1.dims(), &self.widths, self.params_len, name)?;
        let last = plan.last();
        let expected = [plan.batch, last.c_out, last.h / 2, last.w / 2];
        let wflips_fit = self.wflips.len() == plan.layers.len()
            && self
                .wflips
                .iter()
                .zip(&plan.layers)
                .enumerate()
                .all(|(l, (wf, g))| match wf {
                    Some(wf) => wf.len() == g.c_out * g.k(),
                    None => l == 0,
                });
        if l2.dims() != expected || self.saved.len() != plan.batch * plan.stride || !wflips_fit {
            bail!(
                "{name}: input {:?}, gradient {:?} and saved forward disagree",
                l1.dims(),
                l2.dims()
            )
        }
        let (x, dy) = (f32_slice(s1, l1, name)?, f32_slice(s2, l2, name)?);
        let saved = &self.saved[..];

        let first = plan.layers[0];
        let dx_len = if self.wflips[0].is_some() {
            plan.batch * first.in_len()
        } else {
            0
        };
        let total = dx_len + plan.params_len;
        let mut packed = Vec::with_capacity(total); // [dx | dW_1 | db_1 | …], written whole below
        let (dx, rest) = packed.spare_capacity_mut()[..total].split_at_mut(dx_len);
        // Scratch: two gradient buffers (the current layer's output gradient, and its input
        // gradient, the next one's), then `backward_image`'s own.
        let grad_len = plan.layers.iter().map(Geometry::out_len).max().unwrap_or(0);
        let layer_scratch = plan.layers.iter().map(|&g| backward_scratch_len(g)).max().unwrap_or(0);
        let pooled_len = plan.pooled_len();
        let sums = for_each_image(
            plan.batch,
            dx,
            plan.params_len,
            2 * grad_len + layer_scratch,
            |i, dx_i, acc, scratch| {
                let rec = &saved[i * plan.stride..][..plan.stride];
                let (mut cur, rest) = scratch.split_at_mut(grad_len);
                let (mut next, layer_scratch) = rest.split_at_mut(grad_len);

                // The pool's and the last ReLU's backward, into the last layer's gradient.
                let y_last = &rec[plan.saved_at[plan.layers.len() - 1]..][..last.out_len()];
                let (pooled, gp) = (&rec[plan.pooled_at..], &dy[i * pooled_len..][..pooled_len]);
                let plane = pooled_len / last.c_out;
                let routes = y_last
                    .chunks_exact(last.hw())
                    .zip(as_uninit(&mut cur[..last.out_len()]).chunks_exact_mut(last.hw()))
                    .zip(pooled.chunks_exact(plane).zip(gp.chunks_exact(plane)));
                for ((y, out), (p, g)) in routes {
                    route_plane::<true>(y, last.h, last.w, p, g, out);
                }

                let mut dx_i = Some(dx_i);
                for (l, &g) in plan.layers.iter().enumerate().rev() {
                    let input = match l {
                        0 => &x[i * g.in_len()..][..g.in_len()],
                        _ => &rec[plan.saved_at[l - 1]..][..g.in_len()],
                    };
                    // The last layer's gradient is already through its ReLU (`route_plane`).
                    let y = (l + 1 < plan.layers.len()).then(|| &rec[plan.saved_at[l]..][..g.out_len()]);
                    let input_grad = self.wflips[l].as_deref().and_then(|wf| match l {
                        0 => dx_i.take().map(|dx| (wf, dx)),
                        _ => Some((wf, as_uninit(&mut next[..g.in_len()]))),
                    });
                    let acc_l = &mut acc[plan.param_at[l]..][..g.c_out * g.k() + g.c_out];
                    backward_image(g, input, y, &cur[..g.out_len()], input_grad, acc_l, layer_scratch);
                    std::mem::swap(&mut cur, &mut next);
                }
            },
        );
        for (&g, &at) in plan.layers.iter().zip(&plan.param_at) {
            let n = g.c_out * g.k() + g.c_out;
            write_param_grads(g, &sums[at..][..n], &mut rest[at..][..n]);
        }
        // SAFETY: dx was written whole image by image (by `backward_image`; it is empty without
        // the first layer's rotated weights), every layer's parameter gradient just above.
        unsafe { packed.set_len(total) };
        Ok((CpuStorage::F32(packed), Shape::from(total)))
    }
}
