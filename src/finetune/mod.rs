//! "Teach it my handwriting": fine-tunes a trained model on the user's own digits without
//! losing what it knows about MNIST. The one recipe, shared by the CLI (`vgg-mnist finetune`) and
//! the browser's training worker.
//!
//! The recipe ([`FinetuneConfig::default`], chosen by measurement, see the README's "Teach it
//! your handwriting"):
//! 1. [`check_samples`]: at least [`MIN_SAMPLES`], every digit 0-9, one digit drawn twice;
//!    otherwise a [`FinetuneError`] that says what is missing, and nothing is trained.
//! 2. [`split_held_out`]: a share of each digit's samples is held out (seeded, stratified) and
//!    only scored, never tuned on.
//! 3. [`plan_mix`]: `steps * batch_size` training images, the tuning samples repeated and mixed
//!    with MNIST training images (replay), so the model does not forget MNIST.
//! 4. The one [`Trainer`], continuing from the base model's weights (a copy: the base is never
//!    modified) with a fresh AdamW, the one-cycle schedule over one pass of that set, and the
//!    seeded [`Augment`](crate::augment::Augment)ation. [`Finetune::step`] runs one batch, so the browser worker can
//!    interleave its messages; there is no second training loop.
//! 5. [`Finetune::report`]: the base and the tuned model, scored on the held-out samples and on
//!    MNIST test images.
//!
//! Contract: pure (no clock, no I/O) and seeded: the same inputs and config give bit-identical
//! weights on one platform. Works for either width (small 8/16, seed 32/64) or any other shape a
//! checkpoint holds; it trains on the device the checkpoint's tensors were loaded to.

mod config;
mod mix;
mod samples;

use candle_core::Device;
use serde::{Deserialize, Serialize};

use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::data::{Dataset, DatasetError};
use crate::evaluation::evaluate;
use crate::model::Vgg;
use crate::train::{StepStats, TrainError, Trainer};

pub use self::config::{FinetuneConfig, MAX_TRAINING_IMAGES};
pub use self::mix::{plan_mix, Mix};
pub use self::samples::{check_samples, held_out_count, split_held_out, HeldOutSplit, MIN_SAMPLES};

#[derive(Debug, thiserror::Error)]
pub enum FinetuneError {
    #[error("only {found} of your digits{}: fine-tuning needs at least {needed}, with every digit 0-9 among them", missing_note(.missing))]
    TooFew {
        found: usize,
        needed: usize,
        missing: Vec<u8>,
    },
    #[error("no samples of {}: fine-tuning needs at least one of every digit 0-9", list(.0))]
    MissingDigits(Vec<u8>),
    #[error(
        "each digit has one sample, so none can be held out to score the tuned model: add a second sample of any digit"
    )]
    NothingToHoldOut,
    #[error("your digits: {0}")]
    Samples(DatasetError),
    #[error("the MNIST replay images: {0}")]
    Replay(DatasetError),
    #[error("invalid fine-tuning setup: {0}")]
    Invalid(String),
    #[error(transparent)]
    Checkpoint(#[from] CheckpointError),
    #[error(transparent)]
    Train(#[from] TrainError),
}

fn list(digits: &[u8]) -> String {
    digits.iter().map(u8::to_string).collect::<Vec<_>>().join(", ")
}

fn missing_note(missing: &[u8]) -> String {
    format!(" (none of {})", list(missing))
}

/// Before → after: the base and the tuned model on the held-out samples and on MNIST test images.
/// Accuracies are fractions (0..1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FinetuneReport {
    /// Held-out samples scored (never tuned on).
    pub held_out: usize,
    pub before: f64,
    pub after: f64,
    /// MNIST test images scored.
    pub mnist_images: usize,
    pub mnist_before: f64,
    pub mnist_after: f64,
}

/// One fine-tuning run, driven a step at a time.
pub struct Finetune {
    trainer: Trainer,
    /// The model it started from, for "before" (its weights are never trained).
    base: Vgg,
    tuning: Dataset,
    held_out: Dataset,
    config: FinetuneConfig,
}

