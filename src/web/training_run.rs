//! One training run inside the worker: the core [`Trainer`] plus timing and the evaluation
//! schedule.
//!
//! Contract: [`TrainingRun::tick`] runs exactly one `Trainer::step` (plus a quick evaluation on
//! the first 1,000 test images when [`EvalSchedule`] says one is due) and returns the messages
//! for the page, so the worker can yield to its event loop between ticks and a Pause or Stop
//! waits for at most one batch and one evaluation. After the last batch, each tick scores the next 500 test images
//! until all are scored; only then is the run done. Evaluation time is kept out of images/s.

use web_time::Instant;

use crate::app::eval_schedule::EvalSchedule;
use crate::app::protocol::{EvalReport, FailureKind, Progress, WorkerOutput};
use crate::app::settings::{TrainSettings, QUICK_EVAL_SIZE};
use crate::checkpoint::CheckpointError;
use crate::data::Dataset;
use crate::train::{Evaluation, PartialEvaluation, TrainError, Trainer};

use super::parallel::HelperPool;

/// Progress messages are sent at most this often, so the page is not flooded with renders.
const PROGRESS_INTERVAL_S: f64 = 0.15;
/// Test images scored per tick once training is over: a few tenths of a second even for the
/// seed model, so Stop still answers quickly while the whole test set is scored.
const SCORE_SLICE: usize = 500;
/// Weight of the newest batch in the smoothed loss.
const LOSS_SMOOTHING: f32 = 0.1;

pub struct TrainingRun {
    trainer: Trainer,
    /// The whole MNIST test set, scored at the end of the run.
    test_set: Dataset,
    /// Its first `QUICK_EVAL_SIZE` images, scored during the run.
    quick_set: Dataset,
    /// Seconds spent in `step()` so far.
    train_seconds: f64,
    images_done: usize,
    smoothed_loss: Option<f32>,
    /// When the quick evaluations run.
    schedule: EvalSchedule,
    last_progress: Option<Instant>,
    /// After the last batch: the final evaluation on the whole test set, a slice per tick.
    scoring: Option<PartialEvaluation>,
    scored_all: bool,
    pub paused: bool,
    /// The helper workers of a data-parallel run.
    helpers: Option<HelperPool>,
    /// What went wrong with helpers, for the page (training goes on without them).
    notices: Vec<String>,
}

/// A failure the page should show.
pub type Failure = (FailureKind, String);

impl TrainingRun {
    /// A run of `settings`; with `settings.workers > 1`, helpers are started from `worker_url`
    /// (this worker's script). If they cannot be, the run trains on this worker alone.
    pub fn new(settings: &TrainSettings, train: Dataset, test_set: Dataset, worker_url: &str) -> Result<Self, Failure> {
        let mut notices = Vec::new();
        let helpers = (settings.workers > 1)
            .then(|| HelperPool::start(settings.workers - 1, worker_url, settings, &train))
            .and_then(|started| {
                started
                    .map_err(|e| notices.push(format!("helper workers could not be started ({e})")))
                    .ok()
            });
        let trainer = Trainer::new(
            &settings.width.model_config(),
            settings.train_config(),
            train,
            &candle_core::Device::Cpu,
        )
        .map_err(failure)?;
        Ok(Self {
            trainer,
            quick_set: test_set.take(QUICK_EVAL_SIZE),
            test_set,
            train_seconds: 0.0,
            images_done: 0,
            smoothed_loss: None,
            schedule: EvalSchedule::default(),
            last_progress: None,
            scoring: None,
            scored_all: false,
            paused: false,
            helpers,
            notices,
        })
    }

    pub fn started_message(&self, train_size: usize) -> WorkerOutput {
        WorkerOutput::Started {
            total_steps: self.trainer.total_steps(),
            steps_per_epoch: self.trainer.steps_per_epoch(),
            train_size,
            workers: self.workers(),
        }
    }

    /// A notice for the page for each helper problem since the last call.
    fn take_notices(&mut self) -> Vec<WorkerOutput> {
        if let Some(pool) = &mut self.helpers {
            self.notices.extend(pool.take_notices());
        }
        let workers = self.workers();
        let plural = if workers == 1 { "" } else { "s" };
        std::mem::take(&mut self.notices)
            .into_iter()
            .map(|why| WorkerOutput::Notice {
                message: format!("Training goes on with {workers} worker{plural}: {why}."),
            })
            .collect()
    }

    /// Workers training (this one and its helpers).
    pub fn workers(&self) -> usize {
        self.helpers.as_ref().map_or(1, HelperPool::workers)
    }

    /// All batches trained and the whole test set scored.
    pub fn is_done(&self) -> bool {
        self.scored_all
    }

