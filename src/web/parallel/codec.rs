//! The wire form of [`ToHelper`] and [`FromHelper`]: one plain object per message, with a `kind`
//! and typed arrays for the bulk data. Encoding copies each array once out of wasm memory, and
//! the arrays' buffers are listed for transfer, so `postMessage` moves them instead of copying
//! them again.
//!
//! Contract: `decode(encode(m)) == m` for every message (tested in Chromium, `tests/web.rs`); a
//! message that does not decode is an error naming what is missing, never a panic.

use std::borrow::Cow;

use js_sys::{Array, Float32Array, Object, Reflect, Uint32Array, Uint8Array};
use wasm_bindgen::prelude::*;
use wasm_bindgen::JsCast;

use crate::app::helper_protocol::{FromHelper, ToHelper, Update};
use crate::app::settings::TrainSettings;
use crate::train::Gradients;

/// An encoded message and the buffers to transfer with it.
pub struct Encoded {
    pub message: Object,
    pub transfer: Array,
}

impl Encoded {
    fn new(kind: &str) -> Self {
        let message = Object::new();
        set(&message, "kind", &kind.into());
        Self {
            message,
            transfer: Array::new(),
        }
    }

    /// Sets a plain field.
    fn field(self, key: &str, value: JsValue) -> Self {
        set(&self.message, key, &value);
        self
    }

    /// Sets a typed-array field whose buffer is transferred.
    fn array(self, key: &str, array: &JsValue, buffer: JsValue) -> Self {
        set(&self.message, key, array);
        self.transfer.push(&buffer);
        self
    }
}

impl ToHelper<'_> {
    pub fn encode(&self) -> Encoded {
        let e = Encoded::new(self.kind());
        match self {
            ToHelper::Init {
                settings,
                images,
                labels,
                stream,
            } => {
                let (images, labels) = (Uint8Array::from(&images[..]), Uint8Array::from(&labels[..]));
                // Settings serialise as JSON: plain data, and the same derive the page uses.
                let settings = serde_json::to_string(settings).unwrap_or_default();
                e.field("settings", settings.into())
                    .field("stream", (*stream as f64).into())
                    .array("images", &images, images.buffer().into())
                    .array("labels", &labels, labels.buffer().into())
            }
            ToHelper::Step { update, indices } => {
                let indices = Uint32Array::from(&indices[..]);
                let e = e.array("indices", &indices, indices.buffer().into());
                match update {
                    Some(Update { lr, mean }) => {
                        let mean = Float32Array::from(&mean[..]);
                        e.field("lr", (*lr).into()).array("update", &mean, mean.buffer().into())
                    }
                    None => e,
                }
            }
        }
    }

    pub fn decode(data: &JsValue) -> Result<ToHelper<'static>, String> {
        match kind(data).as_str() {
            "init" => {
                let settings: TrainSettings = get(data, "settings")
                    .as_string()
                    .and_then(|s| serde_json::from_str(&s).ok())
                    .ok_or("init without settings")?;
                let bytes = |k| get(data, k).dyn_into::<Uint8Array>().map(|a| a.to_vec());
                let (Ok(images), Ok(labels)) = (bytes("images"), bytes("labels")) else {
                    return Err("init without the training set".into());
                };
                // The trainer indexes images by label count: they must agree.
                if images.len() != labels.len() * crate::data::IMAGE_PIXELS || labels.iter().any(|&l| l > 9) {
                    return Err(format!(
                        "init with {} pixels for {} labels (or a label above 9)",
                        images.len(),
                        labels.len()
                    ));
                }
                Ok(ToHelper::Init {
                    settings,
                    images: Cow::Owned(images),
                    labels: Cow::Owned(labels),
                    stream: get(data, "stream").as_f64().unwrap_or(0.0) as u64,
                })
            }
            "step" => {
                let indices = get(data, "indices")
                    .dyn_into::<Uint32Array>()
                    .map_err(|_| "a step without indices")?;
                let update = match get(data, "update").dyn_into::<Float32Array>() {
                    Ok(mean) => Some(Update {
                        lr: get(data, "lr").as_f64().ok_or("an update without its learning rate")?,
                        mean: Cow::Owned(mean.to_vec()),
                    }),
                    Err(_) => None,
                };
                Ok(ToHelper::Step {
                    update,
                    indices: Cow::Owned(indices.to_vec()),
                })
            }
            other => Err(format!("unknown message {other:?}")),
        }
    }
}

impl FromHelper {
    pub fn encode(&self) -> Encoded {
        let e = Encoded::new(self.kind());
        match self {
            FromHelper::Ready => e,
            FromHelper::Grads(g) => {
                let values = Float32Array::from(&g.values[..]);
                e.field("loss_sum", g.loss_sum.into())
                    .field("correct", (g.correct as f64).into())
                    .field("images", (g.images as f64).into())
                    .array("values", &values, values.buffer().into())
            }
            FromHelper::Failed(why) => e.field("message", why.as_str().into()),
        }
    }

    /// The message, or `Failed` saying what was wrong with it (a helper that sends nonsense is
    /// dropped like one that fails).
    pub fn decode(data: &JsValue) -> FromHelper {
        match kind(data).as_str() {
            "ready" => FromHelper::Ready,
            "grads" => match get(data, "values").dyn_into::<Float32Array>() {
                Ok(values) => {
                    let number = |k| get(data, k).as_f64().unwrap_or(f64::NAN);
                    FromHelper::Grads(Gradients {
                        values: values.to_vec(),
                        loss_sum: number("loss_sum"),
                        correct: number("correct") as usize,
                        images: number("images") as usize,
                    })
                }
                Err(_) => FromHelper::Failed("sent gradients without values".into()),
            },
            "failed" => FromHelper::Failed(get(data, "message").as_string().unwrap_or_default()),
            other => FromHelper::Failed(format!("sent an unknown message {other:?}")),
        }
    }
}

fn kind(data: &JsValue) -> String {
    get(data, "kind").as_string().unwrap_or_default()
}

fn set(o: &Object, key: &str, value: &JsValue) {
    // Setting a property on a plain object cannot fail.
    let _ = Reflect::set(o, &key.into(), value);
}

/// `value[key]`, `undefined` when missing.
fn get(o: &JsValue, key: &str) -> JsValue {
    Reflect::get(o, &key.into()).unwrap_or(JsValue::UNDEFINED)
}
