//! The models a user has in this browser: the shipped one, every training run, every upload and
//! every fine-tuned model, each with its weights and what is known of its accuracy.
//!
//! Contract: nothing the user has is replaced silently. A run's snapshots update that run's own
//! entry only; an upload or a fine-tuned model is always a new entry; weights enter only after the
//! core checkpoint loader accepted them (so non-finite weights never do); a deleted entry can be
//! brought back until the next deletion. Persistence follows this state: every entry carries a
//! revision, and [`ModelHistory::sync`] tells the storage layer what to write and what to delete
//! since it last wrote, so the reducer stays pure and IndexedDB never holds what the page no longer
//! shows. Records that cannot be read are kept apart ([`BrokenEntry`]) with the reason, so the page
//! can name them and offer to delete them.

use std::collections::HashMap;
use std::rc::Rc;

use serde::{Deserialize, Serialize};

use crate::checkpoint::{self, CheckpointError};
use crate::evaluation::Evaluation;
use crate::model::ModelConfig;

use super::settings::TrainSettings;

/// The id of the shipped model (never stored: it is fetched with the page).
pub const PRETRAINED_ID: &str = "pretrained";

/// Where a model came from (`data-kind`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ModelKind {
    Pretrained,
    Trained,
    Uploaded,
    Finetuned,
}

impl ModelKind {
    pub const ALL: [ModelKind; 4] = [Self::Pretrained, Self::Trained, Self::Uploaded, Self::Finetuned];

    /// The DOM value (`data-kind`, `data-model`).
    pub fn key(self) -> &'static str {
        match self {
            Self::Pretrained => "pretrained",
            Self::Trained => "trained",
            Self::Uploaded => "uploaded",
            Self::Finetuned => "finetuned",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Pretrained => "Pretrained",
            Self::Trained => "Trained here",
            Self::Uploaded => "Uploaded",
            Self::Finetuned => "Fine-tuned",
        }
    }
}

/// What the page knows of a model besides its weights.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ModelEntry {
    pub id: String,
    pub kind: ModelKind,
    /// What the list shows (a run's start time, an uploaded file's name, …).
    pub name: String,
    /// When it was made (milliseconds since the Unix epoch, the page's clock).
    pub created_ms: f64,
    pub config: ModelConfig,
    /// Size of the weights file.
    pub bytes: usize,
    /// The best-known test accuracy, and how many MNIST test images it was measured on.
    pub test_accuracy: Option<f64>,
    #[serde(default)]
    pub test_images: usize,
    /// A training run's settings.
    #[serde(default)]
    pub settings: Option<TrainSettings>,
    /// A fine-tuned model's origin and before → after figures.
    #[serde(default)]
    pub note: Option<String>,
}

/// A model as the storage layer keeps it.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredModel {
    pub entry: ModelEntry,
    pub weights: Rc<Vec<u8>>,
    pub evaluation: Option<Rc<Evaluation>>,
}

/// The part of a stored record that is not the weights, as JSON.
#[derive(Serialize, Deserialize)]
struct StoredMeta {
    entry: ModelEntry,
    evaluation: Option<Evaluation>,
}

/// [`StoredMeta`] as read back: the evaluation still as JSON.
#[derive(Deserialize)]
struct ReadMeta {
    entry: ModelEntry,
    evaluation: Option<serde_json::Value>,
}

impl StoredModel {
    /// The metadata as the storage layer writes it beside the weights.
    pub fn meta_json(&self) -> String {
        let meta = StoredMeta {
            entry: self.entry.clone(),
            evaluation: self.evaluation.as_deref().cloned(),
        };
        serde_json::to_string(&meta).unwrap_or_default()
    }