    /// One batch, then an evaluation if one is due (always after the last batch of an epoch);
    /// after the last batch, one slice of the final evaluation on the whole test set.
    pub async fn tick(&mut self) -> Result<Vec<WorkerOutput>, Failure> {
        if self.trainer.is_done() {
            return self.score_slice();
        }
        let start = Instant::now();
        let stats = match &mut self.helpers {
            Some(pool) => pool.step(&mut self.trainer).await,
            None => self.trainer.step(),
        }
        .map_err(failure)?;
        let took = start.elapsed().as_secs_f64();
        let mut out = self.take_notices();
        self.train_seconds += took;
        self.schedule.trained(took);
        self.images_done += stats.batch_size;
        self.smoothed_loss = Some(match self.smoothed_loss {
            None => stats.loss,
            Some(s) => s + LOSS_SMOOTHING * (stats.loss - s),
        });

        // The quick evaluations run during training; after the last batch the next ticks score
        // the whole test set instead (`score_slice`).
        let last = self.trainer.is_done();
        let t = &self.trainer;
        let eval_due = self.schedule.due(t.steps_done(), t.steps_per_epoch(), t.total_steps());
        let progress_due = self
            .last_progress
            .is_none_or(|t| t.elapsed().as_secs_f64() >= PROGRESS_INTERVAL_S);

        if progress_due || eval_due || last {
            self.last_progress = Some(Instant::now());
            out.push(WorkerOutput::Progress(self.progress(stats.epoch, stats.loss)));
        }
        if eval_due {
            out.push(WorkerOutput::Evaluated(self.evaluate()?));
        }
        if last {
            out.push(WorkerOutput::Scoring {
                scored: 0,
                total: self.test_set.len(),
            });
        }
        Ok(out)
    }

    fn progress(&self, epoch: usize, loss: f32) -> Progress {
        let steps = self.trainer.steps_done();
        let per_step = self.train_seconds / steps.max(1) as f64;
        Progress {
            step: steps,
            epoch,
            loss,
            smoothed_loss: self.smoothed_loss.unwrap_or(loss),
            images_per_second: self.images_done as f64 / self.train_seconds.max(1e-9),
            workers: self.workers(),
            eta_seconds: EvalSchedule::eta_seconds(per_step, self.trainer.total_steps() - steps),
        }
    }

    /// Scores the current weights on the first `QUICK_EVAL_SIZE` test images and snapshots them
    /// for the page.
    pub fn evaluate(&mut self) -> Result<EvalReport, Failure> {
        let start = Instant::now();
        let eval = self.trainer.evaluate(&self.quick_set).map_err(failure)?;
        let report = self.report(eval)?;
        self.schedule.evaluated(start.elapsed().as_secs_f64());
        Ok(report)
    }

    /// The next slice of the final evaluation: the whole test set, so the number a run ends with
    /// is comparable with the CLI's and the README's.
    fn score_slice(&mut self) -> Result<Vec<WorkerOutput>, Failure> {
        let total = self.test_set.len();
        let mut partial = self.scoring.take().unwrap_or_default();
        self.trainer
            .evaluate_more(&self.test_set, &mut partial, SCORE_SLICE)
            .map_err(failure)?;
        let scored = partial.scored();
        if scored < total {
            self.scoring = Some(partial);
            return Ok(vec![WorkerOutput::Scoring { scored, total }]);
        }
        self.scored_all = true;
        Ok(vec![WorkerOutput::Evaluated(self.report(partial.finish())?)])
    }

    fn report(&self, eval: Evaluation) -> Result<EvalReport, Failure> {
        let weights = self.trainer.checkpoint().map_err(|e| match e {
            // Weights that overflowed are a divergence the loss had not shown yet; the page keeps
            // the run's last snapshot, which the checkpoint writer had accepted.
            CheckpointError::NonFinite { .. } => (
                FailureKind::Diverged,
                format!(
                    "training diverged at step {}: {e}; try a lower learning rate (the last good snapshot is kept)",
                    self.trainer.steps_done()
                ),
            ),
            e => (FailureKind::Training, e.to_string()),
        })?;
        Ok(EvalReport {
            step: self.trainer.steps_done(),
            evaluation: eval,
            weights,
        })
    }
}

fn failure(e: TrainError) -> Failure {
    let kind = match e {
        TrainError::Diverged { .. } => FailureKind::Diverged,
        _ => FailureKind::Training,
    };
    // The core's message suggests a CLI flag; in the page the setting is a form field.
    (
        kind,
        e.to_string().replace("try a lower --lr", "try a lower learning rate"),
    )
}
