//! IndexedDB: the model list, the selected model, and (store `digits`) the user's own digits, so
//! they survive a reload.
//!
//! Contract: one database, `vgg-mnist` version 2, with the object stores `models` (a record per
//! model: `{meta: JSON string, weights: Uint8Array}`, keyed by the model's id; version 1 kept the
//! browser-trained weights alone under the key `trained`, still read as a legacy record), `meta`
//! (the selected model's id under `selected`) and `digits` (a record per sample of My digits:
//! `{label, pixels: Uint8Array(784), added}`, keyed by its id). Reading never trusts what it finds:
//! each record is size-checked before it is copied into wasm memory and decoded by the core
//! (`StoredModel::decode`), and one that fails is returned as broken, with the reason, instead of
//! failing the rest. Every failure (IndexedDB unavailable, e.g. in a private window; a request
//! refused, e.g. `QuotaExceededError`) is a `String` naming it; the app works without storage.

use js_sys::{Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbRequest, IdbTransaction, IdbTransactionMode};

use crate::app::model_history::{BrokenEntry, StoredModel};
use crate::app::my_digits::Sample;
use crate::checkpoint::MAX_CHECKPOINT_BYTES;
use crate::data::IMAGE_PIXELS;

use super::fetch::describe;

const DB_NAME: &str = "vgg-mnist";
const DB_VERSION: u32 = 2;
pub const MODELS: &str = "models";
pub const META: &str = "meta";
pub const DIGITS: &str = "digits";
/// The key version 1 stored the browser-trained weights under.
pub const LEGACY_KEY: &str = "trained";
const SELECTED_KEY: &str = "selected";
/// A model's description (its evaluation included: 10,000 predictions) is far below this.
const MAX_META_CHARS: u32 = 4 << 20;

/// What the `models` store held.
#[derive(Default)]
pub struct StoredModels {
    pub models: Vec<Result<StoredModel, BrokenEntry>>,
    /// Weights saved by version 1, to become entries of their own.
    pub legacy: Vec<Vec<u8>>,
    /// Every key found, for the page to know what storage holds.
    pub keys: Vec<String>,
}

/// Every record of the `models` store.
pub async fn load_models() -> Result<StoredModels, String> {
    let db = open().await?;
    let tx = db.transaction_with_str(MODELS).map_err(|e| describe(&e))?;
    let store = tx.object_store(MODELS).map_err(|e| describe(&e))?;
    let keys = wait(&store.get_all_keys().map_err(|e| describe(&e))?).await?;
    let values = wait(&store.get_all().map_err(|e| describe(&e))?).await?;
    let (keys, values) = (js_sys::Array::from(&keys), js_sys::Array::from(&values));
    let mut out = StoredModels::default();
    for (key, value) in keys.iter().zip(values.iter()) {
        let Some(key) = key.as_string() else {
            continue; // Not a key this app writes; leave it alone.
        };
        out.keys.push(key.clone());
        if key == LEGACY_KEY {
            if let Some(bytes) = bounded_bytes(&value) {
                out.legacy.push(bytes);
                continue;
            }
        }
        let meta = Reflect::get(&value, &"meta".into()).ok().and_then(|m| {
            let m: js_sys::JsString = m.dyn_into().ok()?;
            (m.length() <= MAX_META_CHARS).then(|| String::from(m))
        });
        let weights = Reflect::get(&value, &"weights".into())
            .ok()
            .and_then(|w| bounded_bytes(&w));
        out.models.push(StoredModel::decode(&key, meta.as_deref(), weights));
    }
    Ok(out)
}

/// A `Uint8Array`'s bytes, if it is one and no larger than any checkpoint may be.
fn bounded_bytes(value: &JsValue) -> Option<Vec<u8>> {
    let array = value.dyn_ref::<Uint8Array>()?;
    (array.length() as usize <= MAX_CHECKPOINT_BYTES).then(|| array.to_vec())
}

