//! `vgg-mnist eval`: score a saved model on the MNIST test set (only the test files are read).

use anyhow::Result;
use vgg_mnist::train::evaluate;

use super::args::EvalArgs;
use super::report::summary;
use super::{device, files, stdout, validate};

pub fn run(args: EvalArgs) -> Result<()> {
    let limit = validate::limit("--limit-test", args.limit_test)?;
    // Where the evaluation goes is checked before the work, like every output.
    let save = (args.save_evaluation.as_ref())
        .map(|path| files::output_path(path, "--save-evaluation", &[&args.model]))
        .transpose()?;
    if let Some((dir, _)) = &save {
        files::check_writable(dir)?;
    }
    let device = device::select(args.device)?;
    let checkpoint = files::load_checkpoint(&args.model, &device)?;
    let test = files::take_nonempty(&files::load_test(&args.data_dir)?, limit, "test")?;
    let model = checkpoint.model(&device)?;
    let eval = evaluate(&model, &test, &device)?;
    stdout::line(format_args!(
        "model {} ({:?}, {} convs/block)",
        args.model.display(),
        checkpoint.config.widths,
        checkpoint.config.convs_per_block
    ))?;
    stdout::line(summary(&eval))?;
    if let Some((dir, name)) = &save {
        files::write_atomic(dir, name, &serde_json::to_vec(&eval)?)?;
    }
    Ok(())
}
