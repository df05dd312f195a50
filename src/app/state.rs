//! The page's state as a reducer: [`AppState`] changes only through [`Action`]s.
//!
//! Contract: components render from `AppState` and dispatch `Action`s; nothing here touches the
//! DOM, the network or storage, so every transition is a plain function of (state, action),
//! compiled and tested natively ([`AppState::apply`]; `web/` wraps it as Yew's `Reducible`).
//! Loading a model into the predictor happens here because it is pure (bytes → validated model)
//! and decides which error, if any, the page shows.

use std::rc::Rc;

use crate::predictor::{Prediction, Predictor};

use super::model_source::{ModelSource, Models};
use super::protocol::{EvalReport, FailureKind, WorkerOutput};
use super::settings::TrainSettings;

/// What the training worker is doing, as the page shows it (`data-state`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    Idle,
    Loading,
    Training,
    Paused,
    Done,
    Error,
}

impl RunState {
    pub fn key(self) -> &'static str {
        match self {
            RunState::Idle => "idle",
            RunState::Loading => "loading",
            RunState::Training => "training",
            RunState::Paused => "paused",
            RunState::Done => "done",
            RunState::Error => "error",
        }
    }

    /// A run exists in the worker (it can be paused or stopped).
    pub fn is_active(self) -> bool {
        matches!(self, RunState::Loading | RunState::Training | RunState::Paused)
    }
}

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
}

#[derive(Clone, Debug, PartialEq)]
pub struct AppError {
    pub kind: ErrorKind,
    pub message: String,
}

/// Live numbers of the current (or last) run.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RunProgress {
    pub loading: String,
    pub epoch: usize,
    pub step: usize,
    pub total_steps: usize,
    pub steps_per_epoch: usize,
    pub train_size: usize,
    /// Workers training the current run (data-parallel when more than one).
    pub workers: usize,
    pub images_per_second: f64,
    pub eta_seconds: f64,
    /// `(scored, total)` test images while the final evaluation runs.
    pub scoring: Option<(usize, usize)>,
    /// `(step, smoothed loss)` after each progress message.
    pub loss_history: Vec<(usize, f32)>,
    /// `(step, accuracy)` after each evaluation.
    pub accuracy_history: Vec<(usize, f64)>,
}

/// The held-out images the worker evaluates on.
#[derive(Clone, Debug, PartialEq)]
pub struct EvalSet {
    pub images: Vec<u8>,
    pub labels: Vec<u8>,
}

#[derive(Clone, Default)]
pub struct AppState {
    pub settings: TrainSettings,
    pub run: Option<RunState>,
    pub progress: RunProgress,
    pub eval_set: Option<Rc<EvalSet>>,
    pub last_eval: Option<Rc<EvalReport>>,
    /// The confusion-matrix cell whose examples are shown, `(true, predicted)`.
    pub selected_cell: Option<(usize, usize)>,
    pub models: Models,
    pub source: Option<ModelSource>,
    pub predictor: Option<Rc<Predictor>>,
    /// Switch to each new snapshot of the run (until the user picks another model).
    pub follow_training: bool,
    pub prediction: Option<Rc<Prediction>>,
    pub error: Option<AppError>,
    pub notice: Option<String>,
}

// Actions are dispatched one at a time; their size does not matter.
#[allow(clippy::large_enum_variant)]
pub enum Action {
    SetSettings(TrainSettings),
    /// The user asked for a new run.
    StartRequested,
    Worker(WorkerOutput),
    WorkerCrashed(String),
    /// Back to a clean page (after a crash, or to discard a run).
    ResetTraining,
    /// Weights arrived for `source`; `activate` makes them the predicting model.
    ModelBytes {
        source: ModelSource,
        bytes: Rc<Vec<u8>>,
        activate: bool,
    },
    UseModel(ModelSource),
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

    fn fail(&mut self, kind: ErrorKind, message: String) {
        self.error = Some(AppError { kind, message });
    }

    /// Makes `source` the predicting model, if its bytes load.
    fn activate(&mut self, source: ModelSource) {
        let Some(bytes) = self.models.get(source) else {
            return;
        };
        match Predictor::from_bytes(&bytes) {
            Ok(p) => {
                self.predictor = Some(Rc::new(p));
                self.source = Some(source);
            }
            Err(e) => {
                let kind = match source {
                    ModelSource::Uploaded => ErrorKind::Upload,
                    ModelSource::Pretrained => ErrorKind::Pretrained,
                    ModelSource::Trained => ErrorKind::Training(FailureKind::Training),
                };
                self.models.set(source, None);
                self.fail(kind, format!("{}: {e}", source.describe()));
            }
        }
    }

