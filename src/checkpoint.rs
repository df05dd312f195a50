//! Checkpoints: model weights ↔ safetensors **bytes**, with the [`ModelConfig`] in the metadata.
//!
//! Why bytes: `VarMap::save/load` go through the filesystem, which the browser does not have; the
//! CLI writes these bytes to a file, the web app downloads/uploads/stores them, and both read
//! each other's files. Loading checks every tensor against [`param_specs`] of the stored config
//! and fails with a message naming the first mismatch, so a wrong file never loads silently.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use candle_nn::{VarBuilder, VarMap};

use crate::model::{param_specs, ModelConfig, Vgg};

/// Metadata key holding the JSON-encoded [`ModelConfig`].
pub const CONFIG_KEY: &str = "vgg_mnist.model_config";
/// Metadata key identifying the file format.
pub const FORMAT_KEY: &str = "format";
pub const FORMAT: &str = "vgg-mnist/1";
/// The largest checkpoint accepted from an upload or storage (bytes).
pub const MAX_CHECKPOINT_BYTES: usize = 64 << 20;

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

/// Serialises named tensors with `config` in the metadata.
pub fn tensors_to_bytes(mut tensors: Vec<(String, Tensor)>, config: &ModelConfig) -> Result<Vec<u8>, CheckpointError> {
    // Sorted names give byte-identical files for identical weights.
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
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

/// Parses and validates a checkpoint; tensors are placed on `device`.
pub fn from_bytes(bytes: &[u8], device: &Device) -> Result<Checkpoint, CheckpointError> {
    let (_, meta) =
        safetensors::SafeTensors::read_metadata(bytes).map_err(|e| CheckpointError::Corrupt(e.to_string()))?;
    let metadata = meta.metadata().clone().unwrap_or_default();
    let config_json = metadata.get(CONFIG_KEY).ok_or(CheckpointError::NoConfig)?;
    let config: ModelConfig =
        serde_json::from_str(config_json).map_err(|e| CheckpointError::BadConfig(e.to_string()))?;
    config.validate().map_err(CheckpointError::BadConfig)?;
    let mut tensors =
        candle_core::safetensors::load_buffer(bytes, device).map_err(|e| CheckpointError::Corrupt(e.to_string()))?;
    let specs = param_specs(&config);
    for spec in &specs {
        let t = tensors
            .get(&spec.name)
            .ok_or_else(|| CheckpointError::Missing(spec.name.clone()))?;
        if t.dims() != spec.shape.as_slice() {
            return Err(CheckpointError::ShapeMismatch {
                name: spec.name.clone(),
                expected: spec.shape.clone(),
                found: t.dims().to_vec(),
            });
        }
        if t.dtype() != DType::F32 {
            let converted = t.to_dtype(DType::F32)?;
            tensors.insert(spec.name.clone(), converted);
        }
    }
    if let Some(extra) = tensors.keys().find(|k| !specs.iter().any(|s| &s.name == *k)) {
        return Err(CheckpointError::Unexpected(extra.clone()));
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
mod tests {
    use super::*;
    use crate::model::init_params;
    use candle_core::Module;

    #[test]
    fn round_trip_keeps_weights_and_outputs() {
        let config = ModelConfig::small();
        let dev = Device::Cpu;
        let varmap = init_params(&config, 5, &dev).unwrap();
        let bytes = to_bytes(&varmap, &config).unwrap();
        let ck = from_bytes(&bytes, &dev).unwrap();
        assert_eq!(ck.config, config);
        assert_eq!(ck.metadata[FORMAT_KEY], FORMAT);
        let a = Vgg::new(&config, VarBuilder::from_varmap(&varmap, DType::F32, &dev)).unwrap();
        let b = ck.model(&dev).unwrap();
        let xs = Tensor::ones((2, 1, 28, 28), DType::F32, &dev).unwrap();
        let diff = (a.forward(&xs).unwrap() - b.forward(&xs).unwrap())
            .unwrap()
            .abs()
            .unwrap();
        assert_eq!(diff.max_all().unwrap().to_scalar::<f32>().unwrap(), 0.0);
    }

    #[test]
    fn rejects_mismatches_with_named_errors() {
        let dev = Device::Cpu;
        let small = ModelConfig::small();
        let varmap = init_params(&small, 1, &dev).unwrap();
        // Claim it is the seed model: the first conv's shape no longer fits.
        let bad = tensors_to_bytes(
            varmap
                .data()
                .lock()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
                .collect(),
            &ModelConfig::default(),
        )
        .unwrap();
        let err = from_bytes(&bad, &dev).unwrap_err().to_string();
        assert!(
            err.contains("block1.conv1.weight") && err.contains("[8, 1, 3, 3]") && err.contains("[32, 1, 3, 3]"),
            "{err}"
        );

        let ck = from_bytes(&to_bytes(&varmap, &small).unwrap(), &dev).unwrap();
        let err = ck.expect_config(&ModelConfig::default()).unwrap_err().to_string();
        assert!(err.contains("[8, 16]") && err.contains("[32, 64]"), "{err}");

        let err = from_bytes(b"definitely not safetensors", &dev).unwrap_err();
        assert!(matches!(err, CheckpointError::Corrupt(_)), "{err}");

        let plain = safetensors::serialize([("x", &Tensor::zeros(3, DType::F32, &dev).unwrap())], None).unwrap();
        assert!(matches!(
            from_bytes(&plain, &dev).unwrap_err(),
            CheckpointError::NoConfig
        ));
    }
}
