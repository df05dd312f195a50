//! `vgg-mnist finetune`: the native driver of the core fine-tuning recipe
//! ([`vgg_mnist::finetune`]): reads a model and a My-digits pair, tunes, prints before → after on
//! the held-out samples and the MNIST test set, and writes the tuned model as a new file.

use anyhow::{bail, Result};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;
use vgg_mnist::finetune::{Finetune, FinetuneConfig, FinetuneReport};

use super::args::FinetuneArgs;
use super::{device, files, stdout, validate};

/// What `finetune.json` holds.
#[derive(Serialize)]
struct FinetuneRecord<'a> {
    base_model: String,
    samples: usize,
    tuning_samples: usize,
    config: &'a FinetuneConfig,
    report: &'a FinetuneReport,
}

pub fn run(args: FinetuneArgs) -> Result<()> {
    let config = FinetuneConfig {
        lr: args.lr,
        steps: args.steps,
        batch_size: args.batch_size,
        replay_share: args.replay_share,
        seed: args.seed,
        ..FinetuneConfig::default()
    };
    config.validate()?;
    let out_model = args.out.join("model.safetensors");
    if files::same_file(&out_model, &args.model) {
        bail!(
            "--out {} would overwrite --model {}; the model you start from is kept, so pass another --out",
            args.out.display(),
            args.model.display()
        );
    }
    let (limit_train, limit_test) = (
        validate::limit("--limit-train", args.limit_train)?,
        validate::limit("--limit-test", args.limit_test)?,
    );
    let device = device::select(args.device)?;
    let base = files::load_checkpoint(&args.model, &device)?;
    let samples = files::load_my_digits(&args.data)?;
    let mnist = files::load_mnist(&args.data_dir)?;
    let train = files::take_nonempty(&mnist.train, limit_train, "training")?;
    let test = files::take_nonempty(&mnist.test, limit_test, "test")?;
    drop(mnist);
    let mut tune = Finetune::new(&base, &samples, &train, &config)?;
    // Only once the samples passed their checks: a refused run leaves no directory behind.
    files::check_writable(&args.out)?;
    eprintln!(
        "fine-tuning {} ({:?}) on {} of your {} digits ({} held out for scoring): {} steps of {} images, {:.0}% MNIST replay, peak lr {:e}, device {}",
        args.model.display(),
        base.config.widths,
        tune.tuning().len(),
        samples.len(),
        tune.held_out().len(),
        config.steps,
        config.batch_size,
        100.0 * config.replay_share,
        config.lr,
        device::name(&device)
    );

    let bar = ProgressBar::with_draw_target(
        Some(tune.total_steps() as u64),
        if args.quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        },
    );
    bar.set_style(ProgressStyle::with_template("step {pos}/{len} [{bar:30.green/white}] {msg}")?.progress_chars("=> "));
    while !tune.is_done() {
        let stats = tune.step()?;
        bar.inc(1);
        bar.set_message(format!("loss {:.4}", stats.loss));
    }
    bar.finish_and_clear();

    let report = tune.report(&test)?;
    files::write_atomic(&args.out, "model.safetensors", &tune.checkpoint()?)?;
    let record = FinetuneRecord {
        base_model: args.model.display().to_string(),
        samples: samples.len(),
        tuning_samples: tune.tuning().len(),
        config: &config,
        report: &report,
    };
    files::write_atomic(
        &args.out,
        "finetune.json",
        serde_json::to_string_pretty(&record)?.as_bytes(),
    )?;

    let correct = |accuracy: f64| (accuracy * report.held_out as f64).round() as usize;
    stdout::line(format_args!(
        "held-out samples of your digits ({}): {:.1}% → {:.1}% ({} → {} correct)",
        report.held_out,
        100.0 * report.before,
        100.0 * report.after,
        correct(report.before),
        correct(report.after)
    ))?;
    stdout::line(format_args!(
        "MNIST test set ({} images): {:.2}% → {:.2}%",
        report.mnist_images,
        100.0 * report.mnist_before,
        100.0 * report.mnist_after
    ))?;
    stdout::line(format_args!(
        "wrote the tuned model to {} ({} is unchanged) and finetune.json",
        out_model.display(),
        args.model.display()
    ))?;
    Ok(())
}
