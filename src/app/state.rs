//! The page's state as a reducer: [`AppState`] changes only through [`Action`]s.
//!
//! Contract: components render from `AppState` and dispatch `Action`s; nothing here touches the
//! DOM, the network, storage or a clock (actions carry the time when it matters), so every
//! transition is a plain function of (state, action), compiled and tested natively
//! ([`AppState::apply`]; `web/` wraps it as Yew's `Reducible`). Loading a model into the predictor
//! happens here because it is pure (bytes → validated model) and decides which error, if any, the
//! page shows. What must happen outside (writing storage, asking the worker for an evaluation) is
//! derived from the state by the page ([`AppState::evaluation_needed`],
//! [`super::model_history::ModelHistory::sync`]).

use std::rc::Rc;

use crate::evaluation::Evaluation;
use crate::predictor::{Prediction, Predictor};

use super::model_history::{BrokenEntry, ModelEntry, ModelHistory, ModelKind, StoredModel, PRETRAINED_ID};
use super::my_digits::{MyDigits, Sample};
use super::protocol::{FailureKind, WorkerOutput};
use super::settings::TrainSettings;

mod digits;
mod models;
mod run;
#[cfg(test)]
mod tests;
mod tune;

pub use digits::DigitsScore;
pub use run::{RunProgress, RunState};
pub use tune::Finetuning;

/// What went wrong; decides the retry button.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The pretrained weights could not be fetched or loaded.
    Pretrained,
    /// A training run failed (data, divergence, trainer).
    Training(FailureKind),
    /// The worker died.
    WorkerCrash,
    /// An uploaded file is not a usable checkpoint.
    Upload,
    /// The browser's storage refused to save (quota) or could not be opened.
    Storage,
    /// A stored model could not be used.
    Model,
    /// My digits: an import that is not a valid IDX pair, or a full collection.
    Digits,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AppError {
    pub kind: ErrorKind,
    pub message: String,
}

/// The MNIST test images, for showing the examples of a confusion-matrix cell.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalSet {
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
}

/// How far the worker has got scoring a model on the test set.
#[derive(Clone, Debug, PartialEq)]
pub struct Scoring {
    pub id: String,
    pub scored: usize,
    pub total: usize,
}

#[derive(Clone, Default)]
pub struct AppState {
    pub settings: TrainSettings,
    /// The most workers this device's memory allows (`WorkerBudget::memory_cap`), for the
    /// settings form as for the URL.
    pub worker_cap: Option<usize>,
    pub run: Option<RunState>,
    pub progress: RunProgress,
    /// The id of the current (or last) run's model entry.
    pub run_id: Option<String>,
    /// The latest evaluation of the current (or last) run: accuracy and test images scored.
    pub run_accuracy: Option<(f64, usize)>,
    pub test_set: Option<Rc<EvalSet>>,
    /// The confusion-matrix cell whose examples are shown, `(true, predicted)`.
    pub selected_cell: Option<(usize, usize)>,
    pub models: ModelHistory,
    /// The id of the model that predicts.
    pub selected: Option<String>,
    pub predictor: Option<Rc<Predictor>>,
    /// Switch to each new snapshot of the run (until the user picks another model).
    pub follow_training: bool,
    /// The worker scoring a model whose evaluation on the whole test set is not known yet.
    pub scoring: Option<Scoring>,
    /// The model whose scoring failed (the test set could not be fetched, …): not asked for again
    /// until the user picks a model, so a lasting failure does not loop.
    pub scoring_failed: Option<String>,
    pub prediction: Option<Rc<Prediction>>,
    /// Bumped to clear the drawing pad (after a correction).
    pub pad_clears: u64,
    pub my_digits: MyDigits,
    /// The selected model's score on My digits.
    pub digits_score: Option<DigitsScore>,
    pub finetuning: Finetuning,
    /// When the current fine-tuning was asked for (its model's date).
    pub finetune_started_ms: f64,
    pub error: Option<AppError>,
    pub notice: Option<String>,
}

// Actions are dispatched one at a time; their size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Action {
    SetSettings(TrainSettings),
    /// The user asked for a new run, at `now_ms` (ms since the Unix epoch).
    StartRequested {
        now_ms: f64,
    },
    Worker(WorkerOutput),
    WorkerCrashed(String),
    /// Back to a clean page (after a crash, or to discard a run).
    ResetTraining,
    /// The shipped weights arrived, with their recorded evaluation when the page has it.
    PretrainedLoaded {
        bytes: Rc<Vec<u8>>,
        evaluation: Option<Rc<Evaluation>>,
    },
    /// What storage held at page load: the models (or why each could not be read), models saved
    /// before the list existed (weights only), and the model that was selected.
    Restored {
        models: Vec<Result<StoredModel, BrokenEntry>>,
        legacy: Vec<Vec<u8>>,
        selected: Option<String>,
        now_ms: f64,
    },
    /// The user chose a file of `name`.
    Uploaded {
        name: String,
        bytes: Rc<Vec<u8>>,
        now_ms: f64,
    },
    /// The page asked the worker to score model `id` on the `total` test images.
    ScoringRequested {
        id: String,
        total: usize,
    },
    UseModel(String),
    DeleteModel(String),
    UndoDelete,
    /// The MNIST test set, for the examples of a confusion-matrix cell.
    TestSet(Rc<EvalSet>),
    /// The drawing on the pad is this digit (a correction, or a confirmation), at `now_ms`.
    Correct {
        label: u8,
        now_ms: f64,
    },
    DeleteDigit(String),
    ClearDigits,
    /// An IDX pair of digits was read (or why not).
    ImportedDigits {
        result: Result<crate::data::Dataset, String>,
        now_ms: f64,
    },
    /// What storage held of My digits at page load (`None`: unreadable records).
    DigitsRestored(Vec<Option<Sample>>),
    DigitsScored(DigitsScore),
    /// The user asked to fine-tune the selected model (the page messages the worker when
    /// [`AppState::finetune_requested`] says so).
    FinetuneRequested {
        now_ms: f64,
    },
    Failed(ErrorKind, String),
    Predicted(Option<Rc<Prediction>>),
    SelectCell(Option<(usize, usize)>),
    DismissError,
    Notice(Option<String>),
}

