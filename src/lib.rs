//! vgg-mnist: a VGG-style CNN trained on MNIST with candle, natively (CPU or CUDA) or inside the
//! browser (wasm32 + Yew).
//!
//! The core modules are pure (no filesystem, no DOM) so the native CLI, the browser worker and
//! the tests share them:
//!
//! - [`data`]: IDX parsing from bytes, [`data::Dataset`]
//! - [`batches`]: seeded, reshuffled-every-epoch batching
//! - [`augment`]: seeded random affine augmentation
//! - [`model`]: the network, its config and seeded initialisation
//! - [`conv`]: the conv3x3 layer, choosing the implementation per device
//! - [`kernels`]: the CPU im2col + gemm conv3x3 + ReLU, forward and backward, as candle ops
//! - [`train`]: the one [`train::Trainer`]
//! - [`finetune`]: "teach it my handwriting": the fine-tuning recipe around the `Trainer`
//! - [`evaluation`]: scoring a model on a dataset, at once or a slice at a time
//! - [`explain`]: every layer's activations, the first filters and the input's saliency
//! - [`schedule`]: the learning-rate schedule
//! - [`metrics`]: confusion matrix and per-class metrics
//! - [`checkpoint`]: weights ↔ safetensors bytes
//! - [`preprocess`]: a drawing → MNIST-style 28x28 input
//! - [`stroke_width`]: bold strokes in pictures thinned towards MNIST's width
//! - [`strokes`]: pen strokes → the 28x28 input at any drawn size; a vector digit font
//! - `image_input` (native only): image file bytes → RGBA, format from content, bounded size
//! - [`predictor`]: checkpoint → preprocess → forward, timed (CLI `predict` and the drawing pad)
//! - [`app`]: the web app's logic without the DOM (settings, state, messages), tested natively
//! - `bench` (native only): training/eval throughput of the real `Trainer`
//! - `web` (wasm32 only): the Yew app and the training Web Worker
//!
//! The README's Architecture section is the code map, with the invariants that hold across it.

pub mod app;
pub mod augment;
pub mod batches;
#[cfg(not(target_arch = "wasm32"))]
pub mod bench;
pub mod checkpoint;
pub mod conv;
pub mod data;
pub mod evaluation;
pub mod explain;
pub mod finetune;
#[cfg(not(target_arch = "wasm32"))]
pub mod image_input;
pub mod kernels;
pub mod metrics;
pub mod model;
pub mod predictor;
pub mod preprocess;
mod resize;
pub mod schedule;
pub mod stroke_width;
pub mod strokes;
pub mod train;

#[cfg(target_arch = "wasm32")]
pub mod web;
