//! Learning-rate schedule: linear warm-up, then cosine decay (a "one-cycle" shape).
//!
//! Why: a short warm-up keeps AdamW's first, badly-scaled steps from blowing up the fresh
//! network at a high learning rate, and annealing to near zero at the end settles the weights,
//! which is worth a few tenths of a percent of test accuracy on MNIST.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct OneCycle {
    /// Peak learning rate, reached at the end of the warm-up.
    pub max_lr: f64,
    /// Total number of optimiser steps of the run.
    pub total_steps: usize,
    /// Fraction of `total_steps` spent warming up linearly from `max_lr / 25`.
    pub warmup_fraction: f64,
    /// The last step's learning rate is `max_lr * final_fraction`.
    pub final_fraction: f64,
}

impl OneCycle {
    pub fn new(max_lr: f64, total_steps: usize, warmup_fraction: f64) -> Self {
        Self {
            max_lr,
            total_steps: total_steps.max(1),
            warmup_fraction,
            final_fraction: 1e-3,
        }
    }

    /// Learning rate for step `step` (0-based); steps past the end keep the final rate.
    pub fn lr(&self, step: usize) -> f64 {
        let warmup = ((self.total_steps as f64) * self.warmup_fraction).round() as usize;
        let start = self.max_lr / 25.0;
        if step < warmup {
            return start + (self.max_lr - start) * step as f64 / warmup as f64;
        }
        let decay_steps = (self.total_steps - warmup).max(1) as f64;
        let t = ((step - warmup) as f64 / decay_steps).min(1.0);
        let end = self.max_lr * self.final_fraction;
        end + (self.max_lr - end) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn warms_up_peaks_and_anneals() {
        let s = OneCycle::new(1e-2, 1000, 0.1);
        assert!((s.lr(0) - 4e-4).abs() < 1e-12);
        assert!(s.lr(50) > s.lr(10));
        assert!((s.lr(100) - 1e-2).abs() < 1e-12);
        assert!(s.lr(500) < s.lr(200));
        assert!((s.lr(1000) - 1e-5).abs() < 1e-12);
        assert_eq!(s.lr(5000), s.lr(1000));
        let no_warmup = OneCycle::new(1.0, 10, 0.0);
        assert_eq!(no_warmup.lr(0), 1.0);
    }
}
