//! The browser app (wasm32 only): a Yew page that predicts drawn digits on the main thread and
//! trains in a Web Worker.
//!
//! The DOM and the browser's APIs around [`crate::app`] (the state, messages and decisions,
//! compiled and tested natively): components, hooks, the training worker and its helpers. Where
//! each file sits is in the README's code map (Architecture → Web code map).
//!
//! Invariants: nothing about the model, training or preprocessing is implemented here — it is
//! all the core crate's; the DOM is reached through `NodeRef`s and events, never by id lookups;
//! nothing a user or the network controls is `unwrap()`ed.

pub mod app;
pub mod confusion_view;
pub mod controller;
pub mod digit_image;
pub mod draw_pad;
pub mod env;
pub mod error_banner;
pub mod fetch;
pub mod finetune_view;
pub mod hooks;
pub mod inside_view;
pub mod model_panel;
pub mod my_digits_panel;
pub mod page;
pub mod parallel;
pub mod prediction_view;
pub mod progress_chart;
pub mod storage;
pub mod train_panel;
pub mod training_run;
pub mod worker;
pub mod worker_build;

/// Starts the page (called by the `vgg-mnist` binary on wasm32).
pub fn run_app() {
    yew::Renderer::<app::App>::new().render();
}

/// Logs panics to the console: in the worker nothing else would show them.
pub fn install_panic_hook() {
    std::panic::set_hook(Box::new(|info| {
        web_sys::console::error_1(&format!("vgg-mnist worker panicked: {info}").into());
    }));
}
