//! The measurement: fine-tune per (model, style, seed, recipe), then the summary table.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use candle_core::Device;
use vgg_mnist::checkpoint::{self, Checkpoint};
use vgg_mnist::data::{self, Mnist};
use vgg_mnist::finetune::{Finetune, FinetuneConfig};
use vgg_mnist::train::evaluate;

use crate::args::{configs, parse_args};
use crate::styles::{draw, styles, Style, MEASURED, STYLE_REST};

fn load_mnist() -> Result<Mnist> {
    let dir = PathBuf::from("www/data");
    let read = |n: &str| std::fs::read(dir.join(n)).with_context(|| format!("reading {n}"));
    let (a, b, c, d) = (
        read(data::TRAIN_IMAGES)?,
        read(data::TRAIN_LABELS)?,
        read(data::TEST_IMAGES)?,
        read(data::TEST_LABELS)?,
    );
    Ok(Mnist::from_bytes([
        (data::TRAIN_IMAGES, &a),
        (data::TRAIN_LABELS, &b),
        (data::TEST_IMAGES, &c),
        (data::TEST_LABELS, &d),
    ])?)
}

fn load_checkpoint(path: &PathBuf) -> Result<Checkpoint> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(checkpoint::from_bytes(&bytes, &Device::Cpu)?)
}

fn pct(x: f64) -> String {
    format!("{:.2}", 100.0 * x)
}

pub fn main() -> Result<()> {
    let args = parse_args()?;
    let mnist = load_mnist()?;
    if let Some((name, dir)) = &args.write_style {
        let style = styles().into_iter().find(|s| s.name == name).context("no such style")?;
        let samples = style.apply(&mnist.test.select(&draw(&mnist.test, 0).samples));
        let (images, labels) = data::to_idx_gz(&samples)?;
        std::fs::create_dir_all(dir)?;
        std::fs::write(dir.join(data::MY_DIGITS_IMAGES), images)?;
        std::fs::write(dir.join(data::MY_DIGITS_LABELS), labels)?;
        println!("wrote {} {name} samples to {}", samples.len(), dir.display());
        return Ok(());
    }
    let mut models = Vec::new();
    if !args.small_only {
        models.push((
            "seed 32/64",
            load_checkpoint(&"www/model/vgg-mnist.safetensors".into())?,
        ));
    }
    if let Some(path) = &args.small {
        models.push(("small 8/16", load_checkpoint(path)?));
    }
    // Without --styles: all of them for --base-only, else the three the base models find hardest.
    let wanted = |name: &str| match args.styles.is_empty() {
        true => args.base_only || MEASURED.contains(&name),
        false => args.styles.iter().any(|n| n == name),
    };
    let styles: Vec<Style> = styles().into_iter().filter(|s| wanted(s.name)).collect();
    let configs = configs(args.sweep, &args.configs)?;
    let device = Device::Cpu;
    if args.base_only {
        println!("| model | style | accuracy on {STYLE_REST} images |\n|---|---|---|");
        for (model_name, base) in &models {
            let base_model = base.model(&device)?;
            for style in &styles {
                let rest = style.apply(&mnist.test.select(&draw(&mnist.test, 0).rest));
                let acc = evaluate(&base_model, &rest, &device)?.accuracy;
                println!("| {model_name} | {} | {} |", style.name, pct(acc));
            }
        }
        return Ok(());
    }
    println!("| model | recipe | style | seed | held-out (10): before → after | style, {STYLE_REST} unseen: before → after | MNIST (9,940): before → after | train s |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut runs = Vec::new();
    for (model_name, base) in &models {
        let base_model = base.model(&device)?;
        for style in &styles {
            for seed in 0..args.seeds {
                let d = draw(&mnist.test, seed);
                let samples = style.apply(&mnist.test.select(&d.samples));
                let rest = style.apply(&mnist.test.select(&d.rest));
                let mnist_test = mnist.test.select(&d.mnist);
                let rest_before = evaluate(&base_model, &rest, &device)?.accuracy;
                let mnist_before = evaluate(&base_model, &mnist_test, &device)?.accuracy;
                for (config_name, config) in &configs {
                    let config = FinetuneConfig { seed, ..config.clone() };
                    let started = Instant::now();
                    let mut f = Finetune::new(base, &samples, &mnist.train, &config)?;
                    f.run()?;
                    let seconds = started.elapsed().as_secs_f64();
                    let run = Run {
                        model: model_name,
                        config: config_name,
                        style: style.name,
                        held: [
                            evaluate(&base_model, f.held_out(), &device)?.accuracy,
                            evaluate(f.model(), f.held_out(), &device)?.accuracy,
                        ],
                        rest: [rest_before, evaluate(f.model(), &rest, &device)?.accuracy],
                        mnist: [mnist_before, evaluate(f.model(), &mnist_test, &device)?.accuracy],
                    };
                    println!(
                        "| {model_name} | {config_name} | {} | {seed} | {} → {} | {} → {} | {} → {} | {seconds:.1} |",
                        style.name,
                        pct(run.held[0]),
                        pct(run.held[1]),
                        pct(run.rest[0]),
                        pct(run.rest[1]),
                        pct(run.mnist[0]),
                        pct(run.mnist[1]),
                    );
                    runs.push(run);
                }
            }
        }
    }
    summary(&runs, &styles);
    Ok(())
}

/// One fine-tune's accuracies, each `[before, after]`.
struct Run<'a> {
    model: &'a str,
    config: &'a str,
    style: &'a str,
    held: [f64; 2],
    rest: [f64; 2],
    mnist: [f64; 2],
}

/// Per model and recipe: each style's mean before → after over the seeds, and the change on
/// MNIST (mean and worst), in points.
fn summary(runs: &[Run], styles: &[Style]) {
    let mut keys: Vec<(&str, &str)> = Vec::new();
    for r in runs {
        if !keys.contains(&(r.model, r.config)) {
            keys.push((r.model, r.config));
        }
    }
    let names: Vec<&str> = styles.iter().map(|s| s.name).collect();
    println!(
        "\n| model | recipe | {} | MNIST change, mean (worst) |",
        names.join(" | ")
    );
    println!("|---|---|{}---|", "---|".repeat(names.len()));
    let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len().max(1) as f64;
    for (model, config) in keys {
        let of = |r: &&Run| r.model == model && r.config == config;
        let mut cells = Vec::new();
        for name in &names {
            let these: Vec<&Run> = runs.iter().filter(of).filter(|r| r.style == *name).collect();
            let before: Vec<f64> = these.iter().map(|r| r.rest[0]).collect();
            let after: Vec<f64> = these.iter().map(|r| r.rest[1]).collect();
            cells.push(format!("{:.1} → {:.1}", 100.0 * mean(&before), 100.0 * mean(&after)));
        }
        let deltas: Vec<f64> = runs
            .iter()
            .filter(of)
            .map(|r| 100.0 * (r.mnist[1] - r.mnist[0]))
            .collect();
        let worst = deltas.iter().copied().fold(f64::INFINITY, f64::min);
        println!(
            "| {model} | {config} | {} | {:+.2} ({:+.2}) |",
            cells.join(" | "),
            mean(&deltas),
            worst
        );
    }
}
