//! The browser app's logic that is not about the DOM, compiled and tested natively: training
//! settings and URL presets, the page's state as a reducer, the messages between the page, the
//! training worker and its helpers, and when a run evaluates.
//!
//! Contract: no `web_sys`, no `yew`, no clock; `web/` renders this state, moves these messages
//! and runs these decisions. Where each piece sits is in the README's code map.

pub mod eval_schedule;
pub mod heatmap;
pub mod helper_protocol;
pub mod model_history;
pub mod my_digits;
pub mod protocol;
pub mod settings;
pub mod state;
