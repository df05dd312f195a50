//! `Conv3x3`: a 3x3 convolution with padding 1 and bias, followed by ReLU, and the VGG block
//! built from such layers and a 2x2 max-pool.
//!
//! Contract: the one place where the model picks its convolution implementation. On CPU (native
//! and wasm) it uses the project's own fused im2col + gemm kernels ([`crate::kernels`]): a whole
//! block (its convs and max-pool) as one op for training and prediction, and one op per layer
//! where the layers' outputs are wanted on their own ([`Conv3x3::forward_relu`]). Elsewhere (CUDA)
//! a layer is the weights times the column matrix ([`crate::kernels::conv3x3_relu_by_columns`]:
//! the bias written into the output, one strided-batched cuBLAS product, then candle's ReLU),
//! whose gradients are two products and one gather (candle's own `conv2d` backward was about
//! half of the GPU's time), and the pool is the kernels' op on CUDA too. Both compute the same function with the same gradients (the
//! kernels' tests check this).

use candle_core::{bail, Result, Tensor};
use candle_nn::VarBuilder;

#[derive(Clone, Debug)]
pub struct Conv3x3 {
    weight: Tensor, // (C_out, C_in, 3, 3)
    bias: Tensor,   // (C_out,)
}

impl Conv3x3 {
    pub fn new(c_in: usize, c_out: usize, vb: VarBuilder) -> Result<Self> {
        let weight = vb.get((c_out, c_in, 3, 3), "weight")?;
        let bias = vb.get(c_out, "bias")?;
        Ok(Self { weight, bias })
    }

    /// The same layer over the same weights, tracking no gradients (no copy is made).
    pub fn detach(&self) -> Self {
        Self {
            weight: self.weight.detach(),
            bias: self.bias.detach(),
        }
    }

    /// The weights `(C_out, C_in, 3, 3)`.
    pub fn weight(&self) -> &Tensor {
        &self.weight
    }

    /// This layer alone: `relu(conv3x3(xs) + bias)`.
    ///
    /// # Shapes
    /// `xs`: `(B, C_in, H, W)` → `(B, C_out, H, W)`.
    pub fn forward_relu(&self, xs: &Tensor) -> Result<Tensor> {
        if xs.device().is_cpu() {
            return crate::kernels::conv3x3_relu(xs, &self.weight, &self.bias);
        }
        crate::kernels::conv3x3_relu_by_columns(xs, &self.weight, &self.bias)
    }
}

/// The block's 2x2 max-pool on its own (stride 2), for where the layers' outputs are wanted one
/// by one, and for the CUDA block: the kernels' op (its gradient goes whole to each window's
/// first maximum).
///
/// # Shapes
/// `xs`: `(B, C, H, W)` → `(B, C, H/2, W/2)`.
pub fn max_pool2x2(xs: &Tensor) -> Result<Tensor> {
    crate::kernels::max_pool2x2(xs)
}

/// A VGG block: `convs` in turn (each with its ReLU), then a 2x2 max-pool.
///
/// # Shapes
/// `xs`: `(B, C, H, W)` → `(B, C_out of the last conv, H/2, W/2)`.
///
/// # Errors
/// If `convs` is empty (the model never builds such a block), or as the ops.
pub fn block_forward(convs: &[Conv3x3], xs: &Tensor) -> Result<Tensor> {
    if convs.is_empty() {
        bail!("a VGG block needs at least one conv layer")
    }
    if xs.device().is_cpu() {
        // One op for the whole block: the activations' gradients between its layers never
        // become tensors, and each image passes through the block while it is in cache.
        let layers: Vec<(&Tensor, &Tensor)> = convs.iter().map(|c| (&c.weight, &c.bias)).collect();
        return crate::kernels::conv_block(xs, &layers);
    }
    let mut xs = xs.clone();
    for conv in convs {
        xs = conv.forward_relu(&xs)?; // (B, C_out, H, W)
    }
    max_pool2x2(&xs)
}
