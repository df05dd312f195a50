//! The cost of one AdamW update: candle's `AdamW::step` (a dozen tensor ops per parameter) against
//! the trainer's fused update (`Trainer::apply_update`, one in-place pass; `src/train/adamw.rs`),
//! for the small and the seed model, natively (on wasm32 `main` does nothing).
//!
//! `cargo run --release --example adamw_cost`
#[cfg(not(target_arch = "wasm32"))]
mod native {
    use std::time::Instant;

    use candle_core::backprop::GradStore;
    use candle_core::{DType, Device, Tensor};
    use candle_nn::{AdamW, Optimizer, ParamsAdamW};
    use vgg_mnist::data::{Dataset, IMAGE_PIXELS};
    use vgg_mnist::model::{init_params, param_specs, ModelConfig};
    use vgg_mnist::train::{TrainConfig, Trainer};

    const REPS: u32 = 300;

    fn per_call(mut f: impl FnMut()) -> f64 {
        for _ in 0..20 {
            f();
        }
        let t = Instant::now();
        for _ in 0..REPS {
            f();
        }
        t.elapsed().as_secs_f64() * 1e3 / REPS as f64
    }

    pub fn main() -> anyhow::Result<()> {
        for config in [ModelConfig::small(), ModelConfig::default()] {
            let n: usize = param_specs(&config)
                .iter()
                .map(|p| p.shape.iter().product::<usize>())
                .sum();

            let varmap = init_params(&config, 0, &Device::Cpu)?;
            let vars = varmap.all_vars();
            let mut opt = AdamW::new(vars.clone(), ParamsAdamW::default())?;
            let mut grads = GradStore::default();
            for v in &vars {
                grads.insert(v.as_tensor(), Tensor::ones(v.shape(), DType::F32, &Device::Cpu)?);
            }
            let candle = per_call(|| opt.step(&grads).expect("AdamW step"));

            let data = Dataset {
                images: vec![0; 10 * IMAGE_PIXELS],
                labels: (0..10).collect(),
            };
            let mut trainer = Trainer::new(&config, TrainConfig::default(), data, &Device::Cpu)?;
            let mean = vec![1.0f32; n];
            let fused = per_call(|| trainer.apply_update(1e-3, &mean).expect("update"));

            println!(
                "{:?} ({n} parameters): candle's AdamW {candle:.3} ms, fused {fused:.3} ms per update",
                config.widths
            );
        }
        Ok(())
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn main() -> anyhow::Result<()> {
    native::main()
}

#[cfg(target_arch = "wasm32")]
fn main() {}
