//! The training Web Worker: a yew-agent reactor that fetches MNIST itself and drives the core
//! [`crate::train::Trainer`] one batch at a time, and scores models on the test set for the page.
//!
//! Contract: between two units of work (a batch, a slice of an evaluation) the worker yields to
//! its event loop, so messages from the page — Pause, Resume, Stop, a new Start — are handled
//! after at most one batch (plus an evaluation). A training run goes first; a fine-tuning
//! ([`WorkerInput::Finetune`], refused while a run exists) and then a scoring job
//! ([`WorkerInput::Evaluate`]) advance a step or a slice per turn while no run trains, and a new
//! run replaces them. The decoded MNIST files are kept for later runs. When the page drops its bridge
//! the input stream ends and the worker returns.

use std::rc::Rc;

use futures::{FutureExt, SinkExt, StreamExt};
use yew_agent::prelude::*;
use yew_agent::reactor::ReactorScope;

use crate::app::protocol::{FailureKind, WorkerInput, WorkerOutput};
use crate::app::settings::{TrainSettings, QUICK_EVAL_SIZE};
use crate::checkpoint;
use crate::data::{self, Dataset};
use crate::evaluation::{evaluate_more, PartialEvaluation};
use crate::finetune::{Finetune, FinetuneConfig};
use crate::model::Vgg;

use super::fetch::fetch_bytes;
use super::training_run::{Failure, TrainingRun};

/// Test images scored per turn of a scoring job: a few tenths of a second for the seed model.
const SCORE_SLICE: usize = 500;

/// Entry point of the worker binary (`src/bin/worker.rs`).
pub fn register() {
    super::install_panic_hook();
    // The same script runs the helpers of data-parallel training (started under their name).
    if let Some(scope) = super::parallel::helper_scope() {
        return super::parallel::run_helper(scope);
    }
    TrainerReactor::registrar().register();
}

/// A model being scored on the whole test set, a slice per turn.
struct ScoringJob {
    id: String,
    model: Vgg,
    partial: PartialEvaluation,
}

/// A fine-tuning of the model `base_id`, a step per turn.
struct FinetuneJob {
    base_id: String,
    tune: Finetune,
    samples: usize,
}

/// What the worker holds between messages.
#[derive(Default)]
struct Worker {
    train: Option<Rc<Dataset>>,
    test: Option<Rc<Dataset>>,
    run: Option<TrainingRun>,
    scoring: Option<ScoringJob>,
    finetune: Option<FinetuneJob>,
}

impl Worker {
    fn training(&self) -> bool {
        self.run.as_ref().is_some_and(|r| !r.paused)
    }

    /// Work is waiting: the loop must not sleep until the next message.
    fn busy(&self) -> bool {
        self.training() || (self.run.is_none() && (self.scoring.is_some() || self.finetune.is_some()))
    }
}

#[reactor(TrainerReactor)]
pub async fn trainer_reactor(mut scope: ReactorScope<WorkerInput, WorkerOutput>) {
    let mut w = Worker::default();
    loop {
        // While busy, take only what has already arrived; otherwise sleep until a message.
        let input = if w.busy() {
            match scope.next().now_or_never() {
                Some(Some(input)) => Some(input),
                Some(None) => return,
                None => None,
            }
        } else {
            match scope.next().await {
                Some(input) => Some(input),
                None => return,
            }
        };
        let outputs = match input {
            Some(input) => w.handle(input, &mut scope).await,
            None => w.tick().await,
        };
        for output in outputs {
            if scope.send(output).await.is_err() {
                return; // The page has gone.
            }
        }
        if w.busy() {
            // A macrotask boundary: lets the worker's `onmessage` queue the page's messages.
            yield_to_event_loop().await;
        }
    }
}