    fn on_worker(&mut self, output: WorkerOutput) {
        let p = &mut self.progress;
        match output {
            WorkerOutput::Loading { what } => {
                self.run = Some(RunState::Loading);
                p.loading = what;
            }
            WorkerOutput::Started {
                total_steps,
                steps_per_epoch,
                train_size,
                eval_images,
                eval_labels,
                workers,
            } => {
                self.run = Some(RunState::Training);
                *p = RunProgress {
                    total_steps,
                    steps_per_epoch,
                    train_size,
                    workers,
                    ..RunProgress::default()
                };
                self.eval_set = Some(Rc::new(EvalSet {
                    images: eval_images,
                    labels: eval_labels,
                }));
                self.last_eval = None;
                self.selected_cell = None;
            }
            WorkerOutput::Progress(prog) => {
                p.epoch = prog.epoch;
                p.step = prog.step;
                p.images_per_second = prog.images_per_second;
                p.workers = prog.workers;
                p.eta_seconds = prog.eta_seconds;
                p.loss_history.push((prog.step, prog.smoothed_loss));
            }
            WorkerOutput::Scoring { scored, total } => p.scoring = Some((scored, total)),
            WorkerOutput::Evaluated(mut report) => {
                p.accuracy_history.push((report.step, report.evaluation.accuracy));
                let weights = Rc::new(std::mem::take(&mut report.weights));
                self.last_eval = Some(Rc::new(report));
                self.models.set(ModelSource::Trained, Some(weights));
                if self.follow_training || self.source == Some(ModelSource::Trained) {
                    self.activate(ModelSource::Trained);
                }
            }
            WorkerOutput::Notice { message } => self.notice = Some(message),
            WorkerOutput::Paused => self.run = Some(RunState::Paused),
            WorkerOutput::Resumed => self.run = Some(RunState::Training),
            WorkerOutput::Finished { .. } => {
                self.run = Some(RunState::Done);
                self.follow_training = false;
            }
            WorkerOutput::Failed { kind, message } => {
                self.run = Some(RunState::Error);
                self.follow_training = false;
                self.fail(ErrorKind::Training(kind), message);
            }
        }
    }
}

impl AppState {
    /// The state after `action`.
    pub fn apply(&mut self, action: Action) {
        match action {
            Action::SetSettings(settings) => self.settings = settings.clamped(),
            Action::StartRequested => {
                self.run = Some(RunState::Loading);
                self.progress = RunProgress::default();
                self.follow_training = true;
                if matches!(self.error.as_ref().map(|e| e.kind), Some(ErrorKind::Training(_))) {
                    self.error = None;
                }
            }
            Action::Worker(output) => self.on_worker(output),
            Action::WorkerCrashed(message) => {
                self.run = Some(RunState::Error);
                self.fail(ErrorKind::WorkerCrash, message);
            }
            Action::ResetTraining => {
                self.run = None;
                self.progress = RunProgress::default();
                self.last_eval = None;
                self.eval_set = None;
                self.selected_cell = None;
                self.follow_training = false;
                if matches!(
                    self.error.as_ref().map(|e| e.kind),
                    Some(ErrorKind::Training(_) | ErrorKind::WorkerCrash)
                ) {
                    self.error = None;
                }
            }
            Action::ModelBytes {
                source,
                bytes,
                activate,
            } => {
                if self.error.as_ref().is_some_and(|e| e.kind == ErrorKind::Upload) {
                    self.error = None;
                }
                self.models.set(source, Some(bytes));
                if activate || self.source.is_none() || self.source == Some(source) {
                    self.activate(source);
                }
            }
            Action::UseModel(source) => {
                self.follow_training = source == ModelSource::Trained && self.run_state().is_active();
                self.activate(source);
            }
            Action::Failed(kind, message) => self.fail(kind, message),
            Action::Predicted(p) => self.prediction = p,
            Action::SelectCell(cell) => self.selected_cell = cell,
            Action::DismissError => self.error = None,
            Action::Notice(n) => self.notice = n,
        }
    }
}

#[cfg(test)]
mod tests {
    use candle_core::Device;

    use super::*;
    use crate::checkpoint;
    use crate::evaluation::Evaluation;
    use crate::model::{init_params, ModelConfig};

    fn small_model_bytes(seed: u64) -> Vec<u8> {
        let config = ModelConfig::small();
        let varmap = init_params(&config, seed, &Device::Cpu).expect("init");
        checkpoint::to_bytes(&varmap, &config).expect("serialise")
    }

    fn with_pretrained() -> AppState {
        let mut state = AppState::default();
        state.apply(Action::ModelBytes {
            source: ModelSource::Pretrained,
            bytes: Rc::new(small_model_bytes(7)),
            activate: false,
        });
        state
    }

    #[test]
    fn a_bad_upload_is_an_error_and_keeps_the_model() {
        let mut state = with_pretrained();
        assert_eq!(state.source, Some(ModelSource::Pretrained));
        state.apply(Action::ModelBytes {
            source: ModelSource::Uploaded,
            bytes: Rc::new(b"not a model".to_vec()),
            activate: true,
        });
        let error = state.error.as_ref().expect("an error is shown");
        assert_eq!(error.kind, ErrorKind::Upload);
        assert!(error.message.contains("safetensors"), "{}", error.message);
        assert_eq!(state.source, Some(ModelSource::Pretrained));
        assert!(state.models.get(ModelSource::Uploaded).is_none());
    }

    #[test]
    fn a_run_follows_its_snapshots_until_another_model_is_chosen() {
        let mut state = with_pretrained();
        state.apply(Action::StartRequested);
        assert_eq!(state.run_state(), RunState::Loading);
        let report = |step| EvalReport {
            step,
            evaluation: Evaluation {
                accuracy: 0.5,
                loss: 1.0,
                confusion: Default::default(),
                predictions: vec![],
            },
            weights: small_model_bytes(step as u64),
        };
        state.apply(Action::Worker(WorkerOutput::Evaluated(report(10))));
        assert_eq!(state.source, Some(ModelSource::Trained));
        assert_eq!(state.progress.accuracy_history, [(10, 0.5)]);
        state.apply(Action::UseModel(ModelSource::Pretrained));
        state.apply(Action::Worker(WorkerOutput::Evaluated(report(20))));
        assert_eq!(state.source, Some(ModelSource::Pretrained), "the user's choice stays");
        state.apply(Action::Worker(WorkerOutput::Failed {
            kind: FailureKind::Diverged,
            message: "diverged".into(),
        }));
        assert_eq!(state.run_state(), RunState::Error);
        assert_eq!(
            state.error.as_ref().map(|e| e.kind),
            Some(ErrorKind::Training(FailureKind::Diverged))
        );
    }
}
