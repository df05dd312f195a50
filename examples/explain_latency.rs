//! How long `Predictor::explain` takes next to a prediction, natively, for the shipped seed
//! model and the small 8/16 one (random weights: the time does not depend on them).
//!
//! `cargo run --release --example explain_latency [-- N]` (N test images, default 100).
//! Native only (on wasm32 `main` does nothing).

#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::time::Instant;

    use anyhow::{Context, Result};
    use candle_core::Device;
    use vgg_mnist::checkpoint;
    use vgg_mnist::data::{Dataset, TEST_IMAGES, TEST_LABELS};
    use vgg_mnist::model::{init_params, ModelConfig};
    use vgg_mnist::predictor::Predictor;
    use vgg_mnist::preprocess::Digit;

    #[global_allocator]
    static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

    pub fn main() -> Result<()> {
        let n: usize = std::env::args().nth(1).map_or(Ok(100), |a| a.parse())?;
        let read = |f: &str| std::fs::read(format!("www/data/{f}")).with_context(|| format!("reading {f}"));
        let test = Dataset::from_idx(TEST_IMAGES, &read(TEST_IMAGES)?, TEST_LABELS, &read(TEST_LABELS)?)?;
        let digits: Vec<Digit> = (0..n.min(test.len()))
            .map(|i| std::array::from_fn(|p| f32::from(test.image(i)[p]) / 255.0))
            .collect();
        let shipped = Predictor::from_bytes(&std::fs::read("www/model/vgg-mnist.safetensors")?)?;
        let small_config = ModelConfig::small();
        let small = Predictor::from_bytes(&checkpoint::to_bytes(
            &init_params(&small_config, 0, &Device::Cpu)?,
            &small_config,
        )?)?;
        for (name, p) in [("seed 32/64 (shipped)", &shipped), ("small 8/16", &small)] {
            // One warm-up of each, so first-call allocations are not counted.
            p.predict_digit(&digits[0])?;
            p.explain(&digits[0])?;
            let (mut predict, mut explain) = (Vec::new(), Vec::new());
            for d in &digits {
                let t = Instant::now();
                p.predict_digit(d)?;
                predict.push(t.elapsed().as_secs_f64() * 1e3);
                let t = Instant::now();
                p.explain(d)?;
                explain.push(t.elapsed().as_secs_f64() * 1e3);
            }
            println!(
                "{name}: predict median {:.2} ms, explain median {:.2} ms (max {:.2}) over {} images",
                median(&mut predict),
                median(&mut explain),
                explain.iter().copied().fold(0.0, f64::max),
                digits.len()
            );
        }
        Ok(())
    }

    fn median(v: &mut [f64]) -> f64 {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> anyhow::Result<()> {
    native::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
