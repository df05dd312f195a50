//! The candle custom op behind [`super::conv3x3_relu_pool`]: a conv3x3 + bias + ReLU layer and
//! the 2x2 max-pool after it, as one op.
//!
//! Contract: computes exactly `max_pool2x2(conv3x3_relu(x, w, bias))` with the same gradients
//! (tested against the two ops); CPU, f32, contiguous inputs, errors as [`super::conv_op`]'s.

use std::sync::{Arc, Mutex};

use candle_core::{bail, CpuStorage, CustomOp3, Error, Layout, Result, Shape, Tensor};

use super::conv_op::{rotated_weights, split_grads, Conv3x3Relu, Conv3x3ReluGrad};
use super::for_each_image;
use super::pool::pool_plane;

/// `max_pool2x2(relu(conv3x3(x, w) + bias))` in one op. Args: `x`, `w`, `bias`.
///
/// Why: as two ops, the un-pooled activation's gradient `(B, O, H, W)`, the largest tensor of a
/// step, is materialised, and candle's autograd allocates a zero tensor for it and adds it into
/// a second one (`GradStore::or_insert`). Here each image's un-pooled gradient is formed in
/// scratch memory inside the backward pass. The un-pooled activation is kept in the op, as the
/// graph would keep it between two ops.
pub struct Conv3x3ReluPool {
    activation: Mutex<Option<Arc<Vec<f32>>>>,
}

impl Default for Conv3x3ReluPool {
    fn default() -> Self {
        Self {
            activation: Mutex::new(None),
        }
    }
}

impl CustomOp3 for Conv3x3ReluPool {
    fn name(&self) -> &'static str {
        "conv3x3-relu-pool"
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
        let (CpuStorage::F32(y), shape) = Conv3x3Relu.cpu_fwd(s1, l1, s2, l2, s3, l3)? else {
            bail!("{}: the convolution returned another dtype", self.name())
        };
        let &[b, o, h, w] = shape.dims() else {
            bail!("{}: unexpected output shape {shape:?}", self.name())
        };
        if h < 2 || w < 2 {
            bail!("{}: image {h}x{w} is smaller than the 2x2 window", self.name())
        }
        let (oh, ow) = (h / 2, w / 2);
        let len = b * o * oh * ow;
        let mut pooled = Vec::with_capacity(len); // (B, O, H/2, W/2), written whole below
        for_each_image(b, &mut pooled.spare_capacity_mut()[..len], 0, 0, |i, p_i, _, _| {
            let y_i = &y[i * o * h * w..][..o * h * w];
            for (plane, out) in y_i.chunks_exact(h * w).zip(p_i.chunks_exact_mut(oh * ow)) {
                pool_plane(plane, h, w, out);
            }
        });
        // SAFETY: `pool_plane` wrote every output of every plane of every image.
        unsafe { pooled.set_len(len) };
        *self
            .activation
            .lock()
            .map_err(|_| Error::Msg(format!("{}: poisoned lock", self.name())))? = Some(Arc::new(y));
        Ok((CpuStorage::F32(pooled), Shape::from((b, o, oh, ow))))
    }

    fn bwd(
        &self,
        x: &Tensor,
        w: &Tensor,
        bias: &Tensor,
        pooled: &Tensor,
        grad: &Tensor,
    ) -> Result<(Option<Tensor>, Option<Tensor>, Option<Tensor>)> {
        let activation = self
            .activation
            .lock()
            .map_err(|_| Error::Msg(format!("{}: poisoned lock", self.name())))?
            .clone();
        let Some(activation) = activation else {
            bail!("{}: backward without a forward pass", self.name())
        };
        let op = Conv3x3ReluGrad {
            wflip: rotated_weights(x, w)?,
            activation: Some(activation),
        };
        let packed = x.apply_op3_no_bwd(pooled, &grad.contiguous()?, &op)?;
        split_grads(&packed, x, w, bias)
    }
}
