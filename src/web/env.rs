//! What the page learns from its environment: the query string, its own URL, and how many
//! training workers this device can run well.
//!
//! Contract: each probe answers with a safe default when the browser does not say (no window,
//! no `deviceMemory`), so the page never fails on a missing API.

use crate::app::settings::WorkerBudget;

/// The page URL's query string (`?a=1&b=2`), empty if unavailable.
pub fn query_string() -> String {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default()
}

/// `relative` resolved against the page's URL (unchanged if that fails).
pub fn absolute_url(relative: &str) -> String {
    web_sys::window()
        .and_then(|w| w.location().href().ok())
        .and_then(|href| web_sys::Url::new_with_base(relative, &href).ok())
        .map_or_else(|| relative.to_string(), |u| u.href())
}

/// What this device can run: its logical cores (`navigator.hardwareConcurrency`, 1 if unknown)
/// and its memory where the browser says (`navigator.deviceMemory`, Chromium): each worker holds
/// its own copy of the training set (47 MB) and of the model, which a phone with little memory
/// should not multiply.
pub fn worker_budget() -> WorkerBudget {
    let Some(navigator) = web_sys::window().map(|w| w.navigator()) else {
        return WorkerBudget::default();
    };
    let memory_gb = js_sys::Reflect::get(&navigator, &"deviceMemory".into())
        .ok()
        .and_then(|v| v.as_f64());
    WorkerBudget::new(navigator.hardware_concurrency() as usize, memory_gb)
}
