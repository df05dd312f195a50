//! The fine-tuning recipe's settings: [`FinetuneConfig`], whose default is the recipe chosen by
//! measurement (README, "Teach it your handwriting"), and the checks that a config makes a run.

use serde::{Deserialize, Serialize};

use crate::augment::Augment;
use crate::train::TrainConfig;

use super::FinetuneError;

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

    /// The [`Trainer`](crate::train::Trainer)'s settings: one pass over the mixed set, with `TrainConfig`'s weight decay
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

    /// Fails unless the numbers make a run (checked by [`Finetune::new`](super::Finetune::new) too).
    pub fn validate(&self) -> Result<(), FinetuneError> {
        let invalid = |what: String| Err(FinetuneError::Invalid(what));
        if !(self.lr.is_finite() && self.lr > 0.0) {
            return invalid(format!("the learning rate must be a positive number, got {}", self.lr));
        }
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
