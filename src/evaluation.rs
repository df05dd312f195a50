//! Scoring a model on a dataset: accuracy, mean loss, confusion matrix and every prediction,
//! in one call ([`evaluate`]) or a slice at a time ([`evaluate_more`], for the browser worker,
//! which must stay responsive while it scores the whole test set).
//!
//! Contract: pure — tensors in, numbers out; no clock, no I/O. Both ways give the same result.

use candle_core::Device;
use serde::{Deserialize, Serialize};

use crate::batches::batch_tensors;
use crate::data::Dataset;
use crate::metrics::ConfusionMatrix;
use crate::model::{argmax_rows, Vgg};

/// The result of scoring a model on a dataset.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    pub accuracy: f64,
    /// Mean cross-entropy.
    pub loss: f64,
    pub confusion: ConfusionMatrix,
    /// The predicted digit of every example, in dataset order.
    pub predictions: Vec<u8>,
}

/// An evaluation built up a slice at a time ([`evaluate_more`], or `Trainer::evaluate_more`), so that a caller who
/// must stay responsive (the browser worker) can score the whole test set between other work.
#[derive(Clone, Debug, Default)]
pub struct PartialEvaluation {
    confusion: ConfusionMatrix,
    predictions: Vec<u8>,
    loss_sum: f64,
}

impl PartialEvaluation {
    /// Examples scored so far (the first ones of the dataset).
    pub fn scored(&self) -> usize {
        self.predictions.len()
    }

    pub fn finish(self) -> Evaluation {
        let n = self.predictions.len().max(1) as f64;
        Evaluation {
            accuracy: self.confusion.accuracy(),
            loss: self.loss_sum / n,
            confusion: self.confusion,
            predictions: self.predictions,
        }
    }
}

/// Examples per forward pass when evaluating: large enough to keep gemm busy, small enough to
/// keep wasm memory modest.
const EVAL_BATCH: usize = 500;

/// Accuracy, mean loss, confusion matrix and predictions of `model` on `data`.
pub fn evaluate(model: &Vgg, data: &Dataset, device: &Device) -> candle_core::Result<Evaluation> {
    let mut partial = PartialEvaluation::default();
    while partial.scored() < data.len() {
        evaluate_more(model, data, device, &mut partial, EVAL_BATCH)?;
    }
    Ok(partial.finish())
}

/// Scores examples `partial.scored()..` of `data`, at most `n` of them (at least one while any
/// are left), in forward passes of at most `EVAL_BATCH`.
pub fn evaluate_more(
    model: &Vgg,
    data: &Dataset,
    device: &Device,
    partial: &mut PartialEvaluation,
    n: usize,
) -> candle_core::Result<()> {
    let start = partial.scored();
    let end = data.len().min(start + n.max(1));
    let indices: Vec<usize> = (start..end).collect();
    for chunk in indices.chunks(EVAL_BATCH) {
        let (xs, ys) = batch_tensors(data, chunk, None, device)?;
        let logits = model.forward_inference(&xs)?; // (B, 10)
        let loss = candle_nn::loss::cross_entropy(&logits, &ys)?.to_scalar::<f32>()?;
        partial.loss_sum += loss as f64 * chunk.len() as f64;
        let predicted = argmax_rows(&logits)?;
        partial
            .confusion
            .extend(&data.labels[chunk[0]..chunk[0] + chunk.len()], &predicted);
        partial.predictions.extend(predicted.iter().map(|&p| p as u8));
    }
    Ok(())
}
