//! `vgg-mnist train`: the native driver of the shared `Trainer`, with progress bars, per-epoch
//! evaluation, and the run's files (weights, metrics.json, plots).
//!
//! Order: flags are validated, the data read and `--out` proven writable before the first step;
//! each file is written atomically; after divergence the weights that gave the last finite loss
//! are kept as `model-last-good.safetensors`.

use std::path::Path;
use std::time::Instant;

use anyhow::{anyhow, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use vgg_mnist::checkpoint::CheckpointError;
use vgg_mnist::train::{TrainError, Trainer};

use super::args::TrainArgs;
use super::report::{summary, EpochRecord, RunConfig, RunMetrics};
use super::{device, files, plots, stdout, validate};

/// Where the weights of the last finite loss go when a run diverges.
const LAST_GOOD: &str = "model-last-good.safetensors";

pub fn run(args: TrainArgs) -> Result<()> {
    let (model_config, config) = validate::train_configs(&args)?;
    let device = device::select(args.device)?;
    let mnist = files::load_mnist(&args.data_dir)?;
    let mut train = files::take_nonempty(&mnist.train, args.limit_train, "training")?;
    let test = files::take_nonempty(&mnist.test, args.limit_test, "test")?;
    drop(mnist);
    if let Some(dir) = &args.extra_data {
        let extra = files::load_my_digits(dir)?;
        eprintln!(
            "adding {} of your digits from {} to the training set",
            extra.len(),
            dir.display()
        );
        train.append(&extra);
    }
    files::check_writable(&args.out)?;
    let (n_train, n_test) = (train.len(), test.len());
    let mut trainer = Trainer::new(&model_config, config.clone(), train, &device)?;
    eprintln!(
        "training {} parameters ({:?}, {} convs/block) on {} images, testing on {}, device {}",
        model_config.num_params(),
        model_config.widths,
        model_config.convs_per_block,
        n_train,
        n_test,
        device::name(&device)
    );

    let bars = MultiProgress::with_draw_target(if args.quiet {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    });
    let epoch_bar = bars.add(ProgressBar::new(config.epochs as u64));
    epoch_bar.set_style(ProgressStyle::with_template(
        "epoch {pos}/{len} [{bar:30.cyan/blue}] elapsed {elapsed_precise}, ETA {eta_precise}",
    )?);
    let step_bar = bars.add(ProgressBar::new(trainer.steps_per_epoch() as u64));
    step_bar.set_style(
        ProgressStyle::with_template("batch {pos:>5}/{len} [{bar:30.green/white}] {msg}")?.progress_chars("=> "),
    );
    let log = |line: String| {
        if bars.is_hidden() {
            eprintln!("{line}")
        } else {
            bars.println(line).unwrap_or(())
        }
    };

    let mut history = Vec::new();
    let mut train_seconds = 0.0;
    let mut images_seen = 0usize;
    // The last epoch's evaluation (and its duration) is the run's final result: the weights do not
    // change after it.
    let mut last_eval = None;
    for epoch in 0..config.epochs {
        step_bar.reset();
        let started = Instant::now();
        let (mut loss_sum, mut correct, mut seen) = (0f64, 0f64, 0usize);
        for _ in 0..trainer.steps_per_epoch() {
            let stats = match trainer.step() {
                Ok(s) => s,
                Err(e @ TrainError::Diverged { .. }) => return Err(save_last_good(&trainer, &args.out, e)),
                Err(e) => return Err(e.into()),
            };
            loss_sum += stats.loss as f64 * stats.batch_size as f64;
            correct += stats.accuracy as f64 * stats.batch_size as f64;
            seen += stats.batch_size;
            step_bar.inc(1);
            step_bar.set_message(format!(
                "loss {:.4}, acc {:.2}%, {:.0} img/s, lr {:.2e}",
                stats.loss,
                100.0 * stats.accuracy,
                seen as f64 / started.elapsed().as_secs_f64(),
                stats.lr
            ));
        }
        let seconds = started.elapsed().as_secs_f64();
        train_seconds += seconds;
        images_seen += seen;
        let eval_started = Instant::now();
        let eval = trainer.evaluate(&test)?;
        let eval_seconds = eval_started.elapsed().as_secs_f64();
        let record = EpochRecord {
            epoch: epoch + 1,
            train_loss: loss_sum / seen as f64,
            train_accuracy: correct / seen as f64,
            test_loss: eval.loss,
            test_accuracy: eval.accuracy,
            train_images_per_second: seen as f64 / seconds,
        };
        log(format!(
            "epoch {:>3}: train loss {:.4}, train acc {:.2}%, test loss {:.4}, test acc {:.2}%, {:.0} img/s",
            record.epoch,
            record.train_loss,
            100.0 * record.train_accuracy,
            record.test_loss,
            100.0 * record.test_accuracy,
            record.train_images_per_second
        ));
        history.push(record);
        last_eval = Some((eval, eval_seconds));
        epoch_bar.inc(1);
    }
    step_bar.finish_and_clear();
    epoch_bar.finish();

    // `Trainer::new` rejects zero epochs, so at least one evaluation ran.
    let (eval, eval_seconds) = last_eval.ok_or_else(|| anyhow::anyhow!("no epoch was trained"))?;

    let out = &args.out;
    let weights = match trainer.checkpoint() {
        Ok(bytes) => bytes,
        // The last update broke the weights (no loss has seen them yet): keep the good ones.
        Err(e @ CheckpointError::NonFinite { .. }) => return Err(save_last_good(&trainer, out, e)),
        Err(e) => return Err(e.into()),
    };
    files::write_atomic(out, "model.safetensors", &weights)?;
    let metrics = RunMetrics {
        test_accuracy: eval.accuracy,
        test_loss: eval.loss,
        confusion_matrix: eval.confusion.counts,
        per_class: eval.confusion.per_class(),
        most_confused: eval.confusion.most_confused(10),
        epochs: config.epochs,
        train_images_per_second: images_seen as f64 / train_seconds,
        eval_images_per_second: n_test as f64 / eval_seconds,
        train_seconds,
        seed: config.seed,
        device: device::name(&device).to_string(),
        config: RunConfig {
            model: model_config,
            train: config,
            train_images: n_train,
            test_images: n_test,
        },
        history,
    };
    files::write_atomic(out, "metrics.json", serde_json::to_string_pretty(&metrics)?.as_bytes())?;
    let title = format!("test accuracy {:.2}%", 100.0 * eval.accuracy);
    files::write_atomic(
        out,
        "confusion_matrix.png",
        &plots::confusion_png(&eval.confusion, &title)?,
    )?;
    let svg = plots::confusion_svg(&eval.confusion, &title)?;
    files::write_atomic(out, "confusion_matrix.svg", svg.as_bytes())?;
    files::write_atomic(out, "training_curves.png", &plots::training_curves(&metrics.history)?)?;
    stdout::line(summary(&eval))?;
    stdout::line(format_args!(
        "trained {:.0} images/s over {:.1} s; wrote model.safetensors, metrics.json, confusion_matrix.png/.svg, training_curves.png to {}",
        metrics.train_images_per_second,
        train_seconds,
        out.display()
    ))?;
    Ok(())
}

/// After divergence (`cause`) the trainer's weights are those that gave the non-finite loss, so
/// keep its copy of the last weights that gave a finite one rather than lose the run.
fn save_last_good(trainer: &Trainer, out: &Path, cause: impl std::fmt::Display) -> anyhow::Error {
    let good = match trainer.last_good_checkpoint() {
        Ok(Some(good)) => good,
        Ok(None) => return anyhow!("{cause}; no step had a finite loss, so no weights were kept"),
        Err(e) => return anyhow!("{cause}; the last good weights could not be kept either: {e}"),
    };
    match files::write_atomic(out, LAST_GOOD, &good.bytes) {
        Ok(()) => anyhow!(
            "{cause}; the last good weights, which gave a finite loss at step {} (epoch {}), are in {}",
            good.step,
            good.epoch + 1,
            out.join(LAST_GOOD).display()
        ),
        Err(e) => anyhow!("{cause}; saving the last good weights failed: {e:#}"),
    }
}