impl Finetune {
    /// Checks the samples, splits off the held-out ones, mixes the tuning ones with replay from
    /// `mnist_train`, and readies the trainer on a copy of `base`'s weights.
    ///
    /// # Errors
    /// Too few samples or a digit missing ([`check_samples`]), a bad config, or images that are
    /// not 28x28 digits.
    pub fn new(
        base: &Checkpoint,
        samples: &Dataset,
        mnist_train: &Dataset,
        config: &FinetuneConfig,
    ) -> Result<Self, FinetuneError> {
        config.validate()?;
        check_samples(samples)?;
        mnist_train.check().map_err(FinetuneError::Replay)?;
        let device = base.tensors.values().next().map_or(Device::Cpu, |t| t.device().clone());
        let split = split_held_out(&samples.labels, config.held_out_share, config.seed);
        let tuning = samples.select(&split.tuning);
        let held_out = samples.select(&split.held_out);
        let mix = plan_mix(
            tuning.len(),
            mnist_train.len(),
            config.training_images(),
            config.replay_share,
            config.seed.wrapping_add(1),
        );
        let data = mix.gather(&tuning, mnist_train);
        let trainer = Trainer::with_varmap(&base.config, base.to_varmap()?, config.train_config(), data, &device)?;
        Ok(Self {
            trainer,
            base: base.model(&device)?,
            tuning,
            held_out,
            config: config.clone(),
        })
    }

    /// Runs one batch of the fine-tune.
    pub fn step(&mut self) -> Result<StepStats, TrainError> {
        self.trainer.step()
    }

    /// Runs the steps that are left.
    pub fn run(&mut self) -> Result<(), TrainError> {
        while !self.is_done() {
            self.step()?;
        }
        Ok(())
    }

    pub fn is_done(&self) -> bool {
        self.trainer.is_done()
    }

    pub fn steps_done(&self) -> usize {
        self.trainer.steps_done()
    }

    pub fn total_steps(&self) -> usize {
        self.trainer.total_steps()
    }

    /// The samples tuned on.
    pub fn tuning(&self) -> &Dataset {
        &self.tuning
    }

    /// The samples held out: scored, never tuned on.
    pub fn held_out(&self) -> &Dataset {
        &self.held_out
    }

    pub fn config(&self) -> &FinetuneConfig {
        &self.config
    }

    pub fn device(&self) -> &Device {
        self.trainer.device()
    }

    /// The model it started from.
    pub fn base_model(&self) -> &Vgg {
        &self.base
    }

    /// The model being tuned (its current weights).
    pub fn model(&self) -> &Vgg {
        self.trainer.model()
    }

    /// The tuned weights as safetensors bytes, with the base model's config.
    pub fn checkpoint(&self) -> Result<Vec<u8>, CheckpointError> {
        self.trainer.checkpoint()
    }

    /// Scores the base and the current weights on the held-out samples and on `mnist_test`.
    pub fn report(&self, mnist_test: &Dataset) -> Result<FinetuneReport, FinetuneError> {
        (mnist_test.check()).map_err(|e| FinetuneError::Invalid(format!("the MNIST test images: {e}")))?;
        if mnist_test.is_empty() {
            return Err(FinetuneError::Invalid("no MNIST test images to score".into()));
        }
        let score = |model: &Vgg, data: &Dataset| -> Result<f64, FinetuneError> {
            Ok(evaluate(model, data, self.device()).map_err(TrainError::from)?.accuracy)
        };
        Ok(FinetuneReport {
            held_out: self.held_out.len(),
            before: score(&self.base, &self.held_out)?,
            after: score(self.model(), &self.held_out)?,
            mnist_images: mnist_test.len(),
            mnist_before: score(&self.base, mnist_test)?,
            mnist_after: score(self.model(), mnist_test)?,
        })
    }
}

#[cfg(test)]
mod tests;
