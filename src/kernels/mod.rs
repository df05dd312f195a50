//! CPU kernels for the model's hot spots: a fused 3x3 convolution (padding 1, stride 1) + bias +
//! ReLU built on im2col + gemm, 2x2 max-pooling, and a whole VGG block (its convs and pool) as
//! one op ([`conv_block`], what the model uses); forward and backward, as candle custom ops.
//! Besides them, [`conv3x3_relu_by_columns`] and the ops it is built from, [`im2col3x3`] and its
//! adjoint [`col2im3x3`], run on the CPU and on CUDA: the model's convolutions on a GPU
//! (`columns` says why).
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

mod block_op;
mod columns;
mod conv_op;
mod im2col;
mod matmul;
#[cfg(feature = "cuda")]
pub(crate) mod nvrtc;
mod pool;
mod recycle;
#[cfg(test)]
mod tests;

use std::cell::RefCell;

use candle_core::{bail, CpuStorage, CustomOp3, DType, Layout, Result, Tensor};

pub use columns::{col2im3x3, conv3x3_relu_by_columns, im2col3x3};

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
    apply_conv("conv3x3_relu", xs, weight, bias, conv_op::Conv3x3Relu)
}

/// A whole VGG block in one op: `relu(conv3x3(·) + bias)` for each `(weight, bias)` layer in
/// turn, then a 2x2 max-pool, with the same gradients as those ops. Why one op, and how its
/// parameters reach it: see `block_op`. The input gradient is computed only when `xs` tracks
/// gradients, as in [`conv3x3_relu`].
///
/// # Shapes
/// `xs`: `(B, C, H, W)`, layer `l`: weight `(O_l, O_{l-1}, 3, 3)` (`O_0 = C`), bias `(O_l,)` →
/// `(B, O_N, H/2, W/2)`.
///
/// # Errors
/// If a tensor is not f32 on the CPU, there are no layers, the shapes do not chain, or the
/// image is smaller than the 2x2 window.
pub fn conv_block(xs: &Tensor, layers: &[(&Tensor, &Tensor)]) -> Result<Tensor> {
    let name = "conv_block";
    let mut c_in = match xs.dims() {
        &[_, c, _, _] => c,
        d => bail!("{name}: expected input (B, C, H, W), got {d:?}"),
    };
    let mut parts = Vec::with_capacity(2 * layers.len());
    let mut widths = Vec::with_capacity(layers.len());
    for &(w, b) in layers {
        for t in [w, b] {
            if !t.device().is_cpu() || t.dtype() != DType::F32 {
                bail!("{name}: needs f32 CPU tensors, got {:?} on {:?}", t.dtype(), t.device())
            }
        }
        let (wd, bd) = (w.dims(), b.dims());
        let &[c_out, c, 3, 3] = wd else {
            bail!("{name}: expected weights (O, C, 3, 3), got {wd:?}")
        };
        if c != c_in || bd != [c_out] {
            bail!("{name}: weights {wd:?} and bias {bd:?} do not follow {c_in} input channels")
        }
        parts.push(w.flatten_all()?);
        parts.push(b.flatten_all()?);
        widths.push(c_out);
        c_in = c_out;
    }
    if layers.is_empty() {
        bail!("{name}: a block needs at least one layer")
    }
    if !xs.device().is_cpu() || xs.dtype() != DType::F32 {
        bail!(
            "{name}: needs f32 CPU tensors, got {:?} on {:?}",
            xs.dtype(),
            xs.device()
        )
    }
    // One flat parameter tensor: custom ops take at most three tensors. `cat` copies a few 10k
    // floats, and its backward hands each variable its slice of the gradient.
    let params = Tensor::cat(&parts, 0)?;
    let keep = xs.track_op() || params.track_op(); // else no backward pass will follow
    xs.contiguous()?
        .apply_op2(&params, block_op::ConvBlock::new(widths, keep))
}

/// Checks that the three tensors are f32 on the CPU, then applies `op` to them.
fn apply_conv(
    name: &str,
    xs: &Tensor,
    weight: &Tensor,
    bias: &Tensor,
    op: impl CustomOp3 + Send + Sync + 'static,
) -> Result<Tensor> {
    for t in [xs, weight, bias] {
        if !t.device().is_cpu() || t.dtype() != DType::F32 {
            bail!("{name}: needs f32 CPU tensors, got {:?} on {:?}", t.dtype(), t.device())
        }
    }
    // The ops read raw slices; `contiguous` is free when the tensor already is.
    xs.contiguous()?
        .apply_op3(&weight.contiguous()?, &bias.contiguous()?, op)
}

