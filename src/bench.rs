//! Training and evaluation throughput of the real [`Trainer`], measured the way
//! `shared/bench/torch_reference.py` measures PyTorch, so the two numbers can be divided.
//!
//! Contract: native only (it reads the wall clock, which wasm's `std` lacks). Like the reference:
//! a few untimed warm-up steps, then `batches` timed steps of `batch_size` images with AdamW at a
//! 1e-3 peak rate and no weight decay or augmentation, then one timed pass over the test set.
//! The clock lives here, never inside `Trainer`.

use std::time::Instant;

use candle_core::Device;
use serde::{Deserialize, Serialize};

use crate::data::Mnist;
use crate::model::ModelConfig;
use crate::train::{TrainConfig, TrainError, Trainer, MAX_EPOCHS};

/// What to measure. The default matches the reference script's defaults.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BenchConfig {
    /// Conv widths of the two blocks (`[32, 64]` is the seed model, `[8, 16]` the small one).
    pub widths: [usize; 2],
    pub batch_size: usize,
    /// Timed training steps.
    pub batches: usize,
    /// Untimed steps first, so one-off costs (allocation, thread start-up) are not measured.
    pub warmup: usize,
    pub seed: u64,
}

impl Default for BenchConfig {
    fn default() -> Self {
        Self {
            widths: [32, 64],
            batch_size: 64,
            batches: 200,
            warmup: 3,
            seed: 0,
        }
    }
}

impl BenchConfig {
    /// The model and training settings measured, checked as `train` checks its own.
    fn configs(&self) -> Result<(ModelConfig, TrainConfig), TrainError> {
        if self.batches == 0 {
            return Err(TrainError::Invalid("--batches must be at least 1".into()));
        }
        // Every step is one epoch at most, so this bound holds whatever the training set's size.
        if self
            .warmup
            .checked_add(self.batches)
            .is_none_or(|steps| steps > MAX_EPOCHS)
        {
            return Err(TrainError::Invalid(format!(
                "--warmup {} and --batches {} make more than {MAX_EPOCHS} steps",
                self.warmup, self.batches
            )));
        }
        let model = ModelConfig {
            widths: self.widths,
            ..ModelConfig::default()
        };
        model.validate().map_err(TrainError::Invalid)?;
        let train = TrainConfig {
            // One epoch here; `run_bench` sets as many as the steps need.
            epochs: 1,
            batch_size: self.batch_size,
            lr: 1e-3,
            weight_decay: 0.0,
            seed: self.seed,
            augment: None,
            ..TrainConfig::default()
        };
        train.validate(&model)?;
        Ok((model, train))
    }

    /// Fails, naming the setting, unless these numbers make a run (before any data is read).
    pub fn validate(&self) -> Result<(), TrainError> {
        self.configs().map(|_| ())
    }
}

/// The measurement; field names match the reference script's JSON.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchResult {
    pub framework: String,
    /// `cpu` or `cuda`.
    pub device: String,
    pub threads: usize,
    pub widths: [usize; 2],
    pub batch_size: usize,
    pub train_images: usize,
    pub train_images_per_second: f64,
    pub eval_images_per_second: f64,
    pub test_accuracy: f64,
    pub final_loss: f32,
}

/// Trains `config.batches` timed steps on `data.train` on `device`, then evaluates on
/// `data.test`. On a GPU, whose work is queued, each clock reading waits for the device first.
///
/// # Errors
/// If the config cannot train (zero sizes, empty data) or training diverges.
pub fn run_bench(config: &BenchConfig, data: &Mnist, device: &Device) -> Result<BenchResult, TrainError> {
    let (model, mut train) = config.configs()?;
    let steps = config.warmup + config.batches;
    // Enough epochs that the schedule covers every step we run.
    let per_epoch = data.train.len().div_ceil(config.batch_size.max(1)).max(1);
    train.epochs = steps.div_ceil(per_epoch).max(1);
    let mut trainer = Trainer::new(&model, train, data.train.clone(), device)?;
    for _ in 0..config.warmup {
        trainer.step()?;
    }
    let (mut seen, mut final_loss) = (0, f32::NAN);
    device.synchronize()?;
    let start = Instant::now();
    for _ in 0..config.batches {
        let stats = trainer.step()?;
        seen += stats.batch_size;
        final_loss = stats.loss;
    }
    device.synchronize()?;
    let train_s = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let eval = trainer.evaluate(&data.test)?;
    device.synchronize()?;
    let eval_s = start.elapsed().as_secs_f64();
    Ok(BenchResult {
        framework: format!("vgg-mnist {} (candle)", env!("CARGO_PKG_VERSION")),
        device: if device.is_cuda() { "cuda" } else { "cpu" }.into(),
        threads: rayon::current_num_threads(),
        widths: config.widths,
        batch_size: config.batch_size,
        train_images: seen,
        train_images_per_second: per_second(seen, train_s),
        eval_images_per_second: per_second(data.test.len(), eval_s),
        test_accuracy: eval.accuracy,
        final_loss,
    })
}

/// Images per second, rounded to 0.1 like the reference; 0 when nothing was timed.
fn per_second(images: usize, seconds: f64) -> f64 {
    if seconds > 0.0 {
        (images as f64 / seconds * 10.0).round() / 10.0
    } else {
        0.0
    }
}
