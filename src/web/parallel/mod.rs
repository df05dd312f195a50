//! Data-parallel training across Web Workers, without `SharedArrayBuffer`: the training worker
//! (the leader) starts helper copies of itself, each with its own replica of the model, and every
//! step splits the batch among them.
//!
//! ```text
//! leader                                        helper i (the worker script, named HELPER_NAME)
//!                                           ←   FromHelper::Ready   (its handler is installed)
//!   ToHelper::Init {settings, train set}    →   Trainer::new (same seed: same weights)
//!   plan_step() → batch; split() → slices
//!   ToHelper::Step {None, indices_i}        →   (the first step only: no update yet)
//!   gradients(own slice)                         gradients(indices_i)
//!   await every reply                       ←   FromHelper::Grads(sums of slice i)
//!   apply(sum) → mean gradient
//!   plan_step() → next batch; at once (unless the run is over or no helper is left):
//!   ToHelper::Step {update, next indices_i} →   apply_update(update), then the next slice's
//!                                                gradients while the leader reports, evaluates
//!                                                or yields before its own next step
//! ```
//!
//! Contract: every replica starts from the same seeded weights and applies the same mean
//! gradients with the same AdamW arithmetic (the same wasm code), so the helpers' weights stay
//! equal to the leader's; the result equals single-worker training up to float rounding (the sum
//! over the batch is split; tested natively in `train/data_parallel.rs`). Only the leader's weights are ever
//! read. A helper that fails, crashes or stops answering (see `leader::PATIENCE`) is dropped and its
//! slice recomputed by the leader, so a step is never lost and the run never freezes: training
//! goes on with fewer workers.
//!
//! Files: `leader.rs` (the training worker's [`HelperPool`]), `helper.rs` (the helper's message
//! loop), `codec.rs` (the wire form of [`crate::app::helper_protocol`]'s typed messages), and
//! here the name helpers run under.

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

pub mod codec;
mod helper;
mod leader;

pub use helper::{helper_scope, run_helper};
pub use leader::HelperPool;

/// The name helper workers are started with; the worker script checks it to run as a helper.
pub const HELPER_NAME: &str = "vgg-mnist-helper";

/// A JS exception as text.
fn describe(e: JsValue) -> String {
    e.as_string()
        .or_else(|| e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())))
        .unwrap_or_else(|| format!("{e:?}"))
}
