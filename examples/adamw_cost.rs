//! How long candle's AdamW takes for one update of the small and the seed model (native).
use std::time::Instant;

use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Tensor};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use vgg_mnist::model::{init_params, ModelConfig};

fn main() -> candle_core::Result<()> {
    for config in [ModelConfig::small(), ModelConfig::default()] {
        let varmap = init_params(&config, 0, &Device::Cpu)?;
        let vars = varmap.all_vars();
        let mut opt = AdamW::new(vars.clone(), ParamsAdamW::default())?;
        let mut grads = GradStore::default();
        for v in &vars {
            grads.insert(v.as_tensor(), Tensor::ones(v.shape(), DType::F32, &Device::Cpu)?);
        }
        for _ in 0..20 {
            opt.step(&grads)?;
        }
        let n = 500;
        let t = Instant::now();
        for _ in 0..n {
            opt.step(&grads)?;
        }
        println!("{:?}: {:.3} ms per AdamW step", config.widths, t.elapsed().as_secs_f64() * 1e3 / n as f64);
    }
    Ok(())
}
