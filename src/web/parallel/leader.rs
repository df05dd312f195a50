//! The training worker's side of data-parallel training: [`HelperPool`] starts the helpers,
//! hands them the data, and runs each step across them (protocol in the parent module).

use std::borrow::Cow;
use std::time::Duration;

use futures::channel::mpsc;
use futures::future::Either;
use futures::StreamExt;
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{Blob, BlobPropertyBag, ErrorEvent, MessageEvent, Url, Worker, WorkerOptions};
use web_time::Instant;

use crate::app::helper_protocol::{FromHelper, ToHelper, Update};
use crate::app::settings::TrainSettings;
use crate::data::Dataset;
use crate::train::{split, PlannedStep, StepStats, TrainError, Trainer};

use super::codec::Encoded;
use super::{describe, HELPER_NAME};

/// The leader's helpers.
pub struct HelperPool {
    helpers: Vec<Helper>,
    /// What `init` gives each helper, until every helper has had it.
    init: Option<(TrainSettings, Dataset)>,
    /// The next step, planned and already sent to the helpers (with the last step's update) as
    /// soon as that update was known: they compute it while this worker reports progress,
    /// evaluates or yields to its event loop, instead of waiting for the next `step` call.
    sent: Option<Sent>,
    /// Why helpers were dropped, until [`HelperPool::take_notices`].
    notices: Vec<String>,
}

/// A step already sent to the helpers: what the leader must use when it runs it.
struct Sent {
    planned: PlannedStep,
    /// The trainer's `steps_done` it was planned after: the step it is.
    step: usize,
    /// Workers its batch was split among (the leader and the helpers then).
    workers: usize,
}

struct Helper {
    worker: Worker,
    /// The `blob:` URL it was started from, revoked once it has loaded.
    loader: String,
    /// Whether it has said it is ready and been sent `init`.
    initialised: bool,
    replies: mpsc::UnboundedReceiver<FromHelper>,
    /// The sending end of `replies`, for failures noticed on this side.
    failures: mpsc::UnboundedSender<FromHelper>,
    // Kept alive as long as the worker: JS calls them.
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(ErrorEvent)>,
}

impl HelperPool {
    /// Starts `count` helpers from `script_url` (the absolute URL of the worker script this
    /// worker runs); each gets the training set and settings once it is ready (first step).
    ///
    /// # Errors
    /// If the browser refuses to start a worker.
    pub fn start(count: usize, script_url: &str, settings: &TrainSettings, train: &Dataset) -> Result<Self, String> {
        let helpers = (0..count)
            .map(|_| Helper::start(script_url))
            .collect::<Result<_, _>>()?;
        Ok(Self {
            helpers,
            init: Some((settings.clone(), train.clone())),
            sent: None,
            notices: Vec::new(),
        })
    }

    /// Workers training, this one included.
    pub fn workers(&self) -> usize {
        self.helpers.len() + 1
    }

    /// Why helpers have been dropped since the last call (for the page to say).
    pub fn take_notices(&mut self) -> Vec<String> {
        std::mem::take(&mut self.notices)
    }

