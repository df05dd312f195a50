//! What the page learns from its environment: the query string, its own URL, and how many
//! training workers this device can run well.
//!
//! Contract: each probe answers with a safe default when the browser does not say (no window,
//! no `deviceMemory`), so the page never fails on a missing API.

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

/// How many workers this device can run well: its logical cores (`navigator.hardwareConcurrency`,
/// 1 if unknown), but no more than one per 2 GB of memory where the browser says
/// (`navigator.deviceMemory`, Chromium): each worker holds its own copy of the training set
/// (47 MB) and of the model, which a phone with little memory should not multiply.
pub fn worker_budget() -> usize {
    let Some(navigator) = web_sys::window().map(|w| w.navigator()) else {
        return 1;
    };
    let cores = navigator.hardware_concurrency() as usize;
    let memory_gb = js_sys::Reflect::get(&navigator, &"deviceMemory".into())
        .ok()
        .and_then(|v| v.as_f64());
    match memory_gb {
        Some(gb) if gb.is_finite() && gb > 0.0 => cores.min(((gb / 2.0) as usize).max(1)),
        _ => cores,
    }
}
