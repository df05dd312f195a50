//! The page's side effects at its edges: fetching the shipped weights, saving and restoring the
//! browser-trained ones (IndexedDB), and noticing a crashed worker. Each turns its outcome into
//! an [`Action`]; none holds state of its own.

use std::rc::Rc;

use wasm_bindgen::prelude::*;
use web_sys::ErrorEvent;
use yew::prelude::*;

use crate::app::model_source::ModelSource;
use crate::app::state::{Action, AppState, ErrorKind};

use super::fetch::fetch_bytes;
use super::storage;

/// Where Trunk puts the shipped pretrained weights (copied from `www/model/`).
pub const PRETRAINED_URL: &str = "model/vgg-mnist.safetensors";

/// Fetches the pretrained weights (they become the predicting model unless one already is).
pub async fn load_pretrained(dispatch: UseReducerDispatcher<AppState>) {
    match fetch_bytes(PRETRAINED_URL).await {
        Ok(bytes) => dispatch.dispatch(Action::ModelBytes {
            source: ModelSource::Pretrained,
            bytes: Rc::new(bytes),
            activate: false,
        }),
        Err(e) => dispatch.dispatch(Action::Failed(ErrorKind::Pretrained, e)),
    }
}

/// Saves a snapshot of the browser-trained weights, so a reload restores them. Storage being
/// unavailable (a private window) is not an error worth a banner: the page works without it.
pub fn save_snapshot(weights: Vec<u8>) {
    wasm_bindgen_futures::spawn_local(async move {
        let _ = storage::save_trained(&weights).await;
    });
}

/// Offers the model trained in this browser before the last reload, if IndexedDB has one.
pub async fn restore_trained(dispatch: UseReducerDispatcher<AppState>) {
    // Storage being unavailable is not an error worth a banner: the page works without it.
    if let Ok(Some(bytes)) = storage::load_trained().await {
        dispatch.dispatch(Action::ModelBytes {
            source: ModelSource::Trained,
            bytes: Rc::new(bytes),
            activate: false,
        });
        dispatch.dispatch(Action::Notice(Some(
            "Restored the model you trained earlier in this browser (choose \"Trained here\").".into(),
        )));
    }
}

/// Reports uncaught errors of the training worker. An error the worker does not handle (a
/// panic traps the wasm) is re-raised on the page's `window`; Chromium gives it an empty file
/// name (the worker runs from a blob: URL), while the page's own errors name its scripts.
#[hook]
pub fn use_worker_crash_listener(dispatch: UseReducerDispatcher<AppState>) {
    use_effect_with((), move |_| {
        let listener = Closure::<dyn Fn(ErrorEvent)>::new(move |e: ErrorEvent| {
            let file = e.filename();
            if file.is_empty() || file.starts_with("blob:") || file.contains("worker") {
                dispatch.dispatch(Action::WorkerCrashed(format!(
                    "{} ({}:{})",
                    e.message(),
                    e.filename(),
                    e.lineno()
                )));
            }
        });
        let window = web_sys::window();
        if let Some(w) = &window {
            let _ = w.add_event_listener_with_callback("error", listener.as_ref().unchecked_ref());
        }
        move || {
            if let Some(w) = &window {
                let _ = w.remove_event_listener_with_callback("error", listener.as_ref().unchecked_ref());
            }
        }
    });
}
