//! `vgg-mnist train`: the native driver of the shared `Trainer`, with progress bars, per-epoch
//! evaluation, and the run's files (weights, metrics.json, plots).

use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use vgg_mnist::model::ModelConfig;
use vgg_mnist::train::{TrainConfig, TrainError, Trainer};

use super::args::TrainArgs;
use super::report::{summary, EpochRecord, RunConfig, RunMetrics};
use super::{device, files, plots};

pub fn run(args: TrainArgs) -> Result<()> {
    let [w1, w2] = args.widths[..] else {
        anyhow::bail!(
            "--widths takes two comma-separated numbers, e.g. --widths 32,64 (got {:?})",
            args.widths
        );
    };
    let model_config = ModelConfig {
        widths: [w1, w2],
        convs_per_block: args.convs_per_block,
        hidden: args.hidden,
    };
    model_config.validate().map_err(anyhow::Error::msg)?;
    let device = device::select(args.device)?;
    let mnist = files::load_mnist(&args.data_dir)?;
    let mut train = mnist.train.take(args.limit_train.unwrap_or(usize::MAX));
    if let Some(dir) = &args.extra_data {
        let extra = files::load_my_digits(dir)?;
        eprintln!(
            "adding {} of your digits from {} to the training set",
            extra.len(),
            dir.display()
        );
        train.append(&extra);
    }
    let test = mnist.test.take(args.limit_test.unwrap_or(usize::MAX));
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
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating output directory {}", args.out.display()))?;
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
    write(out, "model.safetensors", &trainer.checkpoint()?)?;
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
    write(out, "metrics.json", serde_json::to_string_pretty(&metrics)?.as_bytes())?;
    let title = format!("test accuracy {:.2}%", 100.0 * eval.accuracy);
    plots::confusion_png(&out.join("confusion_matrix.png"), &eval.confusion, &title)?;
    plots::confusion_svg(&out.join("confusion_matrix.svg"), &eval.confusion, &title)?;
    plots::training_curves(&out.join("training_curves.png"), &metrics.history)?;
    println!("{}", summary(&eval));
    println!(
        "trained {:.0} images/s over {:.1} s; wrote model.safetensors, metrics.json, confusion_matrix.png/.svg, training_curves.png to {}",
        metrics.train_images_per_second,
        train_seconds,
        out.display()
    );
    Ok(())
}

fn write(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let path = dir.join(name);
    std::fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))
}

/// On divergence the weights are still the last good ones (the trainer checks the loss before
/// updating), so keep them rather than lose the run.
fn save_last_good(trainer: &Trainer, out: &Path, err: TrainError) -> anyhow::Error {
    let saved = trainer
        .checkpoint()
        .ok()
        .and_then(|b| write(out, "model-last-good.safetensors", &b).ok());
    match saved {
        Some(()) => anyhow::anyhow!(
            "{err} (the last good weights are in {})",
            out.join("model-last-good.safetensors").display()
        ),
        None => err.into(),
    }
}
