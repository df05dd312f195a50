//! What a model may cost: the checks of [`ModelConfig::validate`], with the compute budget and the
//! parameter cap every model must stay within, and the sizes they are measured by.
//!
//! Contract: a config that passes [`ModelConfig::validate`] makes a network whose forward pass
//! needs at most [`MAX_FORWARD_MACS`] multiply-adds per image and which has at most
//! [`MAX_PARAMS`] parameters, whoever asks for it — a CLI flag, the browser's settings or the
//! config stored in an uploaded checkpoint. The arithmetic never overflows, on 64-bit targets or
//! on wasm32.
//!
//! Why these numbers:
//! - **[`MAX_FORWARD_MACS`] = 100 M** (the seed model needs 18.3 M, the small one 1.2 M). The
//!   browser predicts on the main thread while the user draws, at most every 80 ms; the seed
//!   model's prediction takes 2.7–4.7 ms there (README, Performance), so a model at the budget
//!   would take about 15–26 ms on that machine (a linear extrapolation, not a measurement), and
//!   stays within the 80 ms on a device three times slower. Widths up to 64/128 with two convs
//!   per block (73 M) fit; 1024/1024 with four convs (30 G) does not.
//! - **[`MAX_PARAMS`] = 2 M** (20x the seed model's 96,362). Its weights are at most 8 MB of f32
//!   ([`crate::checkpoint::MAX_CHECKPOINT_BYTES`] follows from it); a trainer holds about five
//!   copies (weights, gradients, AdamW's two moments, the last good weights), 40 MB, and every
//!   browser worker holds its own. The convs stay far below it within the compute budget; it
//!   bounds the optional hidden layer (3136 x 637 for the seed widths).

use crate::data::{IMAGE_PIXELS, IMAGE_SIDE, NUM_CLASSES};

use super::{param_specs, ModelConfig};

/// The most multiply-adds one image's forward pass may need ([`ModelConfig::forward_macs`]).
pub const MAX_FORWARD_MACS: usize = 100_000_000;
/// The most parameters a model may have ([`ModelConfig::num_params`]).
pub const MAX_PARAMS: usize = 2_000_000;
/// Structural limits, checked first so that the sizes below are computed on bounded numbers.
const MAX_WIDTH: usize = 1024;
const MAX_CONVS_PER_BLOCK: usize = 4;
const MAX_HIDDEN: usize = 8192;

impl ModelConfig {
    /// Checks the numbers make a network within the budget: positive sizes, at most
    /// [`MAX_FORWARD_MACS`] multiply-adds per image and [`MAX_PARAMS`] parameters.
    pub fn validate(&self) -> Result<(), String> {
        if self.widths.contains(&0) || self.convs_per_block == 0 {
            return Err(format!(
                "invalid model config {self:?}: widths and convs per block must be positive"
            ));
        }
        if self.beyond_structure() {
            return Err(format!("model config {self:?} is unreasonably large"));
        }
        let macs = self.forward_macs();
        if macs > MAX_FORWARD_MACS {
            return Err(format!(
                "model config {self:?} needs {:.1} M multiply-adds per image, more than the budget of {} M (the seed model needs 18.3 M)",
                macs as f64 / 1e6,
                MAX_FORWARD_MACS / 1_000_000
            ));
        }
        let params = self.num_params();
        if params > MAX_PARAMS {
            return Err(format!(
                "model config {self:?} has {params} parameters, more than the limit of {MAX_PARAMS}"
            ));
        }
        Ok(())
    }

    /// Whether the shape is past the structural limits (where counting would take long or
    /// overflow).
    fn beyond_structure(&self) -> bool {
        self.widths.iter().any(|&w| w > MAX_WIDTH)
            || self.convs_per_block > MAX_CONVS_PER_BLOCK
            || self.hidden > MAX_HIDDEN
    }

    /// Total number of trainable parameters; `usize::MAX` for a config past the structural
    /// limits (within them the count fits even wasm32's 32-bit `usize`).
    pub fn num_params(&self) -> usize {
        if self.beyond_structure() {
            return usize::MAX;
        }
        param_specs(self)
            .iter()
            .map(|p| p.shape.iter().product::<usize>())
            .sum()
    }

