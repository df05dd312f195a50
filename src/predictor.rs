//! The predictor: safetensors bytes → a model; a picture of a digit or its pen strokes → a
//! prediction, timed, and on request what the network did with it ([`Predictor::explain`]).
//!
//! Contract: the glue between [`crate::checkpoint`] (validates the weights),
//! [`crate::preprocess`] and [`crate::strokes`] (turn a picture or strokes into MNIST's format)
//! and [`crate::model::Vgg`] (runs the network), shared by the CLI's `predict` and `explain` and
//! the browser's drawing pad so that both see a picture the same way. An image without ink is
//! [`PredictError::Empty`], and output that is not a number [`PredictError::NotFinite`], never a
//! guess. The
//! latency is measured with `web_time` (the standard clock natively, `performance.now()` in the
//! browser): the one clock reading in the core, because the budget it checks is the predictor's.

use candle_core::Device;

use crate::checkpoint::{self, Checkpoint, CheckpointError};
use crate::explain::Explanation;
use crate::model::{ModelConfig, Vgg};
use crate::preprocess::{self, Digit, PreprocessError};
use crate::strokes::{self, Stroke};

/// A loaded model, ready to predict (on the CPU).
pub struct Predictor {
    model: Vgg,
}

/// The outcome of one prediction.
#[derive(Clone, Debug, PartialEq)]
pub struct Prediction {
    pub digit: usize,
    /// Probability of each digit 0-9.
    pub probabilities: Vec<f32>,
    /// The 28x28 image the model saw (0..1, 1 = ink).
    pub input: Digit,
    /// Time of preprocess + forward, in milliseconds.
    pub latency_ms: f64,
}

impl Prediction {
    /// The digits with their probabilities, most likely first.
    pub fn ranked(&self) -> Vec<(usize, f32)> {
        let mut ranked: Vec<(usize, f32)> = self.probabilities.iter().copied().enumerate().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1));
        ranked
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    #[error("nothing drawn: the image has no ink")]
    Empty,
    #[error("cannot read the picture: {0}")]
    Preprocess(PreprocessError),
    #[error("the model failed: {0}")]
    Model(#[from] candle_core::Error),
    #[error("the model's output is not a number: its weights are too large for f32 arithmetic")]
    NotFinite,
}

impl From<PreprocessError> for PredictError {
    fn from(e: PreprocessError) -> Self {
        match e {
            PreprocessError::Empty => PredictError::Empty,
            other => PredictError::Preprocess(other),
        }
    }
}

