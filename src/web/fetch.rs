//! Fetching bytes over HTTP, from the page or from the worker.
//!
//! Contract: relative URLs resolve against the calling script's location (the page, or
//! `worker.js`), which Trunk puts in the same folder as `data/` and `model/`. Every failure
//! (network, HTTP status, body) becomes a message naming the URL.

use js_sys::{Promise, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::Response;

#[wasm_bindgen]
extern "C" {
    // The global `fetch`, bound directly so the same code runs in a window and in a worker
    // (web-sys only offers it as a method of `Window` or `WorkerGlobalScope`).
    #[wasm_bindgen(js_name = fetch)]
    fn global_fetch(url: &str) -> Promise;
}

/// The body of `url`, or why it could not be had.
pub async fn fetch_bytes(url: &str) -> Result<Vec<u8>, String> {
    let response = JsFuture::from(global_fetch(url))
        .await
        .map_err(|e| format!("could not fetch {url}: {}", describe(&e)))?;
    let response: Response = response
        .dyn_into()
        .map_err(|_| format!("fetching {url} gave no HTTP response"))?;
    if !response.ok() {
        return Err(format!(
            "fetching {url} failed: HTTP {} {}",
            response.status(),
            response.status_text()
        ));
    }
    let body = response
        .array_buffer()
        .map_err(|e| format!("reading {url}: {}", describe(&e)))?;
    let body = JsFuture::from(body)
        .await
        .map_err(|e| format!("reading {url}: {}", describe(&e)))?;
    Ok(Uint8Array::new(&body).to_vec())
}

/// A readable description of a JavaScript error value: its message, after its name when that
/// says more than "Error" (a `DOMException`'s `QuotaExceededError`, a `TypeError`).
pub fn describe(e: &JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        let (name, message) = (String::from(err.name()), String::from(err.message()));
        return if name.is_empty() || name == "Error" {
            message
        } else {
            format!("{name}: {message}")
        };
    }
    e.as_string().unwrap_or_else(|| format!("{e:?}"))
}