impl Worker {
    async fn handle(
        &mut self,
        input: WorkerInput,
        scope: &mut ReactorScope<WorkerInput, WorkerOutput>,
    ) -> Vec<WorkerOutput> {
        match input {
            WorkerInput::Start {
                settings,
                data_url,
                worker_url,
            } => {
                self.run = None;
                self.scoring = None;
                self.finetune = None;
                match self.start(&settings, &data_url, &worker_url, scope).await {
                    Ok(new_run) => {
                        let started = new_run.started_message(settings.train_size);
                        self.run = Some(new_run);
                        vec![started]
                    }
                    Err((kind, message)) => vec![WorkerOutput::Failed { kind, message }],
                }
            }
            WorkerInput::Pause => match &mut self.run {
                Some(r) => {
                    r.paused = true;
                    vec![WorkerOutput::Paused]
                }
                None => vec![],
            },
            WorkerInput::Resume => match &mut self.run {
                Some(r) => {
                    r.paused = false;
                    vec![WorkerOutput::Resumed]
                }
                None => vec![],
            },
            WorkerInput::Stop => match self.run.take() {
                // A last evaluation, so the page gets the weights as they were at the stop. A
                // quick one: Stop should answer at once, and the seed model needs seconds for all
                // 10,000.
                Some(mut r) => match r.evaluate() {
                    Ok(report) => vec![
                        WorkerOutput::Evaluated(report),
                        WorkerOutput::Finished { stopped: true },
                    ],
                    Err((kind, message)) => vec![WorkerOutput::Failed { kind, message }],
                },
                None => vec![],
            },
            WorkerInput::Finetune {
                base_id,
                weights,
                images,
                labels,
                data_url,
            } => {
                if self.run.is_some() {
                    return vec![WorkerOutput::FinetuneFailed {
                        message: "a training run is using the worker: stop it first".into(),
                    }];
                }
                let samples = Dataset { images, labels };
                match self.finetune_job(base_id, &weights, &samples, &data_url, scope).await {
                    Ok(job) => {
                        let total = job.tune.total_steps();
                        self.finetune = Some(job);
                        vec![WorkerOutput::FinetuneProgress { step: 0, total }]
                    }
                    Err(message) => vec![WorkerOutput::FinetuneFailed { message }],
                }
            }
            WorkerInput::Evaluate { id, weights, data_url } => {
                self.scoring = None;
                match self.scoring_job(id.clone(), &weights, &data_url).await {
                    Ok(job) => {
                        self.scoring = Some(job);
                        vec![]
                    }
                    // Scoring is a courtesy: the page goes on without a matrix for this model.
                    Err(why) => vec![WorkerOutput::ScoringFailed {
                        id,
                        message: format!("Could not score this model on the test set: {why}"),
                    }],
                }
            }
        }
    }

    /// One unit of work: a training step of the current run (and its end when it was the last),
    /// or else a fine-tuning step, or else a slice of the scoring job.
    async fn tick(&mut self) -> Vec<WorkerOutput> {
        if let Some(r) = &mut self.run {
            if r.paused {
                return vec![];
            }
            return match r.tick().await {
                Ok(mut outputs) => {
                    if r.is_done() {
                        self.run = None;
                        outputs.push(WorkerOutput::Finished { stopped: false });
                    }
                    outputs
                }
                Err((kind, message)) => {
                    self.run = None;
                    vec![WorkerOutput::Failed { kind, message }]
                }
            };
        }
        if self.finetune.is_some() {
            return self.finetune_step();
        }
        self.score_slice()
    }

    fn finetune_step(&mut self) -> Vec<WorkerOutput> {
        let Some(job) = &mut self.finetune else {
            return vec![];
        };
        if let Err(e) = job.tune.step() {
            self.finetune = None;
            return vec![WorkerOutput::FinetuneFailed { message: e.to_string() }];
        }
        let (step, total) = (job.tune.steps_done(), job.tune.total_steps());
        if step < total {
            return vec![WorkerOutput::FinetuneProgress { step, total }];
        }
        let Some(job) = self.finetune.take() else {
            return vec![];
        };
        // Before → after on the first images of the test set: seconds, not the half minute all
        // 10,000 take twice for the seed model; the tuned model's full matrix follows when the
        // page asks for it.
        let test = self.test.as_ref().map(|t| t.take(QUICK_EVAL_SIZE)).unwrap_or_default();
        let result = job.tune.report(&test).map_err(|e| e.to_string()).and_then(|report| {
            let weights = job.tune.checkpoint().map_err(|e| e.to_string())?;
            Ok((report, weights))
        });
        match result {
            Ok((report, weights)) => vec![WorkerOutput::Finetuned {
                base_id: job.base_id,
                report,
                weights,
                samples: job.samples,
            }],
            Err(message) => vec![WorkerOutput::FinetuneFailed { message }],
        }
    }

    async fn finetune_job(
        &mut self,
        base_id: String,
        weights: &[u8],
        samples: &Dataset,
        data_url: &str,
        scope: &mut ReactorScope<WorkerInput, WorkerOutput>,
    ) -> Result<FinetuneJob, String> {
        let device = candle_core::Device::Cpu;
        let base = checkpoint::from_bytes(weights, &device).map_err(|e| e.to_string())?;
        // The recipe replays MNIST training images and reports on test images.
        let _ = scope.send(WorkerOutput::FinetuneProgress { step: 0, total: 0 }).await;
        if self.train.is_none() {
            self.train = Some(Rc::new(
                load_pair(data_url, data::TRAIN_IMAGES, data::TRAIN_LABELS, None).await?,
            ));
        }
        if self.test.is_none() {
            self.test = Some(Rc::new(
                load_pair(data_url, data::TEST_IMAGES, data::TEST_LABELS, None).await?,
            ));
        }
        let train = self.train.clone().ok_or("MNIST did not load")?;
        let tune = Finetune::new(&base, samples, &train, &FinetuneConfig::default()).map_err(|e| e.to_string())?;
        Ok(FinetuneJob {
            base_id,
            tune,
            samples: samples.len(),
        })
    }

