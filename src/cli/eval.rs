//! `vgg-mnist eval`: score a saved model on the MNIST test set.

use anyhow::{Context, Result};
use vgg_mnist::train::evaluate;

use super::args::EvalArgs;
use super::report::summary;
use super::{device, files};

pub fn run(args: EvalArgs) -> Result<()> {
    let device = device::select(args.device)?;
    let checkpoint = files::load_checkpoint(&args.model, &device)?;
    let mnist = files::load_mnist(&args.data_dir)?;
    let test = mnist.test.take(args.limit_test.unwrap_or(usize::MAX));
    let model = checkpoint.model(&device)?;
    let eval = evaluate(&model, &test, &device)?;
    println!(
        "model {} ({:?}, {} convs/block)",
        args.model.display(),
        checkpoint.config.widths,
        checkpoint.config.convs_per_block
    );
    println!("{}", summary(&eval));
    if let Some(path) = &args.save_evaluation {
        std::fs::write(path, serde_json::to_vec(&eval)?).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}
