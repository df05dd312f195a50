//! CPU kernels for the model's hot spot: a fused 3x3 convolution (padding 1, stride 1) + bias +
//! ReLU, forward and backward, as candle custom ops built on im2col + gemm.
//!
//! Contract: [`conv3x3_relu`] computes exactly what candle's
//! `relu(x.conv2d(w, 1, 1, 1, 1) + bias)` computes (to float rounding), with gradients for the
//! input, the weights and the bias, on `Device::Cpu` with f32 tensors. Natively the images of a
//! batch are spread over rayon's threads; on wasm32 everything runs on the calling thread.
//! Why not candle's `conv2d`: its CPU backward runs a direct transposed convolution and a weight
//! gradient convolution with a 28x28 kernel, several times slower than the gemms used here.
//!
//! ```
//! use candle_core::{Device, Tensor};
//! let dev = Device::Cpu;
//! let xs = Tensor::ones((2, 1, 28, 28), candle_core::DType::F32, &dev)?;
//! let w = Tensor::ones((8, 1, 3, 3), candle_core::DType::F32, &dev)?;
//! let b = Tensor::zeros(8, candle_core::DType::F32, &dev)?;
//! let ys = vgg_mnist::kernels::conv3x3_relu(&xs, &w, &b)?; // (2, 8, 28, 28)
//! assert_eq!(ys.dims(), &[2, 8, 28, 28]);
//! # Ok::<(), candle_core::Error>(())
//! ```

mod conv_op;
mod im2col;
#[cfg(test)]
mod tests;

use candle_core::{bail, DType, Result, Tensor};

/// `relu(conv3x3(xs, weight) + bias)` with padding 1 and stride 1, on the CPU.
///
/// The gradient with respect to `xs` is only computed when `xs` tracks gradients (a variable or
/// the result of tracked ops); for the network's input images it is skipped.
///
/// # Shapes
/// `xs`: `(B, C_in, H, W)`, `weight`: `(C_out, C_in, 3, 3)`, `bias`: `(C_out,)` →
/// `(B, C_out, H, W)`.
///
/// # Errors
/// If a tensor is not f32 on the CPU, or the shapes do not fit together.
pub fn conv3x3_relu(xs: &Tensor, weight: &Tensor, bias: &Tensor) -> Result<Tensor> {
    for t in [xs, weight, bias] {
        if !t.device().is_cpu() || t.dtype() != DType::F32 {
            bail!(
                "conv3x3_relu: needs f32 CPU tensors, got {:?} on {:?}",
                t.dtype(),
                t.device()
            )
        }
    }
    // The ops read raw slices; `contiguous` is free when the tensor already is.
    xs.contiguous()?.apply_op3(
        &weight.contiguous()?,
        &bias.contiguous()?,
        conv_op::Conv3x3Relu,
    )
}

/// Calls `f(i, out_i, scratch)` for every image `i`, where `out_i` is the `i`-th chunk of
/// `per_image` elements of `out` and `scratch` holds `scratch_len` floats of reusable, unspecified
/// contents. Images run in parallel natively.
#[cfg(not(target_arch = "wasm32"))]
fn for_each_image<F>(out: &mut [f32], per_image: usize, scratch_len: usize, f: F)
where
    F: Fn(usize, &mut [f32], &mut [f32]) + Send + Sync,
{
    use rayon::prelude::*;
    out.par_chunks_mut(per_image.max(1))
        .enumerate()
        .for_each_init(|| vec![0f32; scratch_len], |col, (i, o)| f(i, o, col));
}

#[cfg(target_arch = "wasm32")]
fn for_each_image<F>(out: &mut [f32], per_image: usize, scratch_len: usize, f: F)
where
    F: Fn(usize, &mut [f32], &mut [f32]),
{
    let mut col = vec![0f32; scratch_len];
    for (i, o) in out.chunks_mut(per_image.max(1)).enumerate() {
        f(i, o, &mut col);
    }
}

/// Sums `len`-element contributions of images `0..n`: `f(i, acc, scratch)` must add image `i`'s
/// into `acc`. Natively, each thread accumulates its own partial sum, then the partials are added.
#[cfg(not(target_arch = "wasm32"))]
fn sum_over_images<F>(n: usize, len: usize, scratch_len: usize, f: F) -> Vec<f32>
where
    F: Fn(usize, &mut [f32], &mut [f32]) + Send + Sync,
{
    use rayon::prelude::*;
    (0..n)
        .into_par_iter()
        .fold(
            || (vec![0f32; len], vec![0f32; scratch_len]),
            |(mut acc, mut col), i| {
                f(i, &mut acc, &mut col);
                (acc, col)
            },
        )
        .map(|(acc, _)| acc)
        .reduce(
            || vec![0f32; len],
            |mut a, b| {
                a.iter_mut().zip(&b).for_each(|(a, b)| *a += b);
                a
            },
        )
}

#[cfg(target_arch = "wasm32")]
fn sum_over_images<F>(n: usize, len: usize, scratch_len: usize, f: F) -> Vec<f32>
where
    F: Fn(usize, &mut [f32], &mut [f32]),
{
    let (mut acc, mut col) = (vec![0f32; len], vec![0f32; scratch_len]);
    for i in 0..n {
        f(i, &mut acc, &mut col);
    }
    acc
}
