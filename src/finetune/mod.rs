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
//!    seeded [`Augment`]ation. [`Finetune::step`] runs one batch, so the browser worker can
//!    interleave its messages; there is no second training loop.
//! 5. [`Finetune::report`]: the base and the tuned model, scored on the held-out samples and on
//!    MNIST test images.
//!
//! Contract: pure (no clock, no I/O) and seeded: the same inputs and config give bit-identical
//! weights on one platform. Works for either width (small 8/16, seed 32/64) or any other shape a
//! checkpoint holds; it trains on the device the checkpoint's tensors were loaded to.

mod mix;
mod samples;

use candle_core::Device;
use serde::{Deserialize, Serialize};

use crate::augment::Augment;
use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::data::{Dataset, DatasetError};
use crate::evaluation::evaluate;
use crate::model::Vgg;
use crate::train::{StepStats, TrainConfig, TrainError, Trainer};

pub use self::mix::{plan_mix, Mix};
pub use self::samples::{check_samples, held_out_count, split_held_out, HeldOutSplit, MIN_SAMPLES};

/// The most training images a fine-tune may ask for (`steps * batch_size`): the set is built in
/// memory (784 bytes an image), and a config may come from a URL or a file.
pub const MAX_TRAINING_IMAGES: usize = 100_000;

/// The fine-tuning recipe. The default is the one chosen by measurement.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FinetuneConfig {
    /// Peak learning rate of the one-cycle schedule (warm-up and decay as in [`TrainConfig`]).
    pub lr: f64,
    /// Optimiser steps: the whole budget (`steps * batch_size` training images).
    pub steps: usize,
    pub batch_size: usize,
    /// Share of the training images drawn from MNIST's training set (0 = none, < 1).
    pub replay_share: f64,
    /// Random affine augmentation of every training image; `None` trains on them as they are.
    pub augment: Option<Augment>,
    /// Share of each digit's samples held out for scoring (0 < share <= 0.5).
    pub held_out_share: f64,
    /// Seeds the split, the mix, the batch order and the augmentation.
    pub seed: u64,
}

impl Default for FinetuneConfig {
    fn default() -> Self {
        Self {
            lr: 3e-4,
            steps: 40,
            batch_size: 32,
            replay_share: 0.75,
            augment: Some(Augment::default()),
            held_out_share: 0.2,
            seed: 0,
        }
    }
}

impl FinetuneConfig {
    /// Training images of the whole run.
    pub fn training_images(&self) -> usize {
        self.steps.saturating_mul(self.batch_size)
    }

    /// The [`Trainer`]'s settings: one pass over the mixed set, with `TrainConfig`'s weight decay
    /// and warm-up.
    pub fn train_config(&self) -> TrainConfig {
        TrainConfig {
            epochs: 1,
            batch_size: self.batch_size,
            lr: self.lr,
            seed: self.seed,
            augment: self.augment,
            ..TrainConfig::default()
        }
    }

    /// Fails unless the numbers make a run (checked by [`Finetune::new`] too).
    pub fn validate(&self) -> Result<(), FinetuneError> {
        let invalid = |what: String| Err(FinetuneError::Invalid(what));
        if self.steps == 0 || self.batch_size == 0 {
            return invalid("steps and batch size must be at least 1".into());
        }
        if self.training_images() > MAX_TRAINING_IMAGES {
            return invalid(format!(
                "{} steps of {} images exceed the limit of {MAX_TRAINING_IMAGES} training images",
                self.steps, self.batch_size
            ));
        }
        if !(0.0..1.0).contains(&self.replay_share) {
            return invalid(format!("the replay share must be in [0, 1), got {}", self.replay_share));
        }
        if !(self.held_out_share > 0.0 && self.held_out_share <= 0.5) {
            return invalid(format!(
                "the held-out share must be in (0, 0.5], got {}",
                self.held_out_share
            ));
        }
        Ok(())
    }
}

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
