//! The helper's side of data-parallel training: answers the training worker's messages with
//! this replica's gradients (protocol in the parent module).

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Float32Array, Object, Uint32Array, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use crate::data::Dataset;
use crate::train::Trainer;

use super::super::settings::TrainSettings;
use super::{get, message, set, HELPER_NAME};

/// The helper side: answers the leader's messages with this replica's gradients. Runs instead
/// of the training reactor in a worker started under [`HELPER_NAME`].
pub fn run_helper(scope: DedicatedWorkerGlobalScope) {
    let trainer: Rc<RefCell<Option<Trainer>>> = Rc::default();
    let post = scope.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        let reply = match handle(&e.data(), &mut trainer.borrow_mut()) {
            Ok(None) => return,
            Ok(Some(reply)) => reply,
            Err(why) => {
                let msg = message("failed");
                set(&msg, "message", &why.into());
                msg
            }
        };
        let _ = post.post_message(&reply);
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The helper lives as long as its worker.
    on_message.forget();
    let _ = scope.post_message(&message("ready"));
}

fn handle(data: &JsValue, trainer: &mut Option<Trainer>) -> Result<Option<Object>, String> {
    match get(data, "kind").as_string().as_deref() {
        Some("init") => {
            let settings: TrainSettings = get(data, "settings")
                .as_string()
                .and_then(|s| serde_json::from_str(&s).ok())
                .ok_or("init without settings")?;
            let bytes = |k| get(data, k).dyn_into::<Uint8Array>().map(|a| a.to_vec());
            let (Ok(images), Ok(labels)) = (bytes("images"), bytes("labels")) else {
                return Err("init without the training set".into());
            };
            let train = Dataset { images, labels };
            let config = settings.train_config();
            let device = candle_core::Device::Cpu;
            let mut t =
                Trainer::new(&settings.width.model_config(), config, train, &device).map_err(|e| e.to_string())?;
            t.set_augment_stream(get(data, "stream").as_f64().unwrap_or(0.0) as u64);
            *trainer = Some(t);
            Ok(None)
        }
        Some("step") => {
            let t = trainer.as_mut().ok_or("a step before init")?;
            if let Ok(update) = get(data, "update").dyn_into::<Float32Array>() {
                let lr = get(data, "lr").as_f64().ok_or("an update without its learning rate")?;
                t.apply_update(lr, &update.to_vec()).map_err(|e| e.to_string())?;
            }
            let indices = get(data, "indices")
                .dyn_into::<Uint32Array>()
                .map_err(|_| "a step without indices")?;
            let indices: Vec<usize> = indices.to_vec().into_iter().map(|i| i as usize).collect();
            let g = t.gradients(&indices).map_err(|e| e.to_string())?;
            let msg = message("grads");
            set(&msg, "values", &Float32Array::from(&g.values[..]).into());
            set(&msg, "loss_sum", &g.loss_sum.into());
            set(&msg, "correct", &(g.correct as f64).into());
            set(&msg, "images", &(g.images as f64).into());
            Ok(Some(msg))
        }
        other => Err(format!("unknown message {other:?}")),
    }
}

/// The scope of this worker when it was started as a helper.
pub fn helper_scope() -> Option<DedicatedWorkerGlobalScope> {
    let scope = js_sys::global().dyn_into::<DedicatedWorkerGlobalScope>().ok()?;
    (scope.name() == HELPER_NAME).then_some(scope)
}
