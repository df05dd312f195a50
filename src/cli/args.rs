//! Command-line arguments (clap derive). Defaults mirror [`vgg_mnist::train::TrainConfig`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};
use vgg_mnist::finetune::FinetuneConfig;
use vgg_mnist::train::TrainConfig;

use super::device::DeviceArg;

#[derive(Parser, Debug)]
#[command(
    name = "vgg-mnist",
    version,
    about = "Train and use a VGG-style CNN on MNIST (candle; CPU or CUDA)"
)]
pub struct Cli {
    /// What to do; without one, `train` runs with its defaults.
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Train a model and write weights, metrics and plots.
    Train(TrainArgs),
    /// Score a saved model on the MNIST test set.
    Eval(EvalArgs),
    /// Predict the digits in PNG/JPEG images.
    Predict(PredictArgs),
    /// Measure training and evaluation images/s (one JSON line, comparable with PyTorch).
    Bench(BenchArgs),
    /// Draw what the network does with one image (activations, filters, saliency) as a PNG.
    Explain(ExplainArgs),
    /// Fine-tune a model on your own digits (a My-digits IDX pair) and write it as a new model.
    Finetune(FinetuneArgs),
}

impl Default for Command {
    fn default() -> Self {
        Command::Train(TrainArgs::parse_from(["train"]))
    }
}

// `Parser` (not just `Args`) so that `train`'s defaults can be built for the no-subcommand case.
#[derive(Parser, Debug, Clone)]
pub struct TrainArgs {
    #[arg(long, default_value_t = TrainConfig::default().epochs)]
    pub epochs: usize,
    #[arg(long, default_value_t = TrainConfig::default().batch_size)]
    pub batch_size: usize,
    /// Peak learning rate (one-cycle: warm-up, then cosine decay).
    #[arg(long, default_value_t = TrainConfig::default().lr)]
    pub lr: f64,
    /// AdamW decoupled weight decay.
    #[arg(long, default_value_t = TrainConfig::default().weight_decay)]
    pub weight_decay: f64,
    /// Fraction of the run spent warming the learning rate up linearly.
    #[arg(long, default_value_t = TrainConfig::default().warmup_fraction)]
    pub warmup_fraction: f64,
    /// Channel widths of the two conv blocks.
    #[arg(long, value_delimiter = ',', default_values_t = [32, 64])]
    pub widths: Vec<usize>,
    /// Conv3x3 layers per block.
    #[arg(long, default_value_t = 2)]
    pub convs_per_block: usize,
    /// Width of an optional hidden linear layer before the head (0 = none).
    #[arg(long, default_value_t = 0)]
    pub hidden: usize,
    #[arg(long, default_value_t = TrainConfig::default().seed)]
    pub seed: u64,
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto)]
    pub device: DeviceArg,
    /// Directory holding the four MNIST .gz files.
    #[arg(long, default_value = "www/data")]
    pub data_dir: PathBuf,
    /// Where to write model.safetensors, metrics.json and plots.
    #[arg(long, default_value = "runs/latest")]
    pub out: PathBuf,
    /// Train on the first N training images only (quick runs, tests).
    #[arg(long)]
    pub limit_train: Option<usize>,
    /// Evaluate on the first N test images only (quick runs, tests).
    #[arg(long)]
    pub limit_test: Option<usize>,
    /// Train on the images as they are, without random affine augmentation.
    #[arg(long)]
    pub no_augment: bool,
    /// No progress bars (logs a line per epoch instead).
    #[arg(long)]
    pub quiet: bool,
    /// Also train on the My-digits IDX pair in this directory (e.g. the web app's download).
    #[arg(long)]
    pub extra_data: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct EvalArgs {
    /// A .safetensors file written by `train` (or downloaded from the web app).
    #[arg(long)]
    pub model: PathBuf,
    #[arg(long, default_value = "www/data")]
    pub data_dir: PathBuf,
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto)]
    pub device: DeviceArg,
    /// Evaluate on the first N test images only.
    #[arg(long)]
    pub limit_test: Option<usize>,
    /// Also write the evaluation (accuracy, loss, confusion matrix, every prediction) as JSON,
    /// the form the web app reads for the shipped model (`www/model/evaluation.json`).
    #[arg(long)]
    pub save_evaluation: Option<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct PredictArgs {
    #[arg(long)]
    pub model: PathBuf,
    /// PNG or JPEG images, each showing one digit (any size, dark-on-light or light-on-dark).
    #[arg(required = true)]
    pub images: Vec<PathBuf>,
}

#[derive(Args, Debug, Clone)]
pub struct ExplainArgs {
    #[arg(long)]
    pub model: PathBuf,
    /// A PNG or JPEG image showing one digit (read as `predict` reads it).
    pub image: PathBuf,
    /// Where to write the figure (PNG).
    #[arg(long, default_value = "explain.png")]
    pub out: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct BenchArgs {
    /// Channel widths of the two conv blocks (space- or comma-separated, like the PyTorch script).
    #[arg(long, num_args = 1..=2, value_delimiter = ',', default_values_t = [32, 64])]
    pub widths: Vec<usize>,
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// Timed training batches.
    #[arg(long, default_value_t = 200)]
    pub batches: usize,
    /// Untimed batches first (one-off costs: allocation, thread start-up; on a GPU the PTX JIT
    /// and cuBLAS's first calls, so use a few dozen there).
    #[arg(long, default_value_t = 3)]
    pub warmup: usize,
    /// Where to train: the same choice as `train --device` (on CUDA each timing waits for the GPU).
    #[arg(long, value_enum, default_value_t = DeviceArg::Cpu)]
    pub device: DeviceArg,
    #[arg(long, default_value = "www/data")]
    pub data_dir: PathBuf,
}

#[derive(Args, Debug, Clone)]
pub struct FinetuneArgs {
    /// The model to start from (a .safetensors file); it is never overwritten.
    #[arg(long)]
    pub model: PathBuf,
    /// Directory holding your digits: my-digits-images-idx3-ubyte.gz and
    /// my-digits-labels-idx1-ubyte.gz (the web app's download).
    #[arg(long)]
    pub data: PathBuf,
    /// Where to write the tuned model.safetensors and finetune.json.
    #[arg(long, default_value = "runs/finetune")]
    pub out: PathBuf,
    /// Directory holding the four MNIST .gz files (replay and the test set).
    #[arg(long, default_value = "www/data")]
    pub data_dir: PathBuf,
    /// Seeds the held-out split, the replay mix, the batch order and the augmentation.
    #[arg(long, default_value_t = FinetuneConfig::default().seed)]
    pub seed: u64,
    /// Peak learning rate.
    #[arg(long, default_value_t = FinetuneConfig::default().lr)]
    pub lr: f64,
    /// Optimiser steps (the budget is steps x batch size training images).
    #[arg(long, default_value_t = FinetuneConfig::default().steps)]
    pub steps: usize,
    #[arg(long, default_value_t = FinetuneConfig::default().batch_size)]
    pub batch_size: usize,
    /// Share of the training images drawn from MNIST's training set.
    #[arg(long, default_value_t = FinetuneConfig::default().replay_share)]
    pub replay_share: f64,
    #[arg(long, value_enum, default_value_t = DeviceArg::Auto)]
    pub device: DeviceArg,
    /// Replay from the first N MNIST training images only (quick runs, tests).
    #[arg(long)]
    pub limit_train: Option<usize>,
    /// Score on the first N MNIST test images only (quick runs, tests).
    #[arg(long)]
    pub limit_test: Option<usize>,
    /// No progress bar.
    #[arg(long)]
    pub quiet: bool,
}