impl AppState {
    pub fn run_state(&self) -> RunState {
        self.run.unwrap_or(RunState::Idle)
    }

    /// The entry of the model that predicts.
    pub fn selected_entry(&self) -> Option<&ModelEntry> {
        self.selected
            .as_deref()
            .and_then(|id| self.models.get(id))
            .map(|m| &m.entry)
    }

    /// The evaluation the confusion matrix shows: the selected model's.
    pub fn evaluation(&self) -> Option<Rc<Evaluation>> {
        let id = self.selected.as_deref()?;
        self.models.get(id)?.evaluation.clone()
    }

    /// The model the worker should score on the whole test set now, if any: the selected one,
    /// when its evaluation covers fewer images than the test set and no run keeps the worker
    /// busy (a run's own evaluations arrive with its snapshots).
    pub fn evaluation_needed(&self, test_images: usize) -> Option<String> {
        let id = self.selected.as_deref()?;
        let model = self.models.get(id)?;
        let known = model.evaluation.as_ref().map_or(0, |e| e.predictions.len());
        let busy = self.run_state().is_active() || self.scoring.as_ref().is_some_and(|s| s.id == id);
        if self.scoring_failed.as_deref() == Some(id) {
            return None;
        }
        (known < test_images && !busy).then(|| id.to_string())
    }

    fn fail(&mut self, kind: ErrorKind, message: String) {
        self.error = Some(AppError { kind, message });
    }

    /// The state after `action`.
    pub fn apply(&mut self, action: Action) {
        match action {
            Action::SetSettings(settings) => {
                let mut settings = settings.clamped();
                if let Some(cap) = self.worker_cap {
                    settings.workers = settings.workers.min(cap.max(1));
                }
                self.settings = settings;
            }
            Action::StartRequested { now_ms } => self.start_requested(now_ms),
            Action::Worker(output) => self.on_worker(output),
            Action::WorkerCrashed(message) => {
                self.run = Some(RunState::Error);
                self.scoring = None;
                if matches!(self.finetuning, Finetuning::Training { .. }) {
                    self.finetuning = Finetuning::Error(format!("the worker crashed: {message}"));
                }
                self.fail(ErrorKind::WorkerCrash, message);
            }
            Action::ResetTraining => self.reset_training(),
            Action::PretrainedLoaded { bytes, evaluation } => self.pretrained_loaded(bytes, evaluation),
            Action::Restored {
                models,
                legacy,
                selected,
                now_ms,
            } => self.restored(models, legacy, selected, now_ms),
            Action::Uploaded { name, bytes, now_ms } => self.uploaded(name, bytes, now_ms),
            Action::ScoringRequested { id, total } => self.scoring = Some(Scoring { id, scored: 0, total }),
            Action::UseModel(id) => {
                // Picking a model is asking again: a failed scoring may be tried once more.
                self.scoring_failed = None;
                self.follow_training = self.run_id.as_deref() == Some(&id) && self.run_state().is_active();
                self.activate(&id);
            }
            Action::DeleteModel(id) => self.delete(&id),
            Action::UndoDelete => {
                if let Some(id) = self.models.undo_delete() {
                    self.notice = None;
                    self.activate(&id);
                }
            }
            Action::TestSet(set) => self.test_set = Some(set),
            Action::Correct { label, now_ms } => self.correct(label, now_ms),
            Action::DeleteDigit(id) => {
                self.my_digits.delete(&id);
            }
            Action::ClearDigits => self.my_digits.clear(),
            Action::ImportedDigits { result, now_ms } => self.imported_digits(result, now_ms),
            Action::DigitsRestored(records) => self.digits_restored(records),
            Action::FinetuneRequested { now_ms } => {
                self.finetune_requested(now_ms);
            }
            Action::DigitsScored(score) => {
                // A score of other samples or another model than now is of no use.
                if self.digits_score_needed() == Some((score.model_id.clone(), score.generation)) {
                    self.digits_score = Some(score);
                }
            }
            Action::Failed(kind, message) => self.fail(kind, message),
            Action::Predicted(p) => self.prediction = p,
            Action::SelectCell(cell) => self.selected_cell = cell,
            Action::DismissError => self.error = None,
            Action::Notice(n) => {
                if n.is_none() {
                    self.models.forget_deleted();
                }
                self.notice = n;
            }
        }
    }
}

/// How many test images, as the page writes it ("10,000").
pub fn count(n: usize) -> String {
    if n >= 1000 {
        format!("{},{:03}", n / 1000, n % 1000)
    } else {
        n.to_string()
    }
}

/// The entry the pretrained weights get.
fn pretrained_entry(bytes: usize, config: crate::model::ModelConfig) -> ModelEntry {
    ModelEntry {
        id: PRETRAINED_ID.into(),
        kind: ModelKind::Pretrained,
        name: "Shipped model (trained natively, 12 epochs)".into(),
        created_ms: 0.0,
        config,
        bytes,
        test_accuracy: None,
        test_images: 0,
        settings: None,
        note: None,
    }
}
