//! Throughput of the fused conv3x3 + bias + ReLU op, forward and backward, for each layer shape
//! of a model, on the CPU: which layer is furthest from the machine's multiply-add rate.
//!
//! `cargo run --release --example conv_layers [-- W1 W2 [BATCH]]` (default: the seed, 32 64 64).
//! Native only (on wasm32 `main` does nothing: measure the browser with `tests/e2e`).

#[cfg(not(target_arch = "wasm32"))]
mod native {

    use std::time::Instant;

    use candle_core::{DType, Device, Tensor, Var};
    use vgg_mnist::kernels::conv3x3_relu;

    // As in the CLI: glibc's allocator hands multi-megabyte buffers back to the kernel after each
    // use, and the page faults and TLB shootdowns that follow would dwarf the convolution.
    #[global_allocator]
    static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

    pub fn main() -> candle_core::Result<()> {
        let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
        let (w1, w2, b) = match args[..] {
            [w1, w2, b, ..] => (w1, w2, b),
            [w1, w2] => (w1, w2, 64),
            _ => (32, 64, 64),
        };
        let dev = Device::Cpu;
        // (C_in, C_out, side, whether the input gradient is needed)
        let layers = [
            (1, w1, 28, false),
            (w1, w1, 28, true),
            (w1, w2, 14, true),
            (w2, w2, 14, true),
        ];
        println!("layer (C_in→C_out, side)   fwd ms  fwd GFLOP/s   bwd ms  bwd GFLOP/s   (batch {b})");
        for (c_in, c_out, side, needs_dx) in layers {
            let x = Tensor::randn(0f32, 1.0, (b, c_in, side, side), &dev)?;
            let x = if needs_dx {
                Var::from_tensor(&x)?.as_tensor().clone()
            } else {
                x
            };
            let w = Var::from_tensor(&(Tensor::randn(0f32, 1.0, (c_out, c_in, 3, 3), &dev)? * 0.1)?)?;
            let bias = Var::from_tensor(&Tensor::zeros(c_out, DType::F32, &dev)?)?;
            let r = Tensor::randn(0f32, 1.0, (b, c_out, side, side), &dev)?;
            let flops = 2.0 * (b * c_out * c_in * 9 * side * side) as f64;
            let reps = 20;
            // Warm-up, then timed forward passes.
            conv3x3_relu(&x, &w, &bias)?;
            let t = Instant::now();
            for _ in 0..reps {
                conv3x3_relu(&x, &w, &bias)?;
            }
            let fwd = t.elapsed().as_secs_f64() / reps as f64;
            // Backward of loss = sum(y * r), built once: the op's backward plus candle's two
            // element-wise passes for `sum` and `*` (about 1-2 ms at 28x28 x 32 channels).
            let loss = (conv3x3_relu(&x, &w, &bias)? * &r)?.sum_all()?;
            loss.backward()?;
            let t = Instant::now();
            for _ in 0..reps {
                loss.backward()?;
            }
            let bwd = t.elapsed().as_secs_f64() / reps as f64;
            let bwd_flops = flops * if needs_dx { 2.0 } else { 1.0 };
            println!(
                "{c_in:>3}→{c_out:<3} {side:>2}x{side:<2}            {:>7.2} {:>11.1}  {:>7.2} {:>11.1}",
                fwd * 1e3,
                flops / fwd / 1e9,
                bwd * 1e3,
                bwd_flops / bwd / 1e9
            );
        }
        Ok(())
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> candle_core::Result<()> {
    native::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
