//! The page's side effects at its edges: fetching the shipped weights (with their recorded
//! evaluation) and the MNIST test set, keeping the model list in IndexedDB (restored at load,
//! written as it changes), and noticing a crashed worker. Each turns its outcome into an
//! [`Action`]; the storage bookkeeping lives in [`use_model_storage`].

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;
use web_sys::ErrorEvent;
use yew::prelude::*;

use crate::app::state::{Action, AppState, ErrorKind, EvalSet};
use crate::data::{Dataset, TEST_IMAGES, TEST_LABELS};
use crate::evaluation::Evaluation;

use super::fetch::fetch_bytes;
use super::storage;

/// Where Trunk puts the shipped pretrained weights (copied from `www/model/`).
pub const PRETRAINED_URL: &str = "model/vgg-mnist.safetensors";
/// The shipped model's evaluation on the whole test set (`vgg-mnist eval --save-evaluation`).
pub const PRETRAINED_EVALUATION_URL: &str = "model/evaluation.json";
/// Where Trunk puts the MNIST files (copied from `www/data/`), relative to the page.
pub const DATA_DIR: &str = "data/";

/// Fetches the pretrained weights and their recorded evaluation (without one, the worker scores
/// the model).
pub async fn load_pretrained(dispatch: UseReducerDispatcher<AppState>) {
    match fetch_bytes(PRETRAINED_URL).await {
        Ok(bytes) => {
            let evaluation = fetch_bytes(PRETRAINED_EVALUATION_URL)
                .await
                .ok()
                .and_then(|json| serde_json::from_slice::<Evaluation>(&json).ok())
                .map(Rc::new);
            dispatch.dispatch(Action::PretrainedLoaded {
                bytes: Rc::new(bytes),
                evaluation,
            })
        }
        Err(e) => dispatch.dispatch(Action::Failed(ErrorKind::Pretrained, e)),
    }
}

/// Fetches and decodes the MNIST test set (1.6 MB), for the confusion matrix's examples.
pub async fn load_test_set(dispatch: UseReducerDispatcher<AppState>) {
    let (images, labels) = (
        fetch_bytes(&format!("{DATA_DIR}{TEST_IMAGES}")).await,
        fetch_bytes(&format!("{DATA_DIR}{TEST_LABELS}")).await,
    );
    // Without it only the examples of a cell are missing; the matrix itself comes from the worker.
    if let (Ok(images), Ok(labels)) = (images, labels) {
        if let Ok(test) = Dataset::from_idx(TEST_IMAGES, &images, TEST_LABELS, &labels) {
            dispatch.dispatch(Action::TestSet(Rc::new(EvalSet {
                images: test.images,
                labels: test.labels,
            })));
        }
    }
}

/// Milliseconds since the Unix epoch (the page's clock, for naming models and ids).
pub fn now_ms() -> f64 {
    js_sys::Date::now()
}

/// Keeps the model list and the selected model in IndexedDB: restores them once at mount, then
/// writes what [`crate::app::model_history::ModelHistory::sync`] says after every change.
/// Nothing is written before the restore has finished (it would overwrite the stored selection).
/// Deletions go ahead after a failed write (deleting is how space is freed), except version 1's
/// record, deleted only after every write of the round succeeded (the model moved from it must
/// exist in its new record before the old one goes).
#[hook]
pub fn use_model_storage(state: &UseReducerHandle<AppState>) {
    // The revision of each record storage holds, and whether the restore has run.
    let saved = use_mut_ref(HashMap::<String, u64>::new);
    let ready = use_mut_ref(|| Cell::new(false));
    let saved_selection = use_mut_ref(|| None::<String>);
    {
        let (dispatch, saved, ready) = (state.dispatcher(), saved.clone(), ready.clone());
        use_effect_with((), move |_| {
            spawn_local(async move {
                match storage::load_models().await {
                    Ok(stored) => {
                        let selected = storage::load_selected().await.ok().flatten();
                        *saved.borrow_mut() = stored.keys.into_iter().map(|k| (k, 0)).collect();
                        ready.borrow().set(true);
                        dispatch.dispatch(Action::Restored {
                            models: stored.models,
                            legacy: stored.legacy,
                            selected,
                            now_ms: now_ms(),
                        });
                    }
                    // No storage (a private window): the page works without it, and says so once a
                    // write fails.
                    Err(_) => ready.borrow().set(true),
                }
            });
        });
    }
    let key = (state.models.generation(), state.selected.clone(), ready.borrow().get());
    let (state, dispatch) = (state.clone(), state.dispatcher());
    use_effect_with(key, move |(_, selected, ready)| {
        if *ready {
            write_changes(&state, &dispatch, &saved, &saved_selection, selected.clone());
        }
    });
}