/// Writes (or replaces) the record of `model`.
pub async fn put_model(model: &StoredModel) -> Result<(), String> {
    let record = Object::new();
    // Setting a property on a plain object cannot fail.
    let _ = Reflect::set(&record, &"meta".into(), &model.meta_json().into());
    let _ = Reflect::set(&record, &"weights".into(), &Uint8Array::from(&model.weights[..]));
    put(MODELS, &model.entry.id, &record).await
}

pub async fn delete_model(id: &str) -> Result<(), String> {
    delete(MODELS, id).await
}

/// The id of the model selected when the page was last used.
pub async fn load_selected() -> Result<Option<String>, String> {
    Ok(get(META, SELECTED_KEY).await?.as_string())
}

pub async fn save_selected(id: &str) -> Result<(), String> {
    put(META, SELECTED_KEY, &id.into()).await
}

/// `store[key] = value`, once committed.
pub async fn put(store: &str, key: &str, value: &JsValue) -> Result<(), String> {
    let db = open().await?;
    let tx = db
        .transaction_with_str_and_mode(store, IdbTransactionMode::Readwrite)
        .map_err(|e| describe(&e))?;
    (tx.object_store(store).map_err(|e| describe(&e))?)
        .put_with_key(value, &JsValue::from_str(key))
        .map_err(|e| describe(&e))?;
    committed(&tx).await
}

/// `store[key]`, `undefined` when absent.
pub async fn get(store: &str, key: &str) -> Result<JsValue, String> {
    let db = open().await?;
    let tx = db.transaction_with_str(store).map_err(|e| describe(&e))?;
    let req = (tx.object_store(store).map_err(|e| describe(&e))?)
        .get(&JsValue::from_str(key))
        .map_err(|e| describe(&e))?;
    wait(&req).await
}

/// Every `(key, value)` of `store`.
pub async fn get_all(store: &str) -> Result<Vec<(JsValue, JsValue)>, String> {
    let db = open().await?;
    let tx = db.transaction_with_str(store).map_err(|e| describe(&e))?;
    let s = tx.object_store(store).map_err(|e| describe(&e))?;
    let keys = wait(&s.get_all_keys().map_err(|e| describe(&e))?).await?;
    let values = wait(&s.get_all().map_err(|e| describe(&e))?).await?;
    let (keys, values) = (js_sys::Array::from(&keys), js_sys::Array::from(&values));
    Ok(keys.iter().zip(values.iter()).collect())
}

/// Deletes `store[key]`, once committed.
pub async fn delete(store: &str, key: &str) -> Result<(), String> {
    let db = open().await?;
    let tx = db
        .transaction_with_str_and_mode(store, IdbTransactionMode::Readwrite)
        .map_err(|e| describe(&e))?;
    (tx.object_store(store).map_err(|e| describe(&e))?)
        .delete(&JsValue::from_str(key))
        .map_err(|e| describe(&e))?;
    committed(&tx).await
}

/// Resolves when a write transaction has committed. Why not the request's success: a write
/// that runs out of quota fails the transaction (`QuotaExceededError` on its abort), not always
/// the request, and a request can succeed in a transaction that never commits.
async fn committed(tx: &IdbTransaction) -> Result<(), String> {
    let promise = Promise::new(&mut |resolve, reject| {
        let on_complete = Closure::once_into_js(move |_: web_sys::Event| {
            let _ = resolve.call0(&JsValue::NULL);
        });
        let failed_tx = tx.clone();
        let on_failure = Closure::once_into_js(move |_: web_sys::Event| {
            let message = failed_tx.error().map_or_else(
                || "the browser's storage refused the write".to_string(),
                |e| format!("{}: {}", e.name(), e.message()),
            );
            let _ = reject.call1(&JsValue::NULL, &JsValue::from_str(&message));
        });
        tx.set_oncomplete(Some(on_complete.unchecked_ref()));
        // An error aborts the transaction, so `abort` alone reports every failure once.
        tx.set_onabort(Some(on_failure.unchecked_ref()));
    });
    JsFuture::from(promise).await.map(|_| ()).map_err(|e| describe(&e))
}

