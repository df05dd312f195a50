//! Look inside the network: every layer's activations, the first layer's filters, and a saliency
//! map (the gradient of one digit's logit with respect to the input), for one image.
//!
//! Contract: [`Vgg::explain`] runs the image through the same layers as the model's forward pass,
//! but one op per layer ([`Conv3x3::forward_relu`] and [`crate::conv::max_pool2x2`]) on a tracked
//! input, so every intermediate result can be read and the input gradient flows back; the
//! whole-block op stays the path of training and prediction. Its activations equal that path's
//! (the pools equal `block_forward`'s outputs, the logits `forward_inference`'s: tested). The
//! result is plain data ([`Explanation`]), so a page can draw it without candle. The saliency is
//! exact for the network as it is (ReLU and max-pool are piecewise linear; each pool window's
//! gradient goes to its first maximum), with respect to the normalised input. No I/O.
//!
//! ```
//! use candle_core::{DType, Device, Tensor};
//! use candle_nn::VarBuilder;
//! use vgg_mnist::model::{init_params, ModelConfig, Vgg};
//! let config = ModelConfig::small();
//! let varmap = init_params(&config, 0, &Device::Cpu)?;
//! let model = Vgg::new(&config, VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu))?;
//! let xs = Tensor::zeros((1, 1, 28, 28), DType::F32, &Device::Cpu)?;
//! let e = model.explain(&xs, None)?;
//! // block1.conv1, block1.conv2, pool1, block2.conv1, block2.conv2, pool2
//! assert_eq!(e.layers.len(), 6);
//! assert_eq!((e.layers[2].channels, e.layers[2].height), (8, 14));
//! assert_eq!((e.saliency.len(), e.head_inputs), (784, 16 * 7 * 7));
//! # Ok::<(), candle_core::Error>(())
//! ```

use candle_core::{bail, Result, Tensor, Var};
use serde::{Deserialize, Serialize};

use crate::conv::{max_pool2x2, Conv3x3};
use crate::data::{IMAGE_SIDE, NUM_CLASSES};
use crate::model::Vgg;

/// One layer's output (or the first layer's filters): `channels` maps of `height x width`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LayerMap {
    /// The conv's parameter prefix (`block1.conv1`), `pool1`/`pool2`, or `block1.conv1.weight`.
    pub name: String,
    pub channels: usize,
    pub height: usize,
    pub width: usize,
    /// `(channels, height, width)`, row-major.
    pub values: Vec<f32>,
}

impl LayerMap {
    fn from_tensor(name: String, t: &Tensor) -> Result<Self> {
        let (channels, height, width) = match t.dims() {
            &[1, c, h, w] => (c, h, w),
            d => bail!("explain: expected one image's maps (1, C, H, W), got {d:?}"),
        };
        Ok(Self {
            name,
            channels,
            height,
            width,
            values: t.flatten_all()?.to_vec1::<f32>()?,
        })
    }

    /// The map of channel `c` (`height * width` values; empty past the last channel).
    pub fn channel(&self, c: usize) -> &[f32] {
        let len = self.height * self.width;
        self.values.get(c * len..(c + 1) * len).unwrap_or(&[])
    }
}

/// What the network does with one image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Explanation {
    /// Every conv's output after its ReLU and every pool's output, in order:
    /// `block1.conv1`, …, `pool1`, `block2.conv1`, …, `pool2`.
    pub layers: Vec<LayerMap>,
    /// The first conv's 3x3 filters: `(C, 3, 3)`, named `block1.conv1.weight`.
    pub filters: LayerMap,
    /// `d logit[target] / d input` for each of the 28x28 (normalised) input pixels, row-major:
    /// positive where more ink would raise the target's score.
    pub saliency: Vec<f32>,
    pub logits: Vec<f32>,
    pub probabilities: Vec<f32>,
    /// The digit whose logit the saliency explains (by default the predicted one).
    pub target: usize,
    /// Length of the flattened features after the conv blocks (`w2 * 7 * 7`): what the head reads
    /// (or the hidden layer, when the model has one).
    pub head_inputs: usize,
}

impl Explanation {
    /// The most probable digit.
    pub fn predicted(&self) -> usize {
        self.probabilities
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.total_cmp(b.1))
            .map_or(0, |(i, _)| i)
    }
}