fn write_changes(
    state: &AppState,
    dispatch: &UseReducerDispatcher<AppState>,
    saved: &Rc<RefCell<HashMap<String, u64>>>,
    saved_selection: &Rc<RefCell<Option<String>>>,
    selected: Option<String>,
) {
    let plan = state.models.sync(&mut saved.borrow_mut());
    let selection = (selected != *saved_selection.borrow())
        .then(|| selected.clone())
        .flatten();
    if selection.is_some() {
        *saved_selection.borrow_mut() = selected;
    }
    if plan.put.is_empty() && plan.delete.is_empty() && selection.is_none() {
        return;
    }
    let (dispatch, saved) = (dispatch.clone(), saved.clone());
    spawn_local(async move {
        let mut failure = None;
        for model in &plan.put {
            if let Err(e) = storage::put_model(model).await {
                // Not written: forget it, so the next change tries again.
                saved.borrow_mut().remove(&model.entry.id);
                failure = Some(format!("{:?} was not saved ({e})", model.entry.name));
            }
        }
        // Deletions go on after a failed write: they are what frees the space. Only the old
        // single-model record waits until its copy in the list is written (then it is tried
        // again with the next change).
        let puts_failed = failure.is_some();
        for id in &plan.delete {
            if puts_failed && id == storage::LEGACY_KEY {
                saved.borrow_mut().insert(id.clone(), 0);
                continue;
            }
            if let Err(e) = storage::delete_model(id).await {
                saved.borrow_mut().insert(id.clone(), 0);
                failure = Some(format!("{id:?} was not deleted ({e})"));
            }
        }
        if let Some(id) = selection {
            if let Err(e) = storage::save_selected(&id).await {
                failure.get_or_insert(format!("the choice of model was not saved ({e})"));
            }
        }
        if let Some(why) = failure {
            dispatch.dispatch(Action::Failed(
                ErrorKind::Storage,
                format!("The browser's storage refused a change: {why}. The page works on; free some space or delete models to keep them across reloads."),
            ));
        }
    });
}

/// Keeps My digits in IndexedDB, as [`use_model_storage`] keeps the models: restored at mount,
/// then every added or deleted sample written.
#[hook]
pub fn use_digits_storage(state: &UseReducerHandle<AppState>) {
    let saved = use_mut_ref(HashSet::<String>::new);
    let ready = use_mut_ref(|| Cell::new(false));
    {
        let (dispatch, saved, ready) = (state.dispatcher(), saved.clone(), ready.clone());
        use_effect_with((), move |_| {
            spawn_local(async move {
                if let Ok(records) = storage::load_digits().await {
                    saved
                        .borrow_mut()
                        .extend(records.iter().flatten().map(|s| s.id.clone()));
                    ready.borrow().set(true);
                    dispatch.dispatch(Action::DigitsRestored(records));
                } else {
                    ready.borrow().set(true);
                }
            });
        });
    }
    let key = (state.my_digits.generation(), ready.borrow().get());
    let (state, dispatch) = (state.clone(), state.dispatcher());
    use_effect_with(key, move |(_, ready)| {
        if !*ready {
            return;
        }
        let plan = state.my_digits.sync(&mut saved.borrow_mut());
        if plan.put.is_empty() && plan.delete.is_empty() {
            return;
        }
        spawn_local(async move {
            let mut failure = None;
            for sample in &plan.put {
                if let Err(e) = storage::put_digit(sample).await {
                    saved.borrow_mut().remove(&sample.id);
                    failure = Some(e);
                }
            }
            for id in &plan.delete {
                if let Err(e) = storage::delete_digit(id).await {
                    saved.borrow_mut().insert(id.clone());
                    failure = Some(e);
                }
            }
            if let Some(e) = failure {
                dispatch.dispatch(Action::Failed(
                    ErrorKind::Storage,
                    format!(
                        "The browser's storage refused to save My digits ({e}); they stay until you leave the page."
                    ),
                ));
            }
        });
    });
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
