//! Single-thread throughput of `gemm` on one image's products of the seed model's conv layers,
//! in each layout the weight gradient could use, next to the forward product: how fast the
//! multiplications alone can go, to compare with whole layers (`examples/conv_layers.rs`).
//!
//! `cargo run --release --example gemm_shapes` (native only).

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::time::Instant;

    /// `dst (m, n) (+)= lhs (m, k) × rhs (k, n)`; each matrix given with (row, column) strides.
    #[allow(clippy::too_many_arguments)]
    fn mm(
        (m, n, k): (usize, usize, usize),
        dst: &mut [f32],
        (d_rs, d_cs): (usize, usize),
        lhs: &[f32],
        (l_rs, l_cs): (usize, usize),
        rhs: &[f32],
        (r_rs, r_cs): (usize, usize),
        acc: bool,
    ) {
        assert!((m - 1) * d_rs + (n - 1) * d_cs < dst.len());
        assert!((m - 1) * l_rs + (k - 1) * l_cs < lhs.len());
        assert!((k - 1) * r_rs + (n - 1) * r_cs < rhs.len());
        // SAFETY: the asserts keep every index in bounds; `dst` is borrowed mutably.
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                dst.as_mut_ptr(),
                d_cs as isize,
                d_rs as isize,
                acc,
                lhs.as_ptr(),
                l_cs as isize,
                l_rs as isize,
                rhs.as_ptr(),
                r_cs as isize,
                r_rs as isize,
                1.0,
                1.0,
                false,
                false,
                false,
                gemm::Parallelism::None,
            )
        }
    }

    pub fn main() {
        println!("GFLOP/s on one thread; K = C*9, per image (the ops call gemm once per image)");
        for (c, o, hw) in [(1usize, 32usize, 784usize), (32, 32, 784), (32, 64, 196), (64, 64, 196)] {
            let k = c * 9;
            let (col, g, g_t, w) = (
                vec![0.5f32; k * hw],
                vec![0.25f32; o * hw],
                vec![0.25f32; hw * o],
                vec![0.1f32; o * k],
            );
            let (mut dw_t, mut dw, mut y) = (vec![0f32; k * o], vec![0f32; o * k], vec![0f32; o * hw]);
            let reps = 300;
            let flops = 2.0 * (k * o * hw * reps) as f64;
            let rate = |f: &mut dyn FnMut()| {
                f();
                let t = Instant::now();
                for _ in 0..reps {
                    f();
                }
                flops / t.elapsed().as_secs_f64() / 1e9
            };
            // What the ops do: dW^T (K, O) = col (K, HW) × g^T, g^T a view of g (O, HW).
            let ours = rate(&mut || mm((k, o, hw), &mut dw_t, (o, 1), &col, (hw, 1), &g, (1, hw), true));
            // dW (O, K) = g (O, HW) × col^T.
            let dw_rate = rate(&mut || mm((o, k, hw), &mut dw, (k, 1), &g, (hw, 1), &col, (1, hw), true));
            // dW^T with g^T copied out row-major first (copy not timed).
            let copied = rate(&mut || mm((k, o, hw), &mut dw_t, (o, 1), &col, (hw, 1), &g_t, (o, 1), true));
            // Forward: y (O, HW) = W (O, K) × col (K, HW).
            let fwd = rate(&mut || mm((o, hw, k), &mut y, (hw, 1), &w, (k, 1), &col, (hw, 1), false));
            println!(
                "C={c:>2} O={o:>2} HW={hw:>3}: forward {fwd:>5.1} | dW^T = col x g^T (ours) {ours:>5.1} | \
                 dW = g x col^T {dw_rate:>5.1} | dW^T with g^T copied {copied:>5.1}"
            );
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    native::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
