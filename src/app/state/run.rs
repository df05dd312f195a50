//! The training run as the page sees it: its state, its live numbers, and how the worker's
//! messages about it change the page (each snapshot updates the run's own model entry).

use std::rc::Rc;

use super::super::model_history::{ModelEntry, ModelKind, StoredModel};
use super::super::protocol::{EvalReport, WorkerOutput};
use super::super::settings::TrainSettings;
use super::{count, AppState, ErrorKind, Scoring};

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
    /// When the run was started (ms since the Unix epoch): its model entry's date.
    pub started_ms: f64,
    /// The settings it runs with.
    pub settings: TrainSettings,
}

impl AppState {
    pub(super) fn start_requested(&mut self, now_ms: f64) {
        self.run = Some(RunState::Loading);
        self.progress = RunProgress {
            started_ms: now_ms,
            settings: self.settings.clone(),
            ..RunProgress::default()
        };
        self.run_id = Some(self.models.new_id(ModelKind::Trained, now_ms));
        self.run_accuracy = None;
        self.follow_training = true;
        // The worker drops a scoring job and a fine-tuning when a run starts.
        self.scoring = None;
        if matches!(self.finetuning, super::Finetuning::Training { .. }) {
            self.finetuning = super::Finetuning::Error("Stopped: a training run started.".into());
        }
        if matches!(self.error.as_ref().map(|e| e.kind), Some(ErrorKind::Training(_))) {
            self.error = None;
        }
    }

    pub(super) fn reset_training(&mut self) {
        self.run = None;
        self.progress = RunProgress::default();
        self.run_accuracy = None;
        self.scoring = None;
        self.follow_training = false;
        // The worker, and any fine-tuning in it, is gone.
        if self.finetune_running() {
            self.finetuning = super::Finetuning::Error("Stopped: the worker was reset.".into());
        }
        if matches!(
            self.error.as_ref().map(|e| e.kind),
            Some(ErrorKind::Training(_) | ErrorKind::WorkerCrash)
        ) {
            self.error = None;
        }
    }

    pub(super) fn on_worker(&mut self, output: WorkerOutput) {
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
                workers,
            } => {
                self.run = Some(RunState::Training);
                *p = RunProgress {
                    total_steps,
                    steps_per_epoch,
                    train_size,
                    workers,
                    started_ms: p.started_ms,
                    settings: p.settings.clone(),
                    ..RunProgress::default()
                };
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
            WorkerOutput::Evaluated(report) => self.snapshot(report),
            // Messages of a job the page no longer waits for (a run started, the worker was
            // reset, another model's job replaced it) may still be on their way: only the job
            // asked for moves.
            WorkerOutput::ModelScoring { id, scored, total } => {
                if self.scoring_job_is(&id) && !self.run_state().is_active() {
                    self.scoring = Some(Scoring { id, scored, total });
                }
            }
            WorkerOutput::ModelEvaluated { id, evaluation } => {
                if self.scoring_job_is(&id) {
                    self.scoring = None;
                }
                // Still true of that model, whichever job asked.
                self.models.set_evaluation(&id, Rc::new(evaluation));
            }
            WorkerOutput::ScoringFailed { id, message } => {
                if self.scoring_job_is(&id) {
                    self.scoring = None;
                    self.scoring_failed = Some(id);
                    self.notice = Some(message);
                }
            }
            WorkerOutput::FinetuneProgress { step, total } => {
                if self.finetune_running() {
                    self.finetuning = super::Finetuning::Training { step, total };
                }
            }
            WorkerOutput::Finetuned {
                base_id,
                report,
                weights,
                samples,
            } => {
                if self.finetune_running() {
                    self.finetuned(base_id, report, weights, samples);
                }
            }
            WorkerOutput::FinetuneFailed { message } => {
                if self.finetune_running() {
                    self.finetuning = super::Finetuning::Error(message);
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
                // A crashed or failed worker ends a fine-tuning too.
                if matches!(self.finetuning, super::Finetuning::Training { .. }) {
                    self.finetuning = super::Finetuning::Error(message.clone());
                }
                self.run = Some(RunState::Error);
                self.follow_training = false;
                self.scoring = None;
                self.fail(ErrorKind::Training(kind), message);
            }
        }
    }

    /// A snapshot of the run's weights with their evaluation: it updates the run's own entry (the
    /// only one it may change), and the page follows it unless the user chose another model.
    fn snapshot(&mut self, report: EvalReport) {
        let evaluation = Rc::new(report.evaluation);
        self.progress.accuracy_history.push((report.step, evaluation.accuracy));
        self.run_accuracy = Some((evaluation.accuracy, evaluation.predictions.len()));
        let Some(id) = self.run_id.clone() else {
            return;
        };
        // The worker never sends weights the checkpoint loader refuses; check all the same,
        // since a bad entry would outlive the page.
        let config = match super::super::model_history::validate(&report.weights) {
            Ok(config) => config,
            Err(e) => return self.fail(ErrorKind::Model, format!("the run's snapshot was not saved: {e}")),
        };
        let settings = self.progress.settings.clone();
        let name = format!(
            "{} · {} × {} images · batch {} · lr {}",
            settings.width.label(),
            settings.epochs,
            count(settings.train_size),
            settings.batch_size,
            settings.lr
        );
        let model = StoredModel {
            entry: ModelEntry {
                id: id.clone(),
                kind: ModelKind::Trained,
                name,
                created_ms: self.progress.started_ms,
                config,
                bytes: report.weights.len(),
                test_accuracy: Some(evaluation.accuracy),
                test_images: evaluation.predictions.len(),
                settings: Some(settings),
                note: Some(format!("after {} steps", report.step)),
            },
            weights: Rc::new(report.weights),
            // A snapshot's evaluation is of these weights: it replaces the last one whatever its size.
            evaluation: Some(evaluation),
        };
        self.models.put(model);
        if self.follow_training || self.selected.as_deref() == Some(&id) {
            self.activate(&id);
        }
    }
}

impl AppState {
    fn scoring_job_is(&self, id: &str) -> bool {
        self.scoring.as_ref().is_some_and(|s| s.id == id)
    }

    fn finetune_running(&self) -> bool {
        matches!(self.finetuning, super::Finetuning::Training { .. })
    }
}