    /// One data-parallel step of `trainer` (the leader's replica).
    pub async fn step(&mut self, trainer: &mut Trainer) -> Result<StepStats, TrainError> {
        self.initialise().await;
        let planned = match self.sent.take() {
            Some(sent) => {
                // Helpers are dropped only below, after the send, and nothing else steps the
                // trainer: the slices are the ones the helpers were sent.
                debug_assert_eq!((sent.step, sent.workers), (trainer.steps_done(), self.workers()));
                sent.planned
            }
            None => {
                let planned = trainer.plan_step();
                self.send_step(&planned, None);
                planned
            }
        };
        let slices = split(&planned.indices, self.workers());
        let started = Instant::now();
        let mut total = trainer.gradients(slices[0])?;
        // A helper that takes far longer than this worker did on its own slice is taken for hung
        // (e.g. killed by the browser without an error event); the run must not freeze.
        let deadline = started.elapsed().mul_f64(PATIENCE).max(MIN_WAIT);
        let waited = Instant::now();
        let mut failed = Vec::new();
        for (i, (helper, slice)) in self.helpers.iter_mut().zip(&slices[1..]).enumerate() {
            let left = deadline.saturating_sub(waited.elapsed());
            let grads = match next_reply(&mut helper.replies, left).await {
                Some(FromHelper::Grads(g)) if g.images == slice.len() && g.values.len() == total.values.len() => Ok(g),
                Some(FromHelper::Grads(g)) => Err(format!(
                    "returned {} gradients for {} images, expected {} for {}",
                    g.values.len(),
                    g.images,
                    total.values.len(),
                    slice.len()
                )),
                Some(FromHelper::Failed(why)) => Err(why),
                Some(FromHelper::Ready) => Err("said ready twice".into()),
                None => Err("stopped answering".into()),
            };
            let grads = match grads {
                Ok(g) => g,
                Err(why) => {
                    // Nothing is lost: the leader computes the slice itself, and the helper goes.
                    failed.push((i, why));
                    trainer.gradients(slice)?
                }
            };
            total.add(&grads)?;
        }
        self.drop_helpers(failed);
        let (stats, mean) = trainer.apply(&planned, &total)?;
        if !trainer.is_done() && !self.helpers.is_empty() {
            // The batch order is fixed by the seed, so planning early changes nothing but when
            // the helpers start: the next step's batch and lr are what `step` would plan then.
            let next = trainer.plan_step();
            self.send_step(&next, Some((planned.lr, &mean)));
            self.sent = Some(Sent {
                planned: next,
                step: trainer.steps_done(),
                workers: self.workers(),
            });
        }
        Ok(stats)
    }

    /// Sends each helper its slice of `planned`, with the update every replica applies first.
    fn send_step(&self, planned: &PlannedStep, update: Option<(f64, &[f32])>) {
        let slices = split(&planned.indices, self.workers());
        for (helper, slice) in self.helpers.iter().zip(&slices[1..]) {
            let step = ToHelper::Step {
                update: update.map(|(lr, mean)| Update {
                    lr,
                    mean: Cow::Borrowed(mean),
                }),
                indices: slice.iter().map(|&i| i as u32).collect(),
            };
            helper.send(&step.encode());
        }
    }
}

impl HelperPool {
    /// Waits for each helper that has not had `init` to say it is ready, then sends it. Why wait:
    /// a worker's messages are dispatched as soon as its script has run, but the helper installs
    /// its handler only after its wasm module has loaded; earlier messages would be lost.
    async fn initialise(&mut self) {
        let Some((settings, train)) = self.init.take() else {
            return;
        };
        // One deadline for all: the helpers load in parallel.
        let waited = Instant::now();
        let mut failed = Vec::new();
        for (i, helper) in self.helpers.iter_mut().enumerate().filter(|(_, h)| !h.initialised) {
            let left = LOAD_WAIT.saturating_sub(waited.elapsed());
            match next_reply(&mut helper.replies, left).await {
                Some(FromHelper::Ready) => {
                    // Its module has loaded: the loader URL is no longer needed.
                    let _ = Url::revoke_object_url(&helper.loader);
                    let init = ToHelper::Init {
                        settings: settings.clone(),
                        images: Cow::Borrowed(&train.images),
                        labels: Cow::Borrowed(&train.labels),
                        // Replicas differ only in the random stream of their augmentations.
                        stream: (i + 1) as u64,
                    };
                    helper.send(&init.encode());
                    helper.initialised = true;
                }
                Some(FromHelper::Failed(why)) => failed.push((i, why)),
                Some(FromHelper::Grads(_)) => failed.push((i, "sent gradients before init".into())),
                None => failed.push((i, "stopped answering".into())),
            }
        }
        self.drop_helpers(failed);
    }

    /// The one place helpers go: each `(index, why)` (indices ascending) is told to the page,
    /// then stopped and removed.
    fn drop_helpers(&mut self, failed: Vec<(usize, String)>) {
        for (i, why) in &failed {
            self.notices.push(format!("helper worker {} stopped ({why})", i + 1));
        }
        for (i, _) in failed.into_iter().rev() {
            self.helpers.remove(i).stop();
        }
    }
}

