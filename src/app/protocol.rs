//! Messages between the page and the training worker (the worker and its helpers speak
//! [`super::helper_protocol`]).
//!
//! Contract: the page only asks ([`WorkerInput`]); the worker owns the data and the
//! [`crate::train::Trainer`] and reports everything the page shows ([`WorkerOutput`]). Weights
//! cross as safetensors bytes ([`crate::checkpoint`]), so the page loads a snapshot exactly as it
//! loads an uploaded file.

use serde::{Deserialize, Serialize};

use crate::evaluation::Evaluation;
use crate::finetune::FinetuneReport;

use super::settings::TrainSettings;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum WorkerInput {
    /// Start a fresh run (stopping any current one). `data_url` is the absolute URL of the
    /// folder holding the MNIST files: the worker runs from a blob URL (yew-agent's loader shim),
    /// against which relative URLs do not resolve.
    /// `worker_url` is the absolute URL of the worker's own script, from which it starts its
    /// helpers when `settings.workers > 1` (see `parallel`).
    Start {
        settings: TrainSettings,
        data_url: String,
        worker_url: String,
    },
    Pause,
    Resume,
    /// End the run; the last weights stay with the page.
    Stop,
    /// Score the model `id` (these weights) on the whole MNIST test set, a slice at a time, when
    /// no run is training; a new request or a run replaces it. `data_url` as in `Start`.
    Evaluate {
        id: String,
        weights: Vec<u8>,
        data_url: String,
    },
    /// Fine-tune the model `base_id` (these weights) on the user's digits (28x28 bytes and their
    /// labels) with the core recipe, a step at a time, when no run is training.
    Finetune {
        base_id: String,
        weights: Vec<u8>,
        images: Vec<u8>,
        labels: Vec<u8>,
        data_url: String,
    },
}

/// Why a run failed; decides the message and the retry the page offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum FailureKind {
    /// Fetching or decoding the MNIST files failed.
    Data,
    /// The loss became NaN or infinite.
    Diverged,
    /// The trainer rejected the settings or a tensor operation failed.
    Training,
}

// Each message is built once and moved once; boxing the large variants would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum WorkerOutput {
    /// Fetching and decoding MNIST (`what` says which part).
    Loading {
        what: String,
    },
    /// The run has begun. Its evaluations score a prefix of the MNIST test set: the first
    /// `QUICK_EVAL_SIZE` images during the run, all of them at its end.
    Started {
        total_steps: usize,
        steps_per_epoch: usize,
        train_size: usize,
        /// Workers training (fewer than asked for if helpers could not be started).
        workers: usize,
    },
    /// Sent after a step, at most a few times a second.
    Progress(Progress),
    /// After the last batch: how far the final evaluation on the whole test set has got.
    Scoring {
        scored: usize,
        total: usize,
    },
    /// An evaluation on the held-out images, with the weights that were scored.
    Evaluated(EvalReport),
    /// How far scoring the model `id` (an `Evaluate` request) has got.
    ModelScoring {
        id: String,
        scored: usize,
        total: usize,
    },
    /// The model `id` scored on the whole test set.
    ModelEvaluated {
        id: String,
        evaluation: Evaluation,
    },
    /// Scoring the model `id` failed (the test set could not be fetched, the weights were
    /// refused): the job is over and the message says why.
    ScoringFailed {
        id: String,
        message: String,
    },
    /// Fine-tuning has run `step` of `total` steps (0 while MNIST loads for the replay).
    FinetuneProgress {
        step: usize,
        total: usize,
    },
    /// Fine-tuning ended: the tuned weights and before → after on held-out samples and MNIST.
    Finetuned {
        base_id: String,
        report: FinetuneReport,
        weights: Vec<u8>,
        samples: usize,
    },
    /// Fine-tuning could not run (too few samples, a digit missing, …): the message says why.
    FinetuneFailed {
        message: String,
    },
    /// Something the user should know that does not stop the run (a helper worker dropped).
    Notice {
        message: String,
    },
    Paused,
    Resumed,
    /// The run ended: all epochs done (`stopped == false`) or stopped by the user.
    Finished {
        stopped: bool,
    },
    Failed {
        kind: FailureKind,
        message: String,
    },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Progress {
    /// Steps done so far (1-based count).
    pub step: usize,
    /// Epoch of the last batch (0-based).
    pub epoch: usize,
    /// Loss of the last batch.
    pub loss: f32,
    /// Exponential moving average of the batch losses (what the chart draws).
    pub smoothed_loss: f32,
    /// Training throughput, evaluation time excluded.
    pub images_per_second: f64,
    /// Workers training now (fewer than at the start if a helper failed and was dropped).
    pub workers: usize,
    pub eta_seconds: f64,
}

/// An evaluation of a run's weights on the first `evaluation.predictions.len()` MNIST test
/// images, with those weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Steps done when the weights were scored.
    pub step: usize,
    pub evaluation: Evaluation,
    /// The scored weights as safetensors bytes.
    pub weights: Vec<u8>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::ConfusionMatrix;

    /// yew-agent moves reactor messages through serde; every variant must survive the trip.
    #[test]
    fn messages_round_trip_through_serde() {
        let inputs = [
            WorkerInput::Start {
                settings: TrainSettings::default(),
                data_url: "http://127.0.0.1/data/".into(),
                worker_url: "http://127.0.0.1/worker.js".into(),
            },
            WorkerInput::Pause,
            WorkerInput::Resume,
            WorkerInput::Stop,
        ];
        for m in inputs {
            let back: WorkerInput = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
            assert_eq!(back, m);
        }
        let mut confusion = ConfusionMatrix::default();
        confusion.add(3, 5);
        let outputs = [
            WorkerOutput::Evaluated(EvalReport {
                step: 7,
                evaluation: Evaluation {
                    accuracy: 0.0,
                    loss: 2.5,
                    confusion,
                    predictions: vec![5],
                },
                weights: vec![1, 2, 3],
            }),
            WorkerOutput::Failed {
                kind: FailureKind::Diverged,
                message: "loss is NaN".into(),
            },
            WorkerOutput::Scoring {
                scored: 500,
                total: 10_000,
            },
        ];
        for m in outputs {
            let back: WorkerOutput = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
            assert_eq!(back, m);
        }
    }
}