/// The contiguous f32 data behind `(storage, layout)`, for the custom ops' `cpu_fwd`.
fn f32_slice<'a>(s: &'a CpuStorage, l: &Layout, op: &str) -> Result<&'a [f32]> {
    let Some((start, end)) = l.contiguous_offsets() else {
        bail!("{op}: expected a contiguous tensor, got strides {:?}", l.stride())
    };
    Ok(&s.as_slice::<f32>()?[start..end])
}

thread_local! {
    /// Each thread's scratch buffer (column matrices, masked gradients), kept between calls:
    /// allocating ~1 MB per image or per op showed up as page faults (a tenth of training time)
    /// in `perf`.
    static SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` on this thread's scratch buffer of `len` floats (unspecified contents).
fn with_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < len {
                buf.resize(len, 0.0);
            }
            f(&mut buf[..len])
        }
        // Only reachable if `f` itself re-entered a kernel on this thread; stay correct.
        Err(_) => f(&mut vec![0f32; len]),
    })
}

/// `max_pool2d(2)` on the CPU or CUDA, with a one-pass backward (the `pool` module says how
/// ties differ from candle's).
///
/// # Shapes
/// `xs`: `(B, C, H, W)` → `(B, C, H/2, W/2)`.
///
/// # Errors
/// If `xs` is not an f32 tensor on the CPU (or CUDA) of rank 4 with sides of at least 2.
pub fn max_pool2x2(xs: &Tensor) -> Result<Tensor> {
    let device_ok = xs.device().is_cpu() || (cfg!(feature = "cuda") && xs.device().is_cuda());
    if !device_ok || xs.dtype() != DType::F32 {
        bail!("max_pool2x2: needs an f32 tensor on the CPU (or CUDA)")
    }
    xs.contiguous()?.apply_op1(pool::MaxPool2x2)
}

/// Images per work item are `ceil(B / GROUPS)`: enough items to keep every thread busy (up to 16),
/// and a number that does not depend on the thread count, so sums over images come out
/// bit-identical whatever the number of threads. (Not across CPUs: `gemm` picks its micro-kernel,
/// and so its rounding, by the CPU's features.)
const GROUPS: usize = 16;

/// Calls `f(i, out_i, acc, scratch)` for every image `i < n` and returns the sum of the `acc`s.
///
/// `out_i` is image `i`'s chunk of `out` (`out.len() / n` elements, empty when `out` is; `out`
/// may be uninitialised memory, `[MaybeUninit<f32>]`, for outputs the images overwrite whole);
/// `acc` is an accumulator of `acc_len` floats, starting at zero, shared by the images of one
/// group; `scratch` holds `scratch_len` floats of unspecified contents. Natively the groups run
/// in parallel on rayon's threads; the partial sums are then added in group order.
fn for_each_image<T, F>(n: usize, out: &mut [T], acc_len: usize, scratch_len: usize, f: F) -> Vec<f32>
where
    T: Send,
    F: Fn(usize, &mut [T], &mut [f32], &mut [f32]) + Send + Sync,
{
    if n == 0 {
        return vec![0.0; acc_len];
    }
    let per_image = out.len() / n;
    // Callers that hand in uninitialised memory rely on every element belonging to an image.
    assert_eq!(per_image * n, out.len(), "for_each_image: output is not n equal chunks");
    let group = n.div_ceil(GROUPS);
    let run = |(g, out_g): (usize, &mut [T])| {
        let mut acc = vec![0f32; acc_len];
        with_scratch(scratch_len, |scratch| {
            for i in g * group..n.min((g + 1) * group) {
                let out_i = if per_image == 0 {
                    &mut [][..]
                } else {
                    &mut out_g[(i - g * group) * per_image..][..per_image]
                };
                f(i, out_i, &mut acc, scratch);
            }
        });
        acc
    };
    let groups = n.div_ceil(group);
    #[cfg(not(target_arch = "wasm32"))]
    use rayon::prelude::*;
    // Both branches collect in group order (rayon's indexed `collect` keeps it).
    let partials: Vec<Vec<f32>> = if per_image == 0 {
        #[cfg(not(target_arch = "wasm32"))]
        let items = (0..groups).into_par_iter();
        #[cfg(target_arch = "wasm32")]
        let items = 0..groups;
        items.map(|g| run((g, &mut [][..]))).collect()
    } else {
        #[cfg(not(target_arch = "wasm32"))]
        let chunks = out.par_chunks_mut(group * per_image);
        #[cfg(target_arch = "wasm32")]
        let chunks = out.chunks_mut(group * per_image);
        chunks.enumerate().map(run).collect()
    };
    let mut partials = partials.into_iter();
    let mut sum = partials.next().unwrap_or_else(|| vec![0.0; acc_len]);
    for p in partials {
        sum.iter_mut().zip(&p).for_each(|(s, v)| *s += v);
    }
    sum
}
