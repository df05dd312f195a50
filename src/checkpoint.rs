//! Checkpoints: model weights ↔ safetensors **bytes**, with the [`ModelConfig`] in the metadata.
//!
//! Why bytes: `VarMap::save/load` go through the filesystem, which the browser does not have; the
//! CLI writes these bytes to a file, the web app downloads/uploads/stores them, and both read
//! each other's files. Loading checks every tensor against [`param_specs`] of the stored config
//! and fails with a message naming the first mismatch, so a wrong file never loads silently.
//!
//! Contract for untrusted bytes (an upload, an IndexedDB entry, a worker snapshot, a file):
//! [`from_bytes`] never panics and holds at most the file's size plus one copy of the weights. It
//! refuses a file over [`MAX_CHECKPOINT_BYTES`], offsets outside the file (checked before the
//! `safetensors` crate reads them, see `checkpoint/untrusted.rs`), a `format` other than
//! [`FORMAT`], a config past the model budget ([`crate::model::budget`]), any dtype but F32 (no
//! conversion: a file of another dtype was not written by vgg-mnist), and any NaN or infinite
//! value, naming the tensor. [`to_bytes`] and [`tensors_to_bytes`] refuse non-finite weights in
//! the same words, so a blown-up snapshot is never stored.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};

use crate::model::{param_specs, ModelConfig, Vgg, MAX_PARAMS};

mod untrusted;

pub use self::untrusted::MAX_HEADER_BYTES;

/// The largest checkpoint accepted (upload limit): the largest model the budget admits,
/// [`MAX_PARAMS`] f32 weights (8 MB), plus the longest header read and its length prefix.
pub const MAX_CHECKPOINT_BYTES: usize = untrusted::LENGTH_PREFIX + MAX_HEADER_BYTES + 4 * MAX_PARAMS;

/// Metadata key holding the JSON-encoded [`ModelConfig`].
pub const CONFIG_KEY: &str = "vgg_mnist.model_config";
/// Metadata key identifying the file format.
pub const FORMAT_KEY: &str = "format";
pub const FORMAT: &str = "vgg-mnist/1";

#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    #[error("not a valid safetensors file: {0}")]
    Corrupt(String),
    #[error("the safetensors file has no vgg-mnist model config in its metadata (key `{CONFIG_KEY}`); was it saved by vgg-mnist?")]
    NoConfig,
    #[error("the model config in the checkpoint is invalid: {0}")]
    BadConfig(String),
    #[error("checkpoint lacks tensor `{0}` that the model needs")]
    Missing(String),
    #[error("checkpoint tensor `{name}` has shape {found:?} but the model expects {expected:?}")]
    ShapeMismatch {
        name: String,
        expected: Vec<usize>,
        found: Vec<usize>,
    },
    #[error("checkpoint has tensor `{0}` that the model does not use")]
    Unexpected(String),
    #[error("checkpoint is for a model with widths {found:?} and {found_convs} convs per block, hidden {found_hidden}, but {expected:?}/{expected_convs}/{expected_hidden} was asked for")]
    ConfigMismatch {
        expected: [usize; 2],
        expected_convs: usize,
        expected_hidden: usize,
        found: [usize; 2],
        found_convs: usize,
        found_hidden: usize,
    },
    #[error("the checkpoint is {bytes} bytes, more than the {max} the largest allowed model needs")]
    TooLarge { bytes: usize, max: usize },
    #[error("the checkpoint's format is {found}, not `{FORMAT}`; was it saved by vgg-mnist?")]
    BadFormat { found: String },
    #[error("checkpoint tensor `{name}` is {dtype}, but vgg-mnist stores and reads F32 weights only")]
    UnsupportedDtype { name: String, dtype: String },
    #[error("checkpoint tensor `{name}` holds a non-finite value ({value} at index {index}): the weights are broken")]
    NonFinite { name: String, index: usize, value: f32 },
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
}

/// A loaded, validated checkpoint.
#[derive(Debug)]
pub struct Checkpoint {
    pub config: ModelConfig,
    /// Every parameter of [`param_specs`]`(&config)`, as F32.
    pub tensors: HashMap<String, Tensor>,
    /// All metadata entries (the config and anything else the writer stored).
    pub metadata: HashMap<String, String>,
}

/// Serialises the variables of `varmap` with `config` in the metadata.
pub fn to_bytes(varmap: &VarMap, config: &ModelConfig) -> Result<Vec<u8>, CheckpointError> {
    let data = varmap
        .data()
        .lock()
        .map_err(|_| CheckpointError::Corrupt("variable map lock poisoned".into()))?;
    let tensors: Vec<(String, Tensor)> = data.iter().map(|(k, v)| (k.clone(), v.as_tensor().clone())).collect();
    drop(data);
    tensors_to_bytes(tensors, config)
}

