//! The VGG-style network: two conv blocks (N x conv3x3 + ReLU, then 2x2 max-pool), a linear head.
//!
//! ```text
//! (B, 1, 28, 28) -> block1: [conv3x3 w1 + ReLU] x N, maxpool 2 -> (B, w1, 14, 14)
//!                -> block2: [conv3x3 w2 + ReLU] x N, maxpool 2 -> (B, w2, 7, 7)
//!                -> flatten (B, w2*49) -> [linear hidden + ReLU] -> linear -> (B, 10) logits
//! ```
//!
//! Contract: this is the one model definition, used by the CLI, the browser worker and the tests.
//! Parameter names are stable (`block1.conv1.weight`, …, `head.bias`) because checkpoints are keyed
//! by them; [`param_specs`] is the single list of names and shapes that initialisation and
//! checkpoint validation both read. No I/O here. What a model may cost (the compute budget and the
//! parameter cap that [`ModelConfig::validate`] enforces) is in [`budget`].

use candle_core::{Device, Module, Result, Tensor, D};
use candle_nn::{Linear, VarBuilder, VarMap};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::conv::{block_forward, Conv3x3};
use crate::data::{IMAGE_SIDE, NUM_CLASSES};

pub mod budget;

pub use self::budget::{MAX_FORWARD_MACS, MAX_PARAMS};

/// Shape of the network. The default reproduces the PyTorch seed: widths 32 and 64, two convs per
/// block, no hidden layer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelConfig {
    /// Output channels of the convs in block 1 and block 2.
    pub widths: [usize; 2],
    /// Conv3x3 layers per block (the seed used 2; VGG uses 2-3).
    pub convs_per_block: usize,
    /// Width of an optional hidden fully-connected layer before the head (0 = none, as in the seed).
    #[serde(default)]
    pub hidden: usize,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            widths: [32, 64],
            convs_per_block: 2,
            hidden: 0,
        }
    }
}

impl ModelConfig {
    /// The small model the browser trains by default (widths 8 and 16).
    pub fn small() -> Self {
        Self {
            widths: [8, 16],
            ..Self::default()
        }
    }
}

/// Name, shape and fan-in of one parameter tensor.
#[derive(Clone, Debug, PartialEq)]
pub struct ParamSpec {
    pub name: String,
    pub shape: Vec<usize>,
    pub fan_in: usize,
}

/// Every parameter of the network described by `config`, in a fixed order.
pub fn param_specs(config: &ModelConfig) -> Vec<ParamSpec> {
    let mut specs = Vec::new();
    let mut push = |name: String, shape: Vec<usize>, fan_in: usize| specs.push(ParamSpec { name, shape, fan_in });
    let mut c_in = 1;
    for (b, &w) in config.widths.iter().enumerate() {
        for c in 0..config.convs_per_block {
            let prefix = format!("block{}.conv{}", b + 1, c + 1);
            push(format!("{prefix}.weight"), vec![w, c_in, 3, 3], c_in * 9);
            push(format!("{prefix}.bias"), vec![w], c_in * 9);
            c_in = w;
        }
    }
    let mut features = c_in * (IMAGE_SIDE / 4) * (IMAGE_SIDE / 4);
    if config.hidden > 0 {
        push("hidden.weight".into(), vec![config.hidden, features], features);
        push("hidden.bias".into(), vec![config.hidden], features);
        features = config.hidden;
    }
    push("head.weight".into(), vec![NUM_CLASSES, features], features);
    push("head.bias".into(), vec![NUM_CLASSES], features);
    specs
}

/// Fresh parameters from a seeded RNG, in a [`VarMap`] ready for [`Vgg::new`].
///
/// Why our own RNG: candle's CPU RNG cannot be seeded, and a seed must give identical training.
/// Weights are He-uniform (`U(-sqrt(6/fan_in), +)`, suited to ReLU), except the head, which uses
/// PyTorch's default `U(-1/sqrt(fan_in), +)`; biases start at zero.
pub fn init_params(config: &ModelConfig, seed: u64, device: &Device) -> Result<VarMap> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let varmap = VarMap::new();
    {
        let mut data = varmap.data().lock().expect("fresh VarMap lock");
        for spec in param_specs(config) {
            let n: usize = spec.shape.iter().product();
            let values: Vec<f32> = if spec.name.ends_with(".bias") {
                vec![0.0; n]
            } else {
                let gain = if spec.name.starts_with("head") {
                    1.0
                } else {
                    6f32.sqrt()
                };
                let bound = gain / (spec.fan_in as f32).sqrt();
                (0..n).map(|_| rng.random_range(-bound..bound)).collect()
            };
            let t = Tensor::from_vec(values, spec.shape.as_slice(), device)?;
            data.insert(spec.name, candle_core::Var::from_tensor(&t)?);
        }
    }
    Ok(varmap)
}

/// The network. Build it with [`Vgg::new`] over a `VarBuilder` that already holds every tensor of
/// [`param_specs`] (from [`init_params`] or a checkpoint).
#[derive(Clone, Debug)]
pub struct Vgg {
    blocks: Vec<Vec<Conv3x3>>,
    hidden: Option<Linear>,
    head: Linear,
    config: ModelConfig,
}

