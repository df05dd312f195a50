//! Which training setups can run: [`TrainConfig::validate`], the one check that the CLI runs on
//! its flags before any I/O and [`Trainer`](super::Trainer) runs again when it is built, and the
//! memory estimate it bounds the batch size with.
//!
//! Contract: a config that passes is within every limit here for the model it trains, so a run
//! never fails later for a reason its settings already showed: no overflowing step count, no
//! warm-up fraction outside 0..=1, no batch whose activations cannot fit in memory.
//!
//! Why [`MAX_TRAINING_BYTES`] = 4 GiB: that is all a wasm32 worker can address at most, and a
//! sixth of the 24 GB development machine. The seed model still gets batches up to 6,281, far
//! past any MNIST recipe (128 natively, 64 in the browser), while the issue's
//! `--batch-size 60000` (about 41 GB) is refused before anything is read.

use crate::model::ModelConfig;

use super::{TrainConfig, TrainError};

/// The most epochs a run may have: far more than MNIST needs (12 by default), and small enough
/// that epochs times steps per epoch cannot overflow on 64-bit targets.
pub const MAX_EPOCHS: usize = 10_000;
/// The most memory a training batch's activations may need, by [`training_bytes`].
pub const MAX_TRAINING_BYTES: u64 = 4 << 30;
/// Bytes training holds per activation float. Measured peak RSS grows by 521 kB per image for
/// the seed model and 131 kB for the small one (`/usr/bin/time -f %M vgg-mnist bench --batches 2`
/// at batch 1024 and 2048), 1.52 and 1.49 times their activations in f32
/// ([`ModelConfig::activation_floats`]); 8 bytes (twice the f32) leaves a margin over that.
const BYTES_PER_ACTIVATION: u64 = 8;

/// Estimated memory of one training step's activations (forward outputs kept for the backward
/// pass, and their gradients) for a batch of `batch_size` images of `model`.
pub fn training_bytes(model: &ModelConfig, batch_size: usize) -> u64 {
    model
        .activation_floats()
        .saturating_mul(BYTES_PER_ACTIVATION)
        .saturating_mul(batch_size as u64)
}

impl TrainConfig {
    /// Checks that these settings can train `model`: the model within its budget, at least one
    /// epoch (at most [`MAX_EPOCHS`]) and one image per batch, a batch whose memory estimate is
    /// within [`MAX_TRAINING_BYTES`], a positive finite learning rate, a finite non-negative
    /// weight decay and a warm-up fraction in 0..=1.
    pub fn validate(&self, model: &ModelConfig) -> Result<(), TrainError> {
        model.validate().map_err(TrainError::Invalid)?;
        let invalid = |msg: String| Err(TrainError::Invalid(msg));
        if self.batch_size == 0 || self.epochs == 0 {
            return invalid("epochs and batch size must be at least 1".into());
        }
        if self.epochs > MAX_EPOCHS {
            return invalid(format!("{} epochs is more than the limit of {MAX_EPOCHS}", self.epochs));
        }
        let valid_lr = self.lr.is_finite() && self.lr > 0.0;
        let valid_wd = self.weight_decay.is_finite() && self.weight_decay >= 0.0;
        if !(valid_lr && valid_wd) {
            return invalid(format!(
                "learning rate must be > 0 and weight decay >= 0 (got {} and {})",
                self.lr, self.weight_decay
            ));
        }
        if !(0.0..=1.0).contains(&self.warmup_fraction) {
            return invalid(format!(
                "the warm-up fraction must be between 0 and 1 (got {})",
                self.warmup_fraction
            ));
        }
        let bytes = training_bytes(model, self.batch_size);
        if bytes > MAX_TRAINING_BYTES {
            let per_image = training_bytes(model, 1).max(1);
            return invalid(format!(
                "a batch of {} images of this model needs about {:.1} GB of memory, more than the {:.1} GB limit; use a batch of at most {}",
                self.batch_size,
                bytes as f64 / 1e9,
                MAX_TRAINING_BYTES as f64 / 1e9,
                MAX_TRAINING_BYTES / per_image
            ));
        }
        Ok(())
    }
}

/// Steps of a whole run, or an error where they do not fit a `usize` (wasm32's is 32 bits).
pub(super) fn total_steps(steps_per_epoch: usize, epochs: usize) -> Result<usize, TrainError> {
    steps_per_epoch.checked_mul(epochs).ok_or_else(|| {
        TrainError::Invalid(format!(
            "{epochs} epochs of {steps_per_epoch} steps are more steps than this machine can count"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(config: TrainConfig) -> String {
        match config.validate(&ModelConfig::default()) {
            Ok(()) => "ok".into(),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn the_default_recipe_and_the_browser_settings_pass() {
        assert_eq!(check(TrainConfig::default()), "ok");
        let browser = crate::app::settings::TrainSettings::default();
        assert!(browser.train_config().validate(&browser.width.model_config()).is_ok());
    }

    #[test]
    fn bad_numbers_are_refused_with_their_reason() {
        let d = TrainConfig::default;
        assert!(check(TrainConfig { epochs: 0, ..d() }).contains("at least 1"));
        assert!(check(TrainConfig {
            epochs: usize::MAX,
            ..d()
        })
        .contains("more than the limit of 10000"));
        assert!(check(TrainConfig { lr: f64::NAN, ..d() }).contains("learning rate"));
        assert!(check(TrainConfig {
            weight_decay: -1.0,
            ..d()
        })
        .contains("weight decay"));
        for w in [2.0, 1e300, -0.1, f64::NAN] {
            assert!(
                check(TrainConfig {
                    warmup_fraction: w,
                    ..d()
                })
                .contains("warm-up fraction"),
                "{w}"
            );
        }
        assert_eq!(
            check(TrainConfig {
                warmup_fraction: 1.0,
                ..d()
            }),
            "ok"
        );
    }

    #[test]
    fn batches_are_bounded_by_their_memory_estimate() {
        // 85,466 floats per image of the seed model, 8 bytes each: 684 kB.
        assert_eq!(training_bytes(&ModelConfig::default(), 1), 683_728);
        let msg = check(TrainConfig {
            batch_size: 60_000,
            ..TrainConfig::default()
        });
        assert!(msg.contains("41.0 GB") && msg.contains("at most 6281"), "{msg}");
        let ok = TrainConfig {
            batch_size: 6281,
            ..TrainConfig::default()
        };
        assert_eq!(check(ok), "ok");
        assert_eq!(training_bytes(&ModelConfig::default(), usize::MAX), u64::MAX);
    }

    #[test]
    fn step_counts_that_overflow_are_errors() {
        assert_eq!(total_steps(469, 12).unwrap(), 5628);
        assert!(total_steps(usize::MAX / 2, 3).is_err());
    }
}
