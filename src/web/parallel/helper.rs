//! The helper's side of data-parallel training: answers the training worker's messages with
//! this replica's gradients (protocol in the parent module).

use std::cell::RefCell;
use std::rc::Rc;

use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use crate::app::helper_protocol::{FromHelper, ToHelper};
use crate::data::Dataset;
use crate::train::Trainer;

use super::HELPER_NAME;

/// The helper side: answers the leader's messages with this replica's gradients. Runs instead
/// of the training reactor in a worker started under [`HELPER_NAME`].
pub fn run_helper(scope: DedicatedWorkerGlobalScope) {
    let trainer: Rc<RefCell<Option<Trainer>>> = Rc::default();
    let post = scope.clone();
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |e: MessageEvent| {
        let reply = match ToHelper::decode(&e.data()).and_then(|m| handle(m, &mut trainer.borrow_mut())) {
            Ok(None) => return,
            Ok(Some(reply)) => reply,
            Err(why) => FromHelper::Failed(why),
        };
        let reply = reply.encode();
        let _ = post.post_message_with_transfer(&reply.message, &reply.transfer);
    });
    scope.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    // The helper lives as long as its worker.
    on_message.forget();
    let _ = scope.post_message(&FromHelper::Ready.encode().message);
}

fn handle(message: ToHelper<'static>, trainer: &mut Option<Trainer>) -> Result<Option<FromHelper>, String> {
    match message {
        ToHelper::Init {
            settings,
            images,
            labels,
            stream,
        } => {
            let train = Dataset {
                images: images.into_owned(),
                labels: labels.into_owned(),
            };
            let device = candle_core::Device::Cpu;
            let mut t = Trainer::new(&settings.width.model_config(), settings.train_config(), train, &device)
                .map_err(|e| e.to_string())?;
            t.set_augment_stream(stream);
            *trainer = Some(t);
            Ok(None)
        }
        ToHelper::Step { update, indices } => {
            let t = trainer.as_mut().ok_or("a step before init")?;
            if let Some(update) = update {
                t.apply_update(update.lr, &update.mean).map_err(|e| e.to_string())?;
            }
            let indices: Vec<usize> = indices.iter().map(|&i| i as usize).collect();
            let g = t.gradients(&indices).map_err(|e| e.to_string())?;
            Ok(Some(FromHelper::Grads(g)))
        }
    }
}

/// The scope of this worker when it was started as a helper.
pub fn helper_scope() -> Option<DedicatedWorkerGlobalScope> {
    let scope = js_sys::global().dyn_into::<DedicatedWorkerGlobalScope>().ok()?;
    (scope.name() == HELPER_NAME).then_some(scope)
}