impl Vgg {
    pub fn new(config: &ModelConfig, vb: VarBuilder) -> Result<Self> {
        let mut c_in = 1;
        let mut blocks = Vec::new();
        for (b, &w) in config.widths.iter().enumerate() {
            let vb_b = vb.pp(format!("block{}", b + 1));
            let mut convs = Vec::new();
            for c in 0..config.convs_per_block {
                convs.push(Conv3x3::new(c_in, w, vb_b.pp(format!("conv{}", c + 1)))?);
                c_in = w;
            }
            blocks.push(convs);
        }
        let mut features = c_in * (IMAGE_SIDE / 4) * (IMAGE_SIDE / 4);
        let hidden = if config.hidden > 0 {
            let l = candle_nn::linear(features, config.hidden, vb.pp("hidden"))?;
            features = config.hidden;
            Some(l)
        } else {
            None
        };
        let head = candle_nn::linear(features, NUM_CLASSES, vb.pp("head"))?;
        Ok(Self {
            blocks,
            hidden,
            head,
            config: config.clone(),
        })
    }

    pub fn config(&self) -> &ModelConfig {
        &self.config
    }

    /// Class probabilities `(B, 10)` for normalised inputs `(B, 1, 28, 28)`; no gradients.
    pub fn probabilities(&self, xs: &Tensor) -> Result<Tensor> {
        candle_nn::ops::softmax_last_dim(&self.forward_inference(xs)?)
    }

    /// The logits as [`Module::forward`] computes them, for evaluation and prediction: the conv
    /// parameters are detached (views of the same weights, tracking nothing), so the block ops
    /// keep no activations for a backward pass that will never come (170 MB per 500-image batch
    /// for the seed model).
    ///
    /// # Shapes
    /// `xs`: `(B, 1, 28, 28)` → `(B, 10)`.
    pub fn forward_inference(&self, xs: &Tensor) -> Result<Tensor> {
        self.forward_with(xs, true)
    }

    fn forward_with(&self, xs: &Tensor, detach: bool) -> Result<Tensor> {
        let mut xs = xs.clone();
        for convs in &self.blocks {
            xs = if detach {
                let detached: Vec<Conv3x3> = convs.iter().map(Conv3x3::detach).collect();
                block_forward(&detached, &xs)?
            } else {
                block_forward(convs, &xs)?
            }; // (B, w, s/2, s/2)
        }
        self.classify(&xs.flatten_from(1)?) // (B, 10)
    }

    /// The conv blocks, each a list of its layers (for [`Vgg::explain`]).
    pub(crate) fn blocks(&self) -> &[Vec<Conv3x3>] {
        &self.blocks
    }

    /// The layers after the conv blocks: flattened features `(B, w2 * 49)` → logits `(B, 10)`.
    pub(crate) fn classify(&self, features: &Tensor) -> Result<Tensor> {
        let mut xs = features.clone();
        if let Some(hidden) = &self.hidden {
            xs = hidden.forward(&xs)?.relu()?; // (B, hidden)
        }
        self.head.forward(&xs) // (B, 10)
    }
}

impl Module for Vgg {
    /// # Shapes
    /// `xs`: `(B, 1, 28, 28)` normalised pixels → `(B, 10)` logits.
    fn forward(&self, xs: &Tensor) -> Result<Tensor> {
        self.forward_with(xs, false)
    }
}

/// Index of the largest value in each row of `(B, C)`.
pub fn argmax_rows(t: &Tensor) -> Result<Vec<u32>> {
    t.argmax(D::Minus1)?.to_vec1::<u32>()
}

#[cfg(test)]
mod tests {
    use super::*;
    use candle_core::DType;

    #[test]
    fn seed_model_shapes_and_param_count() {
        let config = ModelConfig::default();
        // 320 + 9248 + 18496 + 36928 + 31370 (the PyTorch seed's count).
        assert_eq!(config.num_params(), 96_362);
        let varmap = init_params(&config, 0, &Device::Cpu).unwrap();
        let vb = VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu);
        let model = Vgg::new(&config, vb).unwrap();
        let xs = Tensor::zeros((3, 1, 28, 28), DType::F32, &Device::Cpu).unwrap();
        assert_eq!(model.forward(&xs).unwrap().dims(), &[3, 10]);
        assert_eq!(varmap.all_vars().len(), param_specs(&config).len());
        // Inference computes the same logits, tracking nothing.
        let xs = Tensor::randn(0f32, 1.0, (3, 1, 28, 28), &Device::Cpu).unwrap();
        let (a, b) = (model.forward(&xs).unwrap(), model.forward_inference(&xs).unwrap());
        assert_eq!(a.to_vec2::<f32>().unwrap(), b.to_vec2::<f32>().unwrap());
    }

    #[test]
    fn init_is_seeded() {
        let c = ModelConfig::small();
        let get = |seed| {
            let vm = init_params(&c, seed, &Device::Cpu).unwrap();
            let t = vm.data().lock().unwrap()["block1.conv1.weight"]
                .as_tensor()
                .flatten_all()
                .unwrap();
            t.to_vec1::<f32>().unwrap()
        };
        assert_eq!(get(1), get(1));
        assert_ne!(get(1), get(2));
    }

    #[test]
    fn hidden_layer_and_three_convs() {
        let config = ModelConfig {
            widths: [4, 8],
            convs_per_block: 3,
            hidden: 16,
        };
        let names: Vec<String> = param_specs(&config).into_iter().map(|p| p.name).collect();
        assert!(names.contains(&"block2.conv3.weight".to_string()));
        assert!(names.contains(&"hidden.weight".to_string()));
        let varmap = init_params(&config, 0, &Device::Cpu).unwrap();
        let model = Vgg::new(&config, VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu)).unwrap();
        let xs = Tensor::zeros((2, 1, 28, 28), DType::F32, &Device::Cpu).unwrap();
        assert_eq!(model.forward(&xs).unwrap().dims(), &[2, 10]);
    }
}
