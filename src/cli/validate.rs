//! Flag checks that run before any I/O: a command whose flags cannot work says so at once, in one
//! line, before it reads a data file, creates a directory or trains for an hour.
//!
//! Contract: the checks are the core's own ([`ModelConfig::validate`],
//! [`TrainConfig::validate`]), run on the flags alone, so what passes here cannot fail later for
//! a reason the flags already showed.

use anyhow::{bail, Result};
use vgg_mnist::model::ModelConfig;
use vgg_mnist::train::TrainConfig;

use super::args::TrainArgs;

/// The model and training configs that `train`'s flags describe, validated.
pub fn train_configs(args: &TrainArgs) -> Result<(ModelConfig, TrainConfig)> {
    let model = model_config(&args.widths, args.convs_per_block, args.hidden)?;
    let config = TrainConfig {
        epochs: args.epochs,
        batch_size: args.batch_size,
        lr: args.lr,
        weight_decay: args.weight_decay,
        warmup_fraction: args.warmup_fraction,
        seed: args.seed,
        augment: if args.no_augment {
            None
        } else {
            TrainConfig::default().augment
        },
    };
    config.validate(&model)?;
    limit("--limit-train", args.limit_train)?;
    limit("--limit-test", args.limit_test)?;
    Ok((model, config))
}

/// A model config from `--widths W1,W2`, `--convs-per-block` and `--hidden`, validated.
pub fn model_config(widths: &[usize], convs_per_block: usize, hidden: usize) -> Result<ModelConfig> {
    let [w1, w2] = widths[..] else {
        bail!("--widths takes two comma-separated numbers, e.g. --widths 32,64 (got {widths:?})");
    };
    let config = ModelConfig {
        widths: [w1, w2],
        convs_per_block,
        hidden,
    };
    config.validate().map_err(anyhow::Error::msg)?;
    Ok(config)
}

/// A `--limit-*` flag: at least one image when given.
pub fn limit(flag: &str, value: Option<usize>) -> Result<Option<usize>> {
    if value == Some(0) {
        bail!("{flag} 0 leaves no images; give at least 1, or leave the flag out for all");
    }
    Ok(value)
}