    /// A record read back under `key`: its metadata (JSON) and weights, each `None` if missing.
    /// Every check of a new model applies, so a damaged record is an error naming why.
    pub fn decode(key: &str, meta_json: Option<&str>, weights: Option<Vec<u8>>) -> Result<Self, BrokenEntry> {
        let broken = |reason: String| BrokenEntry {
            id: key.to_string(),
            reason,
        };
        let meta: ReadMeta = serde_json::from_str(meta_json.ok_or_else(|| broken("no description".into()))?)
            .map_err(|e| broken(format!("unreadable description ({e})")))?;
        // The evaluation is a cache: one that does not read back (JSON writes a non-finite loss
        // as null) is dropped, and the model is scored again; the model itself is fine.
        let evaluation = meta
            .evaluation
            .and_then(|v| serde_json::from_value::<Evaluation>(v).ok());
        if meta.entry.id != key {
            return Err(broken(format!(
                "stored under {key:?} but describes {:?}",
                meta.entry.id
            )));
        }
        let weights = weights.ok_or_else(|| broken("no weights".into()))?;
        let config = validate(&weights).map_err(|e| broken(e.to_string()))?;
        if config != meta.entry.config {
            return Err(broken("its description does not match its weights".into()));
        }
        Ok(Self {
            entry: meta.entry,
            weights: Rc::new(weights),
            evaluation: evaluation.map(Rc::new),
        })
    }
}

/// A stored record that could not be read: shown by name with a way to delete it.
#[derive(Clone, Debug, PartialEq)]
pub struct BrokenEntry {
    pub id: String,
    pub reason: String,
}

/// The core checkpoint loader's verdict on `weights`, and their architecture.
pub fn validate(weights: &[u8]) -> Result<ModelConfig, CheckpointError> {
    Ok(checkpoint::from_bytes(weights, &candle_core::Device::Cpu)?.config)
}

/// What the storage layer must do to match the history (see [`ModelHistory::sync`]).
#[derive(Debug, Default, PartialEq)]
pub struct SyncPlan {
    pub put: Vec<StoredModel>,
    pub delete: Vec<String>,
}

#[derive(Clone, Debug, Default)]
pub struct ModelHistory {
    /// Newest first, the pretrained model last.
    models: Vec<StoredModel>,
    /// Bumped on every change of an entry, for [`ModelHistory::sync`].
    revisions: HashMap<String, u64>,
    next_revision: u64,
    broken: Vec<BrokenEntry>,
    /// The last deleted model, until another is deleted or it is restored.
    deleted: Option<StoredModel>,
}

impl ModelHistory {
    pub fn entries(&self) -> impl Iterator<Item = &ModelEntry> {
        self.models.iter().map(|m| &m.entry)
    }

    pub fn get(&self, id: &str) -> Option<&StoredModel> {
        self.models.iter().find(|m| m.entry.id == id)
    }

    pub fn broken(&self) -> &[BrokenEntry] {
        &self.broken
    }

    pub fn deleted(&self) -> Option<&ModelEntry> {
        self.deleted.as_ref().map(|m| &m.entry)
    }

    /// The newest model of `kind`.
    pub fn newest(&self, kind: ModelKind) -> Option<&ModelEntry> {
        self.entries().find(|e| e.kind == kind)
    }

    /// Adds or replaces the model with `model.entry.id`, keeping the list newest first.
    pub fn put(&mut self, model: StoredModel) {
        let id = model.entry.id.clone();
        self.models.retain(|m| m.entry.id != id);
        self.broken.retain(|b| b.id != id);
        self.models.push(model);
        // A stable sort: newest first, the pretrained model last.
        self.models.sort_by(|a, b| {
            let pretrained = |m: &StoredModel| m.entry.kind == ModelKind::Pretrained;
            (pretrained(a).cmp(&pretrained(b))).then(b.entry.created_ms.total_cmp(&a.entry.created_ms))
        });
        self.touch(&id);
    }

