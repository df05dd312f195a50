//! The browser app (wasm32 only): a Yew page that predicts drawn digits on the main thread and
//! trains in a Web Worker.
//!
//! Code map (one component or concept per file):
//! - [`app`]: root; provides the worker. [`page`]: state owner and layout.
//! - [`state`]: the page state as a reducer (`AppState` + `Action`); [`model_source`]: which
//!   weights predict. [`settings`]: training settings and URL presets.
//! - Components: [`draw_pad`], [`prediction_view`], [`digit_image`], [`model_panel`],
//!   [`train_panel`], [`progress_chart`], [`confusion_view`], [`error_banner`].
//! - Worker: [`worker_build`] (which of the two worker builds the page starts), [`worker`] (the reactor), [`training_run`] (one run around the core `Trainer`), [`parallel`] (data-parallel helper workers),
//!   [`protocol`] (messages both ways).
//! - Edges: [`predictor`] (core preprocess + model), [`fetch`], [`storage`] (IndexedDB),
//!   [`hooks`] (page side effects).
//!
//! Invariants: nothing about the model, training or preprocessing is implemented here — it is
//! all the core crate's; the DOM is reached through `NodeRef`s and events, never by id lookups;
//! nothing a user or the network controls is `unwrap()`ed.

pub mod app;
pub mod confusion_view;
pub mod digit_image;
pub mod draw_pad;
pub mod error_banner;
pub mod fetch;
pub mod hooks;
pub mod model_panel;
pub mod model_source;
pub mod page;
pub mod parallel;
pub mod prediction_view;
pub mod predictor;
pub mod progress_chart;
pub mod protocol;
pub mod settings;
pub mod state;
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