    fn score_slice(&mut self) -> Vec<WorkerOutput> {
        let (Some(job), Some(test)) = (&mut self.scoring, &self.test) else {
            return vec![];
        };
        let device = candle_core::Device::Cpu;
        if let Err(e) = evaluate_more(&job.model, test, &device, &mut job.partial, SCORE_SLICE) {
            let id = job.id.clone();
            self.scoring = None;
            return vec![WorkerOutput::ScoringFailed {
                id,
                message: format!("Scoring the model failed: {e}"),
            }];
        }
        let (scored, total) = (job.partial.scored(), test.len());
        if scored < total {
            return vec![WorkerOutput::ModelScoring {
                id: job.id.clone(),
                scored,
                total,
            }];
        }
        let Some(job) = self.scoring.take() else {
            return vec![];
        };
        vec![WorkerOutput::ModelEvaluated {
            id: job.id,
            evaluation: job.partial.finish(),
        }]
    }

    async fn scoring_job(&mut self, id: String, weights: &[u8], data_url: &str) -> Result<ScoringJob, String> {
        let device = candle_core::Device::Cpu;
        let model = checkpoint::from_bytes(weights, &device)
            .and_then(|ck| ck.model(&device))
            .map_err(|e| e.to_string())?;
        if self.test.is_none() {
            let test = load_pair(data_url, data::TEST_IMAGES, data::TEST_LABELS, None).await?;
            self.test = Some(Rc::new(test));
        }
        Ok(ScoringJob {
            id,
            model,
            partial: PartialEvaluation::default(),
        })
    }

    async fn start(
        &mut self,
        settings: &TrainSettings,
        data_url: &str,
        worker_url: &str,
        scope: &mut ReactorScope<WorkerInput, WorkerOutput>,
    ) -> Result<TrainingRun, Failure> {
        let data_err = |e| (FailureKind::Data, e);
        if self.train.is_none() {
            let train = load_pair(data_url, data::TRAIN_IMAGES, data::TRAIN_LABELS, Some(scope)).await;
            self.train = Some(Rc::new(train.map_err(data_err)?));
        }
        if self.test.is_none() {
            let test = load_pair(data_url, data::TEST_IMAGES, data::TEST_LABELS, Some(scope)).await;
            self.test = Some(Rc::new(test.map_err(data_err)?));
        }
        let (Some(train), Some(test)) = (&self.train, &self.test) else {
            return Err((FailureKind::Data, "MNIST did not load".into()));
        };
        TrainingRun::new(settings, train.take(settings.train_size), (**test).clone(), worker_url)
    }
}

/// Fetches and decodes a pair of MNIST files, telling the page each step when `scope` is given.
async fn load_pair(
    data_url: &str,
    images: &str,
    labels: &str,
    mut scope: Option<&mut ReactorScope<WorkerInput, WorkerOutput>>,
) -> Result<Dataset, String> {
    let mut files = Vec::with_capacity(2);
    for name in [images, labels] {
        if let Some(scope) = scope.as_mut() {
            // A closed page is noticed by the main loop's next send; ignore it here.
            let _ = scope
                .send(WorkerOutput::Loading {
                    what: format!("fetching {name}"),
                })
                .await;
        }
        files.push(fetch_bytes(&format!("{}/{name}", data_url.trim_end_matches('/'))).await?);
    }
    Dataset::from_idx(images, &files[0], labels, &files[1]).map_err(|e| e.to_string())
}

/// Returns after one turn of the event loop, so pending messages from the page are queued.
///
/// Why a `MessageChannel` and not `setTimeout(0)`: browsers clamp nested zero-delay timers to
/// 4 ms, which after every ~35 ms batch cost about a tenth of the training time. A message posted
/// to a channel is a macrotask too, without the clamp. If the channel cannot be made, the timer
/// is the fallback.
async fn yield_to_event_loop() {
    // Held until the message has arrived, so the ports cannot be collected while it is pending.
    let channel = web_sys::MessageChannel::new().ok();
    let posted = js_sys::Promise::new(&mut |resolve, _reject| {
        let sent = channel.as_ref().is_some_and(|channel| {
            channel.port1().set_onmessage(Some(&resolve));
            channel.port2().post_message(&wasm_bindgen::JsValue::UNDEFINED).is_ok()
        });
        if !sent {
            // Resolved at once; the timer below then does the yielding.
            let _ = resolve.call0(&wasm_bindgen::JsValue::UNDEFINED);
        }
    });
    let delivered = wasm_bindgen_futures::JsFuture::from(posted)
        .await
        .is_ok_and(|v| !v.is_undefined());
    if let Some(channel) = channel {
        channel.port1().set_onmessage(None);
        channel.port1().close();
    }
    if !delivered {
        gloo_timers::future::TimeoutFuture::new(0).await;
    }
}