    /// Records an evaluation of model `id`: it replaces a known one unless that one covered more
    /// test images. Returns whether it was kept.
    pub fn set_evaluation(&mut self, id: &str, evaluation: Rc<Evaluation>) -> bool {
        let Some(m) = self.models.iter_mut().find(|m| m.entry.id == id) else {
            return false;
        };
        let known = m.evaluation.as_ref().map_or(0, |e| e.predictions.len());
        if evaluation.predictions.len() < known {
            return false;
        }
        m.entry.test_accuracy = Some(evaluation.accuracy);
        m.entry.test_images = evaluation.predictions.len();
        m.evaluation = Some(evaluation);
        self.touch(id);
        true
    }

    /// Deletes model `id` (not the pretrained one); it can be restored until the next deletion.
    pub fn delete(&mut self, id: &str) -> bool {
        let Some(i) = self.models.iter().position(|m| m.entry.id == id) else {
            let before = self.broken.len();
            self.broken.retain(|b| b.id != id);
            self.next_revision += 1;
            return self.broken.len() != before;
        };
        if self.models[i].entry.kind == ModelKind::Pretrained {
            return false;
        }
        self.deleted = Some(self.models.remove(i));
        self.revisions.remove(id);
        self.next_revision += 1;
        true
    }

    /// Brings back the last deleted model. Returns its id.
    pub fn undo_delete(&mut self) -> Option<String> {
        let model = self.deleted.take()?;
        let id = model.entry.id.clone();
        self.put(model);
        Some(id)
    }

    /// Forgets the undo (the page dismissed the notice that offered it).
    pub fn forget_deleted(&mut self) {
        self.deleted = None;
    }

    /// Takes in what storage held at page load: readable models join the list (as stored:
    /// revision 0, which [`ModelHistory::sync`] takes for "already written"), the others are
    /// kept as broken entries.
    pub fn restore(&mut self, records: Vec<Result<StoredModel, BrokenEntry>>) {
        for record in records {
            match record {
                Ok(model) if model.entry.kind != ModelKind::Pretrained => {
                    let id = model.entry.id.clone();
                    self.put(model);
                    self.revisions.insert(id, 0);
                }
                Ok(model) => self.broken.push(BrokenEntry {
                    id: model.entry.id,
                    reason: "claims to be the pretrained model".into(),
                }),
                Err(broken) => self.broken.push(broken),
            }
        }
    }

    /// An id for a new model of `kind` made at `now_ms` that no model has yet.
    pub fn new_id(&self, kind: ModelKind, now_ms: f64) -> String {
        let base = format!("{}-{}", kind.key(), now_ms.max(0.0) as u64);
        let taken = |id: &str| self.get(id).is_some() || self.broken.iter().any(|b| b.id == id);
        (0..)
            .map(|n| if n == 0 { base.clone() } else { format!("{base}-{n}") })
            .find(|id| !taken(id))
            .unwrap_or(base)
    }

    /// What to write and delete so that storage matches the list, given the revision of each id
    /// the storage holds (`saved`: 0 for what was there at page load; updated here as if the plan
    /// succeeded, so the caller removes what fails to be written). Broken records stay until the
    /// user deletes them; the pretrained model is never stored.
    pub fn sync(&self, saved: &mut HashMap<String, u64>) -> SyncPlan {
        let mut plan = SyncPlan::default();
        for m in &self.models {
            let id = &m.entry.id;
            if m.entry.kind == ModelKind::Pretrained {
                continue;
            }
            let revision = self.revisions.get(id).copied().unwrap_or(0);
            if saved.get(id) != Some(&revision) {
                saved.insert(id.clone(), revision);
                plan.put.push(m.clone());
            }
        }
        let keep = |id: &String| self.get(id).is_some() || self.broken.iter().any(|b| &b.id == id);
        plan.delete = saved.keys().filter(|id| !keep(id)).cloned().collect();
        plan.delete.sort();
        saved.retain(|id, _| keep(id));
        plan
    }

    /// Changes with every change of the list: what the page's storage effect watches.
    pub fn generation(&self) -> u64 {
        self.next_revision
    }

    fn touch(&mut self, id: &str) {
        self.next_revision += 1;
        self.revisions.insert(id.to_string(), self.next_revision);
    }
}

#[cfg(test)]
mod tests;