    /// Multiply-adds of one forward pass of one image (the compute budget, and FLOP-based
    /// throughput figures); `usize::MAX` for a config past the structural limits, or one whose
    /// count does not fit `usize` (wasm32's is 32 bits).
    pub fn forward_macs(&self) -> usize {
        if self.beyond_structure() {
            return usize::MAX;
        }
        // u64: within the structural limits the count stays below 2^40.
        let (mut macs, mut c_in, mut side) = (0u64, 1u64, IMAGE_SIDE as u64);
        for &w in &self.widths {
            for _ in 0..self.convs_per_block {
                macs += w as u64 * c_in * 9 * side * side;
                c_in = w as u64;
            }
            side /= 2;
        }
        let mut features = c_in * side * side;
        if self.hidden > 0 {
            macs += features * self.hidden as u64;
            features = self.hidden as u64;
        }
        usize::try_from(macs + features * NUM_CLASSES as u64).unwrap_or(usize::MAX)
    }

    /// Floats one image produces in a forward pass (the input, every conv and pool output, the
    /// hidden layer and the logits): what training keeps per image until the backward pass, and
    /// the basis of [`crate::train::training_bytes`]. `u64::MAX` past the structural limits.
    pub fn activation_floats(&self) -> u64 {
        if self.beyond_structure() {
            return u64::MAX;
        }
        let (mut floats, mut side) = (IMAGE_PIXELS as u64, IMAGE_SIDE as u64);
        for &w in &self.widths {
            floats += w as u64 * side * side * self.convs_per_block as u64; // the convs' outputs
            side /= 2;
            floats += w as u64 * side * side; // the pool's output
        }
        floats + self.hidden as u64 + NUM_CLASSES as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(widths: [usize; 2], convs_per_block: usize, hidden: usize) -> ModelConfig {
        ModelConfig {
            widths,
            convs_per_block,
            hidden,
        }
    }

    #[test]
    fn sizes_of_the_seed_and_small_models() {
        let seed = ModelConfig::default();
        assert_eq!(seed.forward_macs(), 18_320_512);
        assert_eq!(seed.num_params(), 96_362);
        // 784 + 2*32*784 + 32*196 + 2*64*196 + 64*49 + 10
        assert_eq!(seed.activation_floats(), 85_466);
        assert_eq!(ModelConfig::small().forward_macs(), 1_193_248);
    }

    #[test]
    fn the_budget_admits_the_shipped_shapes_and_refuses_enormous_ones() {
        for ok in [
            ModelConfig::default(),
            ModelConfig::small(),
            config([32, 64], 4, 0),
            config([64, 128], 2, 0),
            config([32, 64], 2, 600),
        ] {
            assert_eq!(ok.validate(), Ok(()), "{ok:?}");
        }
        // The example: ~30 G multiply-adds per image.
        let err = config([1024, 1024], 4, 0).validate().unwrap_err();
        assert!(
            err.contains("multiply-adds per image") && err.contains("100 M"),
            "{err}"
        );
        let macs = config([1024, 1024], 4, 0).forward_macs() as u64;
        // wasm32's 32-bit usize saturates.
        assert_eq!(
            macs,
            if usize::BITS == 64 {
                29_602_736_128
            } else {
                u32::MAX as u64
            }
        );
        let err = config([64, 128], 3, 0).validate().unwrap_err();
        assert!(err.contains("multiply-adds"), "{err}");
        // A hidden layer is cheap in compute but not in parameters.
        let err = config([32, 64], 2, 1000).validate().unwrap_err();
        assert!(err.contains("parameters, more than the limit of 2000000"), "{err}");
        assert!(config([0, 8], 2, 0)
            .validate()
            .unwrap_err()
            .contains("must be positive"));
        assert!(config([8, 8], 9, 0)
            .validate()
            .unwrap_err()
            .contains("unreasonably large"));
    }

    #[test]
    fn sizes_never_overflow() {
        let huge = config([usize::MAX, usize::MAX], usize::MAX, usize::MAX);
        assert_eq!(huge.forward_macs(), usize::MAX);
        assert_eq!(huge.num_params(), usize::MAX);
        assert_eq!(huge.activation_floats(), u64::MAX);
        assert!(huge.validate().is_err());
    }

    #[test]
    fn num_params_is_the_sum_of_param_specs() {
        let c = config([4, 8], 3, 16);
        let by_hand =
            4 * 9 + 4 + 2 * (4 * 4 * 9 + 4) + (8 * 4 * 9 + 8) + 2 * (8 * 8 * 9 + 8) + 392 * 16 + 16 + 160 + 10;
        assert_eq!(c.num_params(), by_hand);
    }
}