impl Predictor {
    /// Loads and validates safetensors bytes (shipped, uploaded, a worker snapshot or a file).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CheckpointError> {
        Self::from_checkpoint(&checkpoint::from_bytes(bytes, &Device::Cpu)?)
    }

    /// A predictor over an already loaded checkpoint.
    pub fn from_checkpoint(ck: &Checkpoint) -> Result<Self, CheckpointError> {
        Ok(Self {
            model: ck.model(&Device::Cpu)?,
        })
    }

    pub fn config(&self) -> &ModelConfig {
        self.model.config()
    }

    pub fn model(&self) -> &Vgg {
        &self.model
    }

    /// Predicts the digit in `rgba` (`width * height * 4` bytes: canvas `ImageData`, or a decoded
    /// image file).
    pub fn predict_rgba(&self, rgba: &[u8], width: usize, height: usize) -> Result<Prediction, PredictError> {
        let start = web_time::Instant::now();
        let input = preprocess::from_rgba(rgba, width, height)?;
        self.finish(input, start)
    }

    /// Predicts the digit drawn as pen `strokes` (points as the pointer reported them, any unit),
    /// rendered at any drawn size by [`crate::strokes::digit_from_strokes`].
    pub fn predict_strokes(&self, strokes: &[Stroke]) -> Result<Prediction, PredictError> {
        let start = web_time::Instant::now();
        let input = strokes::digit_from_strokes(strokes)?;
        self.finish(input, start)
    }

    /// Predicts an already preprocessed 28x28 input.
    pub fn predict_digit(&self, input: &Digit) -> Result<Prediction, PredictError> {
        self.finish(*input, web_time::Instant::now())
    }

    /// What the network does with `input`: every layer's activations, the first layer's
    /// filters and the saliency of the predicted digit (see [`Vgg::explain`]). Not timed: the
    /// page runs it after a prediction, when there is time.
    pub fn explain(&self, input: &Digit) -> Result<Explanation, PredictError> {
        let xs = preprocess::to_input(&[*input], &Device::Cpu)?; // (1, 1, 28, 28)
        Ok(self.model.explain(&xs, None)?)
    }

    fn finish(&self, input: Digit, start: web_time::Instant) -> Result<Prediction, PredictError> {
        let xs = preprocess::to_input(&[input], &Device::Cpu)?; // (1, 1, 28, 28)
        let probabilities = self.model.probabilities(&xs)?.flatten_all()?.to_vec1::<f32>()?; // (10,)
                                                                                             // Finite weights (all a checkpoint may hold) can still overflow: never show "0 (NaN%)".
        if !probabilities.iter().all(|p| p.is_finite()) {
            return Err(PredictError::NotFinite);
        }
        let digit = probabilities
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i);
        Ok(Prediction {
            digit,
            probabilities,
            input,
            latency_ms: start.elapsed().as_secs_f64() * 1e3,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::init_params;

    fn small_model_bytes() -> Vec<u8> {
        let config = ModelConfig::small();
        let varmap = init_params(&config, 7, &Device::Cpu).expect("init");
        checkpoint::to_bytes(&varmap, &config).expect("serialise")
    }

    /// A white canvas with a black vertical bar, as RGBA.
    fn bar_drawing(side: usize) -> Vec<u8> {
        let mut rgba = vec![255u8; side * side * 4];
        for y in side / 5..side * 4 / 5 {
            for x in side * 9 / 20..side * 11 / 20 {
                rgba[(y * side + x) * 4..(y * side + x) * 4 + 3].fill(0);
            }
        }
        rgba
    }

    #[test]
    fn reads_a_drawing_and_refuses_an_empty_one() {
        let p = Predictor::from_bytes(&small_model_bytes()).expect("valid checkpoint");
        let pred = p.predict_rgba(&bar_drawing(140), 140, 140).expect("prediction");
        assert_eq!(pred.probabilities.len(), 10);
        assert!((pred.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-4);
        assert!(pred.digit < 10 && pred.latency_ms >= 0.0);
        assert_eq!(pred.ranked()[0].0, pred.digit);
        // The bar lands in the middle of the 28x28 input.
        assert!(pred.input[14 * 28 + 14] > 0.5);
        assert_eq!(p.predict_digit(&pred.input).unwrap().probabilities, pred.probabilities);
        let blank = vec![255u8; 140 * 140 * 4];
        assert!(matches!(p.predict_rgba(&blank, 140, 140), Err(PredictError::Empty)));
        // The explanation agrees with the prediction.
        let e = p.explain(&pred.input).expect("explanation");
        assert_eq!(e.target, pred.digit);
        let diff = e
            .probabilities
            .iter()
            .zip(&pred.probabilities)
            .map(|(a, b)| (a - b).abs());
        assert!(diff.fold(0f32, f32::max) < 1e-5);
        // Strokes of the same bar read the same way.
        let bar = vec![vec![[70.0, 28.0], [70.0, 112.0]]];
        assert!(p.predict_strokes(&bar).expect("strokes").input[14 * 28 + 14] > 0.5);
        assert!(matches!(p.predict_strokes(&[]), Err(PredictError::Empty)));
        assert!(matches!(
            p.predict_rgba(&blank, 10, 10),
            Err(PredictError::Preprocess(PreprocessError::BadSize { .. }))
        ));
    }

    /// Weights that are finite (so the checkpoint loads) but so large that the forward pass
    /// overflows: an error, not "0 (NaN%)".
    #[test]
    fn overflowing_weights_give_an_error_not_nan() {
        let config = ModelConfig::small();
        let varmap = init_params(&config, 7, &Device::Cpu).unwrap();
        let huge: Vec<(String, candle_core::Tensor)> = varmap
            .data()
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), (v.as_tensor().ones_like().unwrap() * 1e30).unwrap()))
            .collect();
        let bytes = checkpoint::tensors_to_bytes(huge, &config).unwrap();
        let p = Predictor::from_bytes(&bytes).expect("finite weights load");
        let err = p.predict_rgba(&bar_drawing(140), 140, 140).unwrap_err();
        assert!(matches!(err, PredictError::NotFinite), "{err}");
    }
}
