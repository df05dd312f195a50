//! The example's flags, and the recipes it measures.

use std::path::PathBuf;

use anyhow::{bail, Context, Result};
use vgg_mnist::finetune::FinetuneConfig;

pub struct Args {
    pub small: Option<PathBuf>,
    /// Only the small model (with `--small`).
    pub small_only: bool,
    pub sweep: bool,
    pub seeds: u64,
    pub write_style: Option<(String, PathBuf)>,
    /// Only these styles (all when empty).
    pub styles: Vec<String>,
    /// Configs given as `key=value,...` (replace the default list when any).
    pub configs: Vec<String>,
    /// Only the base models' accuracy on each style.
    pub base_only: bool,
}

pub fn parse_args() -> Result<Args> {
    let mut args = Args {
        small: None,
        small_only: false,
        sweep: false,
        seeds: 3,
        write_style: None,
        styles: Vec::new(),
        configs: Vec::new(),
        base_only: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--small" => args.small = Some(it.next().context("--small takes a path")?.into()),
            "--sweep" => args.sweep = true,
            "--small-only" => args.small_only = true,
            "--base-only" => args.base_only = true,
            "--styles" => {
                let list = it.next().context("--styles takes a comma-separated list")?;
                args.styles = list.split(',').map(str::to_string).collect();
            }
            "--config" => args.configs.push(it.next().context("--config takes key=value,...")?),
            "--seeds" => args.seeds = it.next().context("--seeds takes a number")?.parse()?,
            "--write-style" => {
                let name = it.next().context("--write-style takes a style and a directory")?;
                let dir = it.next().context("--write-style takes a style and a directory")?;
                args.write_style = Some((name, dir.into()));
            }
            other => bail!("unknown argument {other}"),
        }
    }
    Ok(args)
}

/// A config from `lr=3e-4,steps=40,batch=32,replay=0.5,augment=off` (others as the default).
fn parse_config(spec: &str) -> Result<FinetuneConfig> {
    let mut c = FinetuneConfig::default();
    for kv in spec.split(',') {
        let (k, v) = kv.split_once('=').context("key=value")?;
        match k {
            "lr" => c.lr = v.parse()?,
            "steps" => c.steps = v.parse()?,
            "batch" => c.batch_size = v.parse()?,
            "replay" => c.replay_share = v.parse()?,
            "augment" => c.augment = (v != "off").then(Default::default),
            _ => bail!("unknown config key {k}"),
        }
    }
    Ok(c)
}

/// The configs to measure: the default, and with `sweep` one knob at a time around it.
pub fn configs(sweep: bool, given: &[String]) -> Result<Vec<(String, FinetuneConfig)>> {
    if !given.is_empty() {
        return given.iter().map(|s| Ok((s.clone(), parse_config(s)?))).collect();
    }
    Ok(configs_around_default(sweep))
}

fn configs_around_default(sweep: bool) -> Vec<(String, FinetuneConfig)> {
    let d = FinetuneConfig::default();
    let mut out = vec![("default".to_string(), d.clone())];
    if !sweep {
        return out;
    }
    for lr in [1e-4, 1e-3] {
        out.push((format!("lr {lr:e}"), FinetuneConfig { lr, ..d.clone() }));
    }
    for steps in [20, 80] {
        out.push((format!("{steps} steps"), FinetuneConfig { steps, ..d.clone() }));
    }
    for replay_share in [0.5, 0.9] {
        out.push((
            format!("replay {replay_share}"),
            FinetuneConfig {
                replay_share,
                ..d.clone()
            },
        ));
    }
    out.push((
        "no augmentation".into(),
        FinetuneConfig {
            augment: None,
            ..d.clone()
        },
    ));
    out
}
