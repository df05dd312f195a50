//! The training Web Worker: a yew-agent reactor that fetches MNIST itself and drives the core
//! [`crate::train::Trainer`] one batch at a time.
//!
//! Contract: between two batches the worker yields to its event loop (a zero-delay timer), so
//! messages from the page — Pause, Resume, Stop, a new Start — are handled after at most one
//! batch (plus an evaluation). The decoded MNIST files are kept for later runs. When the page
//! drops its bridge the input stream ends and the worker returns.

use std::rc::Rc;

use futures::{FutureExt, SinkExt, StreamExt};
use yew_agent::prelude::*;
use yew_agent::reactor::ReactorScope;

use crate::app::protocol::{FailureKind, WorkerInput, WorkerOutput};
use crate::app::settings::TrainSettings;
use crate::data::{self, Mnist};

use super::fetch::fetch_bytes;
use super::training_run::{Failure, TrainingRun};

/// Entry point of the worker binary (`src/bin/worker.rs`).
pub fn register() {
    super::install_panic_hook();
    // The same script runs the helpers of data-parallel training (started under their name).
    if let Some(scope) = super::parallel::helper_scope() {
        return super::parallel::run_helper(scope);
    }
    TrainerReactor::registrar().register();
}

#[reactor(TrainerReactor)]
pub async fn trainer_reactor(mut scope: ReactorScope<WorkerInput, WorkerOutput>) {
    let mut mnist: Option<Rc<Mnist>> = None;
    let mut run: Option<TrainingRun> = None;
    loop {
        let training = run.as_ref().is_some_and(|r| !r.paused);
        // While training, take only what has already arrived; otherwise sleep until a message.
        let input = if training {
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
            Some(input) => handle(input, &mut run, &mut mnist, &mut scope).await,
            None => tick(&mut run).await,
        };
        for output in outputs {
            if scope.send(output).await.is_err() {
                return; // The page has gone.
            }
        }
        if run.as_ref().is_some_and(|r| !r.paused) {
            // A macrotask boundary: lets the worker's `onmessage` queue the page's messages.
            yield_to_event_loop().await;
        }
    }
}

async fn handle(
    input: WorkerInput,
    run: &mut Option<TrainingRun>,
    mnist: &mut Option<Rc<Mnist>>,
    scope: &mut ReactorScope<WorkerInput, WorkerOutput>,
) -> Vec<WorkerOutput> {
    match input {
        WorkerInput::Start {
            settings,
            data_url,
            worker_url,
        } => {
            *run = None;
            match start(&settings, &data_url, &worker_url, mnist, scope).await {
                Ok(new_run) => {
                    let started = new_run.started_message(settings.train_size);
                    *run = Some(new_run);
                    vec![started]
                }
                Err((kind, message)) => vec![WorkerOutput::Failed { kind, message }],
            }
        }
        WorkerInput::Pause => match run {
            Some(r) => {
                r.paused = true;
                vec![WorkerOutput::Paused]
            }
            None => vec![],
        },
        WorkerInput::Resume => match run {
            Some(r) => {
                r.paused = false;
                vec![WorkerOutput::Resumed]
            }
            None => vec![],
        },
        WorkerInput::Stop => match run.take() {
            // A last evaluation, so the page gets the weights as they were at the stop. A quick
            // one: Stop should answer at once, and the seed model needs seconds for all 10,000.
            Some(mut r) => match r.evaluate() {
                Ok(report) => vec![
                    WorkerOutput::Evaluated(report),
                    WorkerOutput::Finished { stopped: true },
                ],
                Err((kind, message)) => vec![WorkerOutput::Failed { kind, message }],
            },
            None => vec![],
        },
    }
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

/// One training step of the current run, and its end when it was the last.
async fn tick(run: &mut Option<TrainingRun>) -> Vec<WorkerOutput> {
    let Some(r) = run else { return vec![] };
    match r.tick().await {
        Ok(mut outputs) => {
            if r.is_done() {
                *run = None;
                outputs.push(WorkerOutput::Finished { stopped: false });
            }
            outputs
        }
        Err((kind, message)) => {
            *run = None;
            vec![WorkerOutput::Failed { kind, message }]
        }
    }
}

async fn start(
    settings: &TrainSettings,
    data_url: &str,
    worker_url: &str,
    mnist: &mut Option<Rc<Mnist>>,
    scope: &mut ReactorScope<WorkerInput, WorkerOutput>,
) -> Result<TrainingRun, Failure> {
    let data = match mnist {
        Some(data) => data.clone(),
        None => {
            let loaded = Rc::new(load_mnist(data_url, scope).await?);
            *mnist = Some(loaded.clone());
            loaded
        }
    };
    let train = data.train.take(settings.train_size);
    TrainingRun::new(settings, train, data.test.clone(), worker_url)
}

/// Fetches and decodes the four MNIST files, reporting each step to the page.
async fn load_mnist(data_url: &str, scope: &mut ReactorScope<WorkerInput, WorkerOutput>) -> Result<Mnist, Failure> {
    let names = [
        data::TRAIN_IMAGES,
        data::TRAIN_LABELS,
        data::TEST_IMAGES,
        data::TEST_LABELS,
    ];
    let mut files = Vec::with_capacity(names.len());
    for name in names {
        let what = format!("fetching {name}");
        // A closed page is noticed by the main loop's next send; ignore it here.
        let _ = scope.send(WorkerOutput::Loading { what }).await;
        let bytes = fetch_bytes(&format!("{}/{name}", data_url.trim_end_matches('/')))
            .await
            .map_err(|e| (FailureKind::Data, e))?;
        files.push(bytes);
    }
    let _ = scope
        .send(WorkerOutput::Loading {
            what: "decoding MNIST".into(),
        })
        .await;
    let [ti, tl, vi, vl] = [&files[0], &files[1], &files[2], &files[3]];
    Mnist::from_bytes([(names[0], ti), (names[1], tl), (names[2], vi), (names[3], vl)])
        .map_err(|e| (FailureKind::Data, e.to_string()))
}