impl Vgg {
    /// Every layer's activations, the first layer's filters, the logits and probabilities, and
    /// the saliency of `target`'s logit (default: the predicted digit) for one image.
    ///
    /// # Shapes
    /// `xs`: `(1, 1, 28, 28)`, normalised like the model's input.
    ///
    /// # Errors
    /// If `xs` is not one 28x28 image, `target` is not a digit, or as the ops.
    pub fn explain(&self, xs: &Tensor, target: Option<usize>) -> Result<Explanation> {
        if xs.dims() != [1, 1, IMAGE_SIDE, IMAGE_SIDE] {
            bail!("explain: expected one 28x28 image (1, 1, 28, 28), got {:?}", xs.dims())
        }
        if let Some(t) = target.filter(|&t| t >= NUM_CLASSES) {
            bail!("explain: target {t} is not a digit 0-9")
        }
        // The input is a variable so that the gradient reaches it; the convs' weights are
        // detached (no gradient kept for them); the head's small ones are not, and their
        // gradients are dropped with the rest.
        let input = Var::from_tensor(&xs.detach())?;
        let mut h = input.as_tensor().clone();
        let mut layers = Vec::new();
        for (b, convs) in self.blocks().iter().enumerate() {
            for (c, conv) in convs.iter().enumerate() {
                h = conv.detach().forward_relu(&h)?; // (1, C, H, W)
                layers.push(LayerMap::from_tensor(format!("block{}.conv{}", b + 1, c + 1), &h)?);
            }
            h = max_pool2x2(&h)?; // (1, C, H/2, W/2)
            layers.push(LayerMap::from_tensor(format!("pool{}", b + 1), &h)?);
        }
        let features = h.flatten_from(1)?; // (1, w2 * 49)
        let head_inputs = features.dim(1)?;
        let logits = self.classify(&features)?; // (1, 10)
        let probabilities = candle_nn::ops::softmax_last_dim(&logits.detach())?;
        let logits_vec = logits.flatten_all()?.to_vec1::<f32>()?;
        let probabilities = probabilities.flatten_all()?.to_vec1::<f32>()?;
        let target = target.unwrap_or_else(|| {
            probabilities
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .map_or(0, |(i, _)| i)
        });
        let grads = logits.get(0)?.get(target)?.backward()?;
        let saliency = match grads.get(input.as_tensor()) {
            Some(g) => g.flatten_all()?.to_vec1::<f32>()?, // (784,)
            // No path from the input to the logit (every ReLU closed): nothing raises it.
            None => vec![0.0; IMAGE_SIDE * IMAGE_SIDE],
        };
        let first = self
            .blocks()
            .first()
            .and_then(|convs| convs.first())
            .map(Conv3x3::weight)
            .ok_or_else(|| candle_core::Error::Msg("explain: the model has no conv layer".into()))?;
        let filters = LayerMap::from_tensor("block1.conv1.weight".into(), &first.transpose(0, 1)?)?;
        Ok(Explanation {
            layers,
            filters,
            saliency,
            logits: logits_vec,
            probabilities,
            target,
            head_inputs,
        })
    }
}

#[cfg(test)]
mod tests {
    use candle_core::{DType, Device, Module};
    use candle_nn::VarBuilder;
    use rand::{Rng, SeedableRng};
    use rand_chacha::ChaCha8Rng;

    use super::*;
    use crate::conv::block_forward;
    use crate::model::{init_params, ModelConfig};

    fn model(config: &ModelConfig, seed: u64) -> Vgg {
        let varmap = init_params(config, seed, &Device::Cpu).unwrap();
        Vgg::new(config, VarBuilder::from_varmap(&varmap, DType::F32, &Device::Cpu)).unwrap()
    }

    /// A smooth blob of "ink" plus seeded noise, normalised: no exact ties in the pools.
    fn image(seed: u64) -> Tensor {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        let pixels: Vec<f32> = (0..784)
            .map(|i| {
                let (y, x) = ((i / 28) as f32 - 14.0, (i % 28) as f32 - 12.0 - seed as f32);
                2.5 * (-(x * x + y * y) / 40.0).exp() + rng.random_range(-0.5f32..0.5)
            })
            .collect();
        Tensor::from_vec(pixels, (1, 1, 28, 28), &Device::Cpu).unwrap()
    }

    fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
        assert_eq!(a.len(), b.len());
        a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max)
    }

    fn values(t: &Tensor) -> Vec<f32> {
        t.flatten_all().unwrap().to_vec1::<f32>().unwrap()
    }

    #[test]
    fn activations_equal_the_forward_pass() {
        let config = ModelConfig {
            widths: [6, 10],
            convs_per_block: 2,
            hidden: 0,
        };
        let m = model(&config, 3);
        let xs = image(0);
        let e = m.explain(&xs, None).unwrap();
        let names: Vec<&str> = e.layers.iter().map(|l| l.name.as_str()).collect();
        let want = [
            "block1.conv1",
            "block1.conv2",
            "pool1",
            "block2.conv1",
            "block2.conv2",
            "pool2",
        ];
        assert_eq!(names, want);
        // The pools against the whole-block op that training and prediction use.
        let pool1 = block_forward(&m.blocks()[0], &xs).unwrap(); // (1, 6, 14, 14)
        let pool2 = block_forward(&m.blocks()[1], &pool1).unwrap(); // (1, 10, 7, 7)
        assert!(max_abs_diff(&e.layers[2].values, &values(&pool1)) < 1e-5);
        assert!(max_abs_diff(&e.layers[5].values, &values(&pool2)) < 1e-5);
        assert_eq!(
            (e.layers[5].channels, e.layers[5].height, e.layers[5].width),
            (10, 7, 7)
        );
        // The first conv against candle's own conv2d + ReLU (a fresh model's biases are zero).
        let conv = &m.blocks()[0][0];
        let reference = xs.conv2d(conv.weight(), 1, 1, 1, 1).unwrap().relu().unwrap();
        assert!(max_abs_diff(&e.layers[0].values, &values(&reference)) < 1e-5);
        // The logits against the model's forward passes.
        let logits = values(&m.forward_inference(&xs).unwrap());
        assert!(max_abs_diff(&e.logits, &logits) < 1e-5);
        assert!(max_abs_diff(&e.logits, &values(&m.forward(&xs).unwrap())) < 1e-5);
        assert!((e.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert_eq!(e.target, e.predicted());
        assert_eq!(e.head_inputs, 10 * 49);
        // The filters are the first conv's weights, one 3x3 per output channel.
        assert_eq!((e.filters.channels, e.filters.height, e.filters.width), (6, 3, 3));
        assert_eq!(e.filters.values, values(conv.weight()));
        assert_eq!(e.filters.channel(1), &values(conv.weight())[9..18]);
        assert!(e.filters.channel(6).is_empty());
    }

    #[test]
    fn the_saliency_matches_a_central_finite_difference() {
        // Three convs per block and a hidden layer, so every kind of layer is on the path.
        let config = ModelConfig {
            widths: [4, 8],
            convs_per_block: 3,
            hidden: 12,
        };
        let m = model(&config, 11);
        let xs = image(2);
        let target = 3;
        let e = m.explain(&xs, Some(target)).unwrap();
        assert_eq!(e.target, target);
        let logit = |x: &Tensor| values(&m.forward_inference(x).unwrap())[target];
        // The four most salient pixels and four others spread over the image.
        let mut order: Vec<usize> = (0..784).collect();
        order.sort_by(|&a, &b| e.saliency[b].abs().total_cmp(&e.saliency[a].abs()));
        let pixels: Vec<usize> = order[..4].iter().copied().chain([300, 350, 406, 433]).collect();
        let scale = e.saliency.iter().fold(0f32, |m, v| m.max(v.abs()));
        assert!(scale > 0.0, "the gradient reaches the input");
        let base = values(&xs);
        // Small enough that no ReLU or pool switches within ±eps (the network is piecewise
        // linear; at 1e-3 one of these pixels already crossed a kink on one side), large enough
        // that f32's rounding of the logits stays near 1e-4.
        let eps = 3e-4;
        for &p in &pixels {
            let shifted = |d: f32| {
                let mut v = base.clone();
                v[p] += d;
                Tensor::from_vec(v, (1, 1, 28, 28), &Device::Cpu).unwrap()
            };
            let fd = (logit(&shifted(eps)) - logit(&shifted(-eps))) / (2.0 * eps);
            let err = (fd - e.saliency[p]).abs();
            assert!(
                err <= 0.01 * scale + 2e-4,
                "pixel {p}: gradient {} vs finite difference {fd}",
                e.saliency[p]
            );
        }
    }

    #[test]
    fn bad_inputs_are_errors() {
        let m = model(&ModelConfig::small(), 0);
        let two = Tensor::zeros((2, 1, 28, 28), DType::F32, &Device::Cpu).unwrap();
        assert!(m.explain(&two, None).is_err());
        let one = Tensor::zeros((1, 1, 28, 28), DType::F32, &Device::Cpu).unwrap();
        assert!(m.explain(&one, Some(10)).is_err());
        // A blank input still explains (its saliency may be all zero, never NaN).
        let e = m.explain(&one, Some(0)).unwrap();
        assert!(e.saliency.iter().all(|v| v.is_finite()));
    }
}