async fn open() -> Result<IdbDatabase, String> {
    let factory = web_sys::window()
        .and_then(|w| w.indexed_db().ok().flatten())
        .or_else(|| {
            // In a worker (the tests' runner may use one) IndexedDB hangs off the global scope.
            js_sys::global()
                .dyn_into::<web_sys::WorkerGlobalScope>()
                .ok()
                .and_then(|g| g.indexed_db().ok().flatten())
        })
        .ok_or("IndexedDB is not available")?;
    let req = factory.open_with_u32(DB_NAME, DB_VERSION).map_err(|e| describe(&e))?;
    // First open, or an older version: create the stores that are missing. Version 1's `models`
    // store is kept as it is, its `trained` record read as a legacy one.
    let upgrade_req = req.clone();
    let on_upgrade = Closure::once_into_js(move |_: web_sys::Event| {
        if let Ok(db) = upgrade_req.result().and_then(|r| r.dyn_into::<IdbDatabase>()) {
            for store in [MODELS, META, DIGITS] {
                if !db.object_store_names().contains(store) {
                    let _ = db.create_object_store(store);
                }
            }
        }
    });
    req.set_onupgradeneeded(Some(on_upgrade.unchecked_ref()));
    let db = wait(&req).await?;
    db.dyn_into::<IdbDatabase>()
        .map_err(|_| "IndexedDB returned no database".to_string())
}

/// Resolves when an IndexedDB request succeeds, with its result; a failure names the
/// `DOMException` (e.g. "QuotaExceededError: …").
async fn wait(req: &IdbRequest) -> Result<JsValue, String> {
    let promise = Promise::new(&mut |resolve, reject| {
        let ok_req = req.clone();
        let on_success = Closure::once_into_js(move |_: web_sys::Event| {
            let _ = resolve.call1(&JsValue::NULL, &ok_req.result().unwrap_or(JsValue::UNDEFINED));
        });
        let err_req = req.clone();
        let on_error = Closure::once_into_js(move |_: web_sys::Event| {
            let message = err_req.error().ok().flatten().map_or_else(
                || "IndexedDB request failed".to_string(),
                |e| format!("{}: {}", e.name(), e.message()),
            );
            let _ = reject.call1(&JsValue::NULL, &JsValue::from_str(&message));
        });
        req.set_onsuccess(Some(on_success.unchecked_ref()));
        req.set_onerror(Some(on_error.unchecked_ref()));
    });
    JsFuture::from(promise).await.map_err(|e| describe(&e))
}

/// Every sample of My digits, `None` for a record that cannot be read.
pub async fn load_digits() -> Result<Vec<Option<Sample>>, String> {
    let records = get_all(DIGITS).await?;
    Ok(records
        .into_iter()
        .map(|(key, value)| {
            let number = |k: &str| Reflect::get(&value, &k.into()).ok().and_then(|v| v.as_f64());
            let pixels = Reflect::get(&value, &"pixels".into()).ok().and_then(|p| {
                let p = p.dyn_into::<Uint8Array>().ok()?;
                (p.length() as usize == IMAGE_PIXELS).then(|| p.to_vec())
            });
            Sample::decode(&key.as_string()?, number("label"), pixels, number("added"))
        })
        .collect())
}

pub async fn put_digit(sample: &Sample) -> Result<(), String> {
    let record = Object::new();
    let _ = Reflect::set(&record, &"label".into(), &(sample.label as f64).into());
    let _ = Reflect::set(&record, &"pixels".into(), &Uint8Array::from(&sample.pixels[..]));
    let _ = Reflect::set(&record, &"added".into(), &sample.added_ms.into());
    put(DIGITS, &sample.id, &record).await
}

pub async fn delete_digit(id: &str) -> Result<(), String> {
    delete(DIGITS, id).await
}
