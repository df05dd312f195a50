//! The page's predictor: safetensors bytes → a model; canvas pixels → a prediction.
//!
//! Contract: everything numeric is the core's — [`crate::checkpoint::from_bytes`] validates the
//! weights, [`crate::preprocess::from_rgba`] turns the drawing into MNIST's format and
//! [`crate::model::Vgg::probabilities`] runs the network; this file only glues them and times
//! them. An empty drawing is [`PredictError::Empty`], never a guess.

use candle_core::Device;

use crate::checkpoint::{self, CheckpointError};
use crate::model::{ModelConfig, Vgg};
use crate::preprocess::{self, Digit, PreprocessError};

/// A loaded model, ready to predict.
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

#[derive(Debug, thiserror::Error)]
pub enum PredictError {
    #[error("draw a digit")]
    Empty,
    #[error("cannot read the drawing: {0}")]
    Preprocess(PreprocessError),
    #[error("the model failed: {0}")]
    Model(#[from] candle_core::Error),
}

impl Predictor {
    /// Loads and validates safetensors bytes (shipped, uploaded or a worker snapshot).
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, CheckpointError> {
        let ck = checkpoint::from_bytes(bytes, &Device::Cpu)?;
        Ok(Self {
            model: ck.model(&Device::Cpu)?,
        })
    }

    pub fn config(&self) -> &ModelConfig {
        self.model.config()
    }

    /// Predicts the digit drawn in `rgba` (`width * height * 4` bytes, e.g. canvas `ImageData`).
    pub fn predict_rgba(&self, rgba: &[u8], width: usize, height: usize) -> Result<Prediction, PredictError> {
        let start = web_time::Instant::now();
        let input = preprocess::from_rgba(rgba, width, height).map_err(|e| match e {
            PreprocessError::Empty => PredictError::Empty,
            other => PredictError::Preprocess(other),
        })?;
        let xs = preprocess::to_input(&[input], &Device::Cpu)?; // (1, 1, 28, 28)
        let probabilities = self.model.probabilities(&xs)?.flatten_all()?.to_vec1::<f32>()?; // (10,)
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