/// Serialises named tensors with `config` in the metadata. Every tensor must be F32 and finite
/// (what [`from_bytes`] reads back).
pub fn tensors_to_bytes(mut tensors: Vec<(String, Tensor)>, config: &ModelConfig) -> Result<Vec<u8>, CheckpointError> {
    // Sorted names put identical weights at identical offsets. (The files are not byte-identical:
    // `safetensors` writes the metadata from a `HashMap`, whose order varies from run to run.)
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    for (name, t) in &tensors {
        if t.dtype() != DType::F32 {
            return Err(CheckpointError::UnsupportedDtype {
                name: name.clone(),
                dtype: t.dtype().as_str().to_uppercase(),
            });
        }
        untrusted::finite(name, &t.flatten_all()?.to_vec1::<f32>()?)?;
    }
    let metadata = HashMap::from([
        (FORMAT_KEY.to_string(), FORMAT.to_string()),
        (
            CONFIG_KEY.to_string(),
            serde_json::to_string(config).map_err(|e| CheckpointError::BadConfig(e.to_string()))?,
        ),
    ]);
    safetensors::serialize(tensors.iter().map(|(k, t)| (k.as_str(), t)), Some(metadata))
        .map_err(|e| CheckpointError::Corrupt(e.to_string()))
}

/// Parses and validates a checkpoint (see the module's contract); tensors are placed on `device`.
pub fn from_bytes(bytes: &[u8], device: &Device) -> Result<Checkpoint, CheckpointError> {
    if bytes.len() > MAX_CHECKPOINT_BYTES {
        return Err(CheckpointError::TooLarge {
            bytes: bytes.len(),
            max: MAX_CHECKPOINT_BYTES,
        });
    }
    let metadata = untrusted::header(bytes)?;
    let config_json = metadata.get(CONFIG_KEY).ok_or(CheckpointError::NoConfig)?;
    let config: ModelConfig =
        serde_json::from_str(config_json).map_err(|e| CheckpointError::BadConfig(e.to_string()))?;
    config.validate().map_err(CheckpointError::BadConfig)?;
    match metadata.get(FORMAT_KEY) {
        Some(f) if f == FORMAT => {}
        found => {
            return Err(CheckpointError::BadFormat {
                found: found.map_or("missing".to_string(), |f| format!("`{f}`")),
            })
        }
    }
    // The offsets are in range (checked above), so the crate's own arithmetic cannot overflow.
    let file = safetensors::SafeTensors::deserialize(bytes).map_err(|e| CheckpointError::Corrupt(e.to_string()))?;
    let specs = param_specs(&config);
    let mut views = Vec::with_capacity(specs.len());
    for spec in &specs {
        let view = file
            .tensor(&spec.name)
            .map_err(|_| CheckpointError::Missing(spec.name.clone()))?;
        if view.shape() != spec.shape.as_slice() {
            return Err(CheckpointError::ShapeMismatch {
                name: spec.name.clone(),
                expected: spec.shape.clone(),
                found: view.shape().to_vec(),
            });
        }
        views.push(view);
    }
    if let Some(extra) = file.names().into_iter().find(|k| !specs.iter().any(|s| s.name == *k)) {
        return Err(CheckpointError::Unexpected(extra.to_string()));
    }
    let mut tensors = HashMap::with_capacity(specs.len());
    for (spec, view) in specs.iter().zip(&views) {
        let values = untrusted::f32_values(&spec.name, view)?;
        tensors.insert(
            spec.name.clone(),
            Tensor::from_vec(values, spec.shape.as_slice(), device)?,
        );
    }
    Ok(Checkpoint {
        config,
        tensors,
        metadata,
    })
}

impl Checkpoint {
    /// Fails unless the checkpoint's architecture is `expected`.
    pub fn expect_config(&self, expected: &ModelConfig) -> Result<(), CheckpointError> {
        if &self.config == expected {
            return Ok(());
        }
        Err(CheckpointError::ConfigMismatch {
            expected: expected.widths,
            expected_convs: expected.convs_per_block,
            expected_hidden: expected.hidden,
            found: self.config.widths,
            found_convs: self.config.convs_per_block,
            found_hidden: self.config.hidden,
        })
    }

    /// A model over these weights (for inference).
    pub fn model(&self, device: &Device) -> Result<Vgg, CheckpointError> {
        let vb = VarBuilder::from_tensors(self.tensors.clone(), DType::F32, device);
        Ok(Vgg::new(&self.config, vb)?)
    }

    /// A trainable copy of the weights: training it leaves this checkpoint unchanged (fine-tuning
    /// keeps the model it started from).
    pub fn to_varmap(&self) -> Result<VarMap, CheckpointError> {
        let varmap = VarMap::new();
        {
            let mut data = varmap
                .data()
                .lock()
                .map_err(|_| CheckpointError::Corrupt("lock poisoned".into()))?;
            for (name, t) in &self.tensors {
                // `Var::from_tensor` would share a tensor that already is a variable; a detached
                // tensor never is, so the variable gets storage of its own.
                data.insert(name.clone(), candle_core::Var::from_tensor(&t.detach())?);
            }
        }
        Ok(varmap)
    }

    /// The weights as trainable variables (to continue training).
    pub fn into_varmap(self) -> Result<VarMap, CheckpointError> {
        let varmap = VarMap::new();
        {
            let mut data = varmap
                .data()
                .lock()
                .map_err(|_| CheckpointError::Corrupt("lock poisoned".into()))?;
            for (name, t) in self.tensors {
                data.insert(name, candle_core::Var::from_tensor(&t)?);
            }
        }
        Ok(varmap)
    }
}

#[cfg(test)]
mod tests;
