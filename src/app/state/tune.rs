//! Fine-tuning in the page's state: the request (checked first: too few samples or a missing
//! digit is said, not trained), the worker's progress, and the tuned model, which becomes a new
//! entry of the model list (the model it started from is never changed) and the one that predicts.

use std::rc::Rc;

use crate::finetune::{check_samples, FinetuneReport};

use super::super::model_history::{validate, ModelEntry, ModelKind, StoredModel};
use super::{count, AppState};

/// Where "Teach it my handwriting" stands (`data-state` of `[data-testid=finetune-status]`).
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Finetuning {
    #[default]
    Idle,
    /// `step` of `total` steps done.
    Training {
        step: usize,
        total: usize,
    },
    /// The tuned model `model_id` and what it gained.
    Done {
        model_id: String,
        report: FinetuneReport,
    },
    Error(String),
}

impl Finetuning {
    pub fn key(&self) -> &'static str {
        match self {
            Finetuning::Idle => "idle",
            Finetuning::Training { .. } => "training",
            Finetuning::Done { .. } => "done",
            Finetuning::Error(_) => "error",
        }
    }
}

impl AppState {
    /// Why the selected model cannot be fine-tuned on My digits now, if it cannot: the page asks
    /// the worker only when this is `None`.
    pub fn finetune_blocker(&self) -> Option<String> {
        if self.selected.is_none() {
            return Some("No model is loaded yet.".into());
        }
        if self.run_state().is_active() {
            return Some("A training run is using the worker: stop it first.".into());
        }
        if matches!(self.finetuning, Finetuning::Training { .. }) {
            return Some("A fine-tuning is running.".into());
        }
        check_samples(&self.my_digits.dataset())
            .err()
            .map(|e| format!("Not yet: {e}."))
    }

    /// The user asked to fine-tune the selected model on My digits at `now_ms`. Returns whether
    /// the worker should be asked (see [`AppState::finetune_blocker`]).
    pub fn finetune_requested(&mut self, now_ms: f64) -> bool {
        if let Some(why) = self.finetune_blocker() {
            // A second click while one runs changes nothing.
            if !matches!(self.finetuning, Finetuning::Training { .. }) {
                self.finetuning = Finetuning::Error(why);
            }
            return false;
        }
        self.finetuning = Finetuning::Training { step: 0, total: 0 };
        self.finetune_started_ms = now_ms;
        true
    }

    pub(super) fn finetuned(&mut self, base_id: String, report: FinetuneReport, weights: Vec<u8>, samples: usize) {
        let config = match validate(&weights) {
            Ok(config) => config,
            Err(e) => return self.finetuning = Finetuning::Error(format!("the tuned model was refused: {e}")),
        };
        let base_name = (self.models.get(&base_id)).map_or_else(|| base_id.clone(), |m| m.entry.name.clone());
        let id = self.models.new_id(ModelKind::Finetuned, self.finetune_started_ms);
        let held_out = |a: f64| (a * report.held_out as f64).round() as usize;
        self.models.put(StoredModel {
            entry: ModelEntry {
                id: id.clone(),
                kind: ModelKind::Finetuned,
                name: format!("Your handwriting ({samples} digits), from {base_name}"),
                created_ms: self.finetune_started_ms,
                config,
                bytes: weights.len(),
                test_accuracy: Some(report.mnist_after),
                test_images: report.mnist_images,
                settings: None,
                note: Some(format!(
                    "held-out digits {} → {} of {}; MNIST {:.1} → {:.1} % on {}",
                    held_out(report.before),
                    held_out(report.after),
                    report.held_out,
                    100.0 * report.mnist_before,
                    100.0 * report.mnist_after,
                    count(report.mnist_images)
                )),
            },
            weights: Rc::new(weights),
            evaluation: None,
        });
        self.follow_training = false;
        self.activate(&id);
        self.finetuning = Finetuning::Done { model_id: id, report };
    }
}
