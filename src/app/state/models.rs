//! How the page's actions change the model list and which model predicts: the shipped model
//! arriving, what storage held, uploads, switching and deleting.

use std::rc::Rc;

use crate::evaluation::Evaluation;
use crate::predictor::Predictor;

use super::super::model_history::{validate, BrokenEntry, ModelEntry, ModelKind, StoredModel, PRETRAINED_ID};
use super::{count, pretrained_entry, AppState, ErrorKind};

impl AppState {
    /// Makes model `id` the one that predicts, if its weights load.
    pub(super) fn activate(&mut self, id: &str) {
        let Some(model) = self.models.get(id) else {
            return;
        };
        match Predictor::from_bytes(&model.weights) {
            Ok(p) => {
                self.predictor = Some(Rc::new(p));
                self.selected = Some(id.to_string());
                self.selected_cell = None;
            }
            Err(e) => {
                let (kind, name) = (model.entry.kind, model.entry.name.clone());
                let error_kind = if kind == ModelKind::Pretrained {
                    ErrorKind::Pretrained
                } else {
                    ErrorKind::Model
                };
                self.fail(error_kind, format!("{name:?} cannot be used: {e}"));
            }
        }
    }

    pub(super) fn pretrained_loaded(&mut self, bytes: Rc<Vec<u8>>, evaluation: Option<Rc<Evaluation>>) {
        let config = match validate(&bytes) {
            Ok(config) => config,
            Err(e) => return self.fail(ErrorKind::Pretrained, format!("the pretrained model: {e}")),
        };
        if self.error.as_ref().is_some_and(|e| e.kind == ErrorKind::Pretrained) {
            self.error = None;
        }
        self.models.put(StoredModel {
            entry: pretrained_entry(bytes.len(), config),
            weights: bytes,
            evaluation: None,
        });
        if let Some(evaluation) = evaluation {
            self.models.set_evaluation(PRETRAINED_ID, evaluation);
        }
        if self.selected.is_none() || self.selected.as_deref() == Some(PRETRAINED_ID) {
            self.activate(PRETRAINED_ID);
        }
    }

    pub(super) fn restored(
        &mut self,
        models: Vec<Result<StoredModel, BrokenEntry>>,
        legacy: Vec<Vec<u8>>,
        selected: Option<String>,
        now_ms: f64,
    ) {
        let mut restored = models.iter().filter(|m| m.is_ok()).count();
        self.models.restore(models);
        // Weights saved before the list existed: they become entries of their own.
        for (i, weights) in legacy.into_iter().enumerate() {
            match validate(&weights) {
                Ok(config) => {
                    let id = self.models.new_id(ModelKind::Trained, now_ms);
                    self.models.put(StoredModel {
                        entry: ModelEntry {
                            id,
                            kind: ModelKind::Trained,
                            name: "Trained in this browser before the model list existed".into(),
                            created_ms: now_ms - 1.0 - i as f64,
                            config,
                            bytes: weights.len(),
                            test_accuracy: None,
                            test_images: 0,
                            settings: None,
                            note: None,
                        },
                        weights: Rc::new(weights),
                        evaluation: None,
                    });
                    restored += 1;
                }
                Err(e) => self.models.restore(vec![Err(BrokenEntry {
                    id: "trained".into(),
                    reason: e.to_string(),
                })]),
            }
        }
        if let Some(id) = selected.filter(|id| self.models.get(id).is_some()) {
            self.activate(&id);
        }
        let broken = self.models.broken();
        let mut notice = Vec::new();
        if restored > 0 {
            let plural = if restored == 1 { "" } else { "s" };
            notice.push(format!(
                "Restored {restored} model{plural} from this browser's storage."
            ));
        }
        if !broken.is_empty() {
            let names: Vec<String> = broken.iter().map(|b| format!("{:?} ({})", b.id, b.reason)).collect();
            notice.push(format!(
                "Skipped {} saved model{} that could not be read: {}. Delete {} in the model list.",
                broken.len(),
                if broken.len() == 1 { "" } else { "s" },
                names.join("; "),
                if broken.len() == 1 { "it" } else { "them" }
            ));
        }
        if !notice.is_empty() {
            self.notice = Some(notice.join(" "));
        }
    }

    pub(super) fn uploaded(&mut self, name: String, bytes: Rc<Vec<u8>>, now_ms: f64) {
        let config = match validate(&bytes) {
            Ok(config) => config,
            // The current model stays.
            Err(e) => return self.fail(ErrorKind::Upload, format!("{name}: {e}")),
        };
        if self.error.as_ref().is_some_and(|e| e.kind == ErrorKind::Upload) {
            self.error = None;
        }
        let id = self.models.new_id(ModelKind::Uploaded, now_ms);
        self.models.put(StoredModel {
            entry: ModelEntry {
                id: id.clone(),
                kind: ModelKind::Uploaded,
                name,
                created_ms: now_ms,
                config,
                bytes: bytes.len(),
                test_accuracy: None,
                test_images: 0,
                settings: None,
                note: None,
            },
            weights: bytes,
            evaluation: None,
        });
        self.follow_training = false;
        self.activate(&id);
    }

    pub(super) fn delete(&mut self, id: &str) {
        let name = self.models.get(id).map(|m| m.entry.name.clone());
        if !self.models.delete(id) {
            return;
        }
        if self.selected.as_deref() == Some(id) {
            self.follow_training = false;
            self.activate(PRETRAINED_ID);
        }
        // The running run's own entry: its next snapshot would bring it back unasked, so the run
        // goes on without storing snapshots (Undo brings back the entry as it was).
        if self.run_id.as_deref() == Some(id) {
            self.run_id = None;
        }
        if let Some(name) = name {
            self.notice = Some(deleted_notice(&name));
        }
    }

    /// Whether the notice shown is the one about the last deletion, which offers Undo: any other
    /// notice that replaced it (a saved digit, a dropped helper) does not.
    pub fn offers_undo(&self) -> bool {
        match (self.models.deleted(), &self.notice) {
            (Some(entry), Some(notice)) => *notice == deleted_notice(&entry.name),
            _ => false,
        }
    }

    /// What the matrix heading says of the selected model's evaluation.
    pub fn evaluation_caption(&self) -> Option<String> {
        let entry = self.selected_entry()?;
        let images = self.evaluation().map_or(0, |e| e.predictions.len());
        Some(format!(
            "{} — {}: {} test images",
            entry.kind.label(),
            entry.name,
            count(images)
        ))
    }
}

fn deleted_notice(name: &str) -> String {
    format!("Deleted {name:?}.")
}
