//! Keeps the browser-trained weights in IndexedDB, so they survive a reload.
//!
//! Contract: one object store holding safetensors bytes under a fixed key; every failure
//! (IndexedDB unavailable, e.g. in a private window, or a failed request) is a `String` the
//! caller may show or ignore — the app works without storage.

use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbRequest, IdbTransactionMode};

use super::fetch::describe;

const DB_NAME: &str = "vgg-mnist";
const DB_VERSION: u32 = 1;
const STORE: &str = "models";
const TRAINED_KEY: &str = "trained";

/// Saves the browser-trained weights (replacing earlier ones).
pub async fn save_trained(bytes: &[u8]) -> Result<(), String> {
    let db = open().await?;
    let tx = db
        .transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite)
        .map_err(|e| describe(&e))?;
    let store = tx.object_store(STORE).map_err(|e| describe(&e))?;
    let req = store
        .put_with_key(&Uint8Array::from(bytes), &JsValue::from_str(TRAINED_KEY))
        .map_err(|e| describe(&e))?;
    wait(&req).await.map(|_| ())
}

/// The saved browser-trained weights, if any.
pub async fn load_trained() -> Result<Option<Vec<u8>>, String> {
    let db = open().await?;
    let tx = db.transaction_with_str(STORE).map_err(|e| describe(&e))?;
    let store = tx.object_store(STORE).map_err(|e| describe(&e))?;
    let req = store.get(&JsValue::from_str(TRAINED_KEY)).map_err(|e| describe(&e))?;
    let value = wait(&req).await?;
    Ok(value.dyn_into::<Uint8Array>().ok().map(|a| a.to_vec()))
}

async fn open() -> Result<IdbDatabase, String> {
    let factory = web_sys::window()
        .and_then(|w| w.indexed_db().ok().flatten())
        .ok_or("IndexedDB is not available")?;
    let req = factory.open_with_u32(DB_NAME, DB_VERSION).map_err(|e| describe(&e))?;
    // First open (or a new version): create the store.
    let upgrade_req = req.clone();
    let on_upgrade = Closure::once_into_js(move |_: web_sys::Event| {
        if let Ok(db) = upgrade_req.result().and_then(|r| r.dyn_into::<IdbDatabase>()) {
            if !db.object_store_names().contains(STORE) {
                let _ = db.create_object_store(STORE);
            }
        }
    });
    req.set_onupgradeneeded(Some(on_upgrade.unchecked_ref()));
    let db = wait(&req).await?;
    db.dyn_into::<IdbDatabase>()
        .map_err(|_| "IndexedDB returned no database".to_string())
}

/// Resolves when an IndexedDB request succeeds, with its result.
async fn wait(req: &IdbRequest) -> Result<JsValue, String> {
    let promise = Promise::new(&mut |resolve, reject| {
        let ok_req = req.clone();
        let on_success = Closure::once_into_js(move |_: web_sys::Event| {
            let _ = resolve.call1(&JsValue::NULL, &ok_req.result().unwrap_or(JsValue::UNDEFINED));
        });
        let err_req = req.clone();
        let on_error = Closure::once_into_js(move |_: web_sys::Event| {
            let message = err_req
                .error()
                .ok()
                .flatten()
                .map_or_else(|| "IndexedDB request failed".to_string(), |e| e.message());
            let _ = reject.call1(&JsValue::NULL, &JsValue::from_str(&message));
        });
        req.set_onsuccess(Some(on_success.unchecked_ref()));
        req.set_onerror(Some(on_error.unchecked_ref()));
    });
    JsFuture::from(promise).await.map_err(|e| describe(&e))
}
