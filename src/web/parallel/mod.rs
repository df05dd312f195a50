//! Data-parallel training across Web Workers, without `SharedArrayBuffer`: the training worker
//! (the leader) starts helper copies of itself, each with its own replica of the model, and every
//! step splits the batch among them.
//!
//! ```text
//! leader                                   helper i (a copy of the worker script, named HELPER_NAME)
//!                                      ←   post {ready}   (its handler is installed)
//!   post {init, settings, train set}   →   Trainer::new (same seed: same weights)
//!   plan_step() → batch of B indices
//!   post {step, update, lr, indices_i}  →   apply_update(lr, update)   (the previous step's)
//!   gradients(own slice)                    gradients(indices_i)
//!   await every reply                  ←   post {grads, values, loss_sum, correct, images}
//!   apply(sum) → mean gradient, kept as the next step's `update`
//! ```
//!
//! Contract: every replica starts from the same seeded weights and applies the same mean
//! gradients with the same AdamW arithmetic (the same wasm code), so the helpers' weights stay
//! equal to the leader's; the result equals single-worker training up to float rounding (the sum
//! over the batch is split; tested natively in `train.rs`). Only the leader's weights are ever
//! read. A helper that fails, crashes or stops answering (see `leader::PATIENCE`) is dropped and its
//! slice recomputed by the leader, so a step is never lost and the run never freezes: training
//! goes on with fewer workers.
//!
//! Files: `leader.rs` (the training worker's [`HelperPool`]), `helper.rs` (the helper's message
//! loop), and here the name helpers run under and the message plumbing both sides share.

use js_sys::{Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

mod helper;
mod leader;

pub use helper::{helper_scope, run_helper};
pub use leader::HelperPool;

/// The name helper workers are started with; the worker script checks it to run as a helper.
pub const HELPER_NAME: &str = "vgg-mnist-helper";

/// A message object `{kind, …}`.
fn message(kind: &str) -> Object {
    let o = Object::new();
    set(&o, "kind", &kind.into());
    o
}

/// Sets `key` on a message.
fn set(o: &Object, key: &str, value: &JsValue) {
    // Setting a property on a plain object cannot fail.
    let _ = Reflect::set(o, &key.into(), value);
}

/// `value[key]`, `undefined` when missing.
fn get(o: &JsValue, key: &str) -> JsValue {
    Reflect::get(o, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

/// A JS exception as text.
fn describe(e: JsValue) -> String {
    e.as_string()
        .or_else(|| e.dyn_ref::<js_sys::Error>().map(|e| String::from(e.message())))
        .unwrap_or_else(|| format!("{e:?}"))
}