impl Drop for HelperPool {
    fn drop(&mut self) {
        for h in &self.helpers {
            h.stop();
        }
    }
}

impl Helper {
    fn start(script_url: &str) -> Result<Self, String> {
        let options = WorkerOptions::new();
        options.set_name(HELPER_NAME);
        let loader = loader_url(script_url)?;
        let worker = Worker::new_with_options(&loader, &options).map_err(describe)?;
        let (tx, replies) = mpsc::unbounded();
        let on_message = {
            let tx = tx.clone();
            Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
                let _ = tx.unbounded_send(FromHelper::decode(&e.data()));
            })
        };
        // An uncaught error (a panic in the helper's wasm) ends its usefulness: fail its step.
        let on_error = {
            let tx = tx.clone();
            Closure::<dyn FnMut(ErrorEvent)>::new(move |e: ErrorEvent| {
                e.prevent_default();
                let _ = tx.unbounded_send(FromHelper::Failed(format!("crashed: {}", e.message())));
            })
        };
        worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
        worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
        Ok(Self {
            worker,
            loader,
            initialised: false,
            replies,
            failures: tx,
            _on_message: on_message,
            _on_error: on_error,
        })
    }
}

/// How many times longer than the training worker's own slice a helper may take.
const PATIENCE: f64 = 20.0;
/// The least time a step waits for a helper's gradients.
const MIN_WAIT: Duration = Duration::from_secs(5);
/// How long the new helpers together may take to load their module and say they are ready.
const LOAD_WAIT: Duration = Duration::from_secs(20);

/// The next reply of a helper, or `Failed` after `wait` without one.
async fn next_reply(replies: &mut mpsc::UnboundedReceiver<FromHelper>, wait: Duration) -> Option<FromHelper> {
    let timeout = gloo_timers::future::TimeoutFuture::new(wait.as_millis().min(u32::MAX as u128) as u32);
    match futures::future::select(replies.next(), timeout).await {
        Either::Left((reply, _)) => reply,
        Either::Right(_) => Some(FromHelper::Failed(format!(
            "no answer within {:.1} s",
            wait.as_secs_f64()
        ))),
    }
}

impl Helper {
    /// Posts a message; if that fails, no reply will come, so the failure is queued where the
    /// reply would arrive.
    fn send(&self, encoded: &Encoded) {
        if let Err(e) = (self.worker).post_message_with_transfer(&encoded.message, &encoded.transfer) {
            let _ = self.failures.unbounded_send(FromHelper::Failed(describe(e)));
        }
    }

    /// Ends the worker; its handlers are detached first, so that no event queued for them calls
    /// a dropped closure.
    fn stop(&self) {
        self.worker.set_onmessage(None);
        self.worker.set_onerror(None);
        self.worker.terminate();
        let _ = Url::revoke_object_url(&self.loader);
    }
}

/// A `blob:` URL of a script that loads the worker build at `script_url` and starts it; if the
/// module fails to load, the script says so (a rejected promise raises no error event).
///
/// Why: Trunk's worker script is wasm-bindgen's loader, which defines `wasm_bindgen` but starts
/// nothing; yew-agent starts the training worker the same way.
fn loader_url(script_url: &str) -> Result<String, String> {
    let wasm_url = script_url
        .strip_suffix(".js")
        .map(|stem| format!("{stem}_bg.wasm"))
        .ok_or_else(|| format!("{script_url} is not a worker script"))?;
    // JSON string literals are valid JavaScript string literals.
    let quote = |s: &str| serde_json::to_string(s).unwrap_or_default();
    let source = format!(
        "importScripts({});wasm_bindgen({}).catch((e)=>postMessage({{kind:'failed',message:'could not load: '+e}}));",
        quote(script_url),
        quote(&wasm_url)
    );
    let options = BlobPropertyBag::new();
    options.set_type("application/javascript");
    let parts = js_sys::Array::of1(&source.into());
    let blob = Blob::new_with_str_sequence_and_options(&parts, &options).map_err(describe)?;
    Url::create_object_url_with_blob(&blob).map_err(describe)
}
