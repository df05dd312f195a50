//! What a training run reports: the `metrics.json` schema and the terminal summary.
//!
//! `metrics.json` keys are stable for scripts: `test_accuracy` (0..1), `test_loss`,
//! `confusion_matrix` (10x10, rows = true digit), `per_class`, `epochs`,
//! `train_images_per_second`, `seed`, `device`, `config`, plus `history` and timings.

use serde::Serialize;
use vgg_mnist::metrics::{ClassMetrics, Confusion, ConfusionMatrix};
use vgg_mnist::model::ModelConfig;
use vgg_mnist::train::{Evaluation, TrainConfig};

/// One epoch's numbers, for the training curves.
#[derive(Clone, Debug, Serialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_accuracy: f64,
    pub test_loss: f64,
    pub test_accuracy: f64,
    pub train_images_per_second: f64,
}

#[derive(Serialize)]
pub struct RunConfig {
    pub model: ModelConfig,
    pub train: TrainConfig,
    pub train_images: usize,
    pub test_images: usize,
}

#[derive(Serialize)]
pub struct RunMetrics {
    pub test_accuracy: f64,
    pub test_loss: f64,
    pub confusion_matrix: [[u64; 10]; 10],
    pub per_class: Vec<ClassMetrics>,
    pub most_confused: Vec<Confusion>,
    pub epochs: usize,
    pub train_images_per_second: f64,
    pub eval_images_per_second: f64,
    pub train_seconds: f64,
    pub seed: u64,
    pub device: String,
    pub config: RunConfig,
    pub history: Vec<EpochRecord>,
}

/// Accuracy, the per-class table, the confusion matrix and the most-confused pairs.
pub fn summary(eval: &Evaluation) -> String {
    let cm: &ConfusionMatrix = &eval.confusion;
    let mut s = format!(
        "test accuracy {:.2}% ({} of {}), test loss {:.4}\n\n",
        100.0 * eval.accuracy,
        cm.correct(),
        cm.total(),
        eval.loss
    );
    s += "digit  precision  recall      f1  support\n";
    for c in cm.per_class() {
        s += &format!(
            "{:>5}  {:>9.4}  {:>6.4}  {:>6.4}  {:>7}\n",
            c.digit, c.precision, c.recall, c.f1, c.support
        );
    }
    s += "\nconfusion matrix (rows = true digit, columns = predicted)\n";
    s += &cm.to_table();
    let top = cm.most_confused(5);
    if !top.is_empty() {
        s += "\nmost confused: ";
        s += &top
            .iter()
            .map(|c| format!("{}→{} ({})", c.truth, c.predicted, c.count))
            .collect::<Vec<_>>()
            .join(", ");
        s.push('\n');
    }
    s
}
