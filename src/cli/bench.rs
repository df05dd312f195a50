//! `vgg-mnist bench`: training and evaluation throughput of the real `Trainer`, printed as one
//! JSON line with the same fields as `shared/bench/torch_reference.py`, so
//! `scripts/bench_vs_torch.sh` can divide the two.

use anyhow::Result;
use vgg_mnist::bench::{run_bench, BenchConfig};

use super::args::BenchArgs;
use super::{device, files, stdout};

pub fn run(args: BenchArgs) -> Result<()> {
    let [w1, w2] = args.widths[..] else {
        anyhow::bail!(
            "--widths takes two numbers, e.g. --widths 32 64 (got {:?})",
            args.widths
        );
    };
    let config = BenchConfig {
        widths: [w1, w2],
        batch_size: args.batch_size,
        batches: args.batches,
        warmup: args.warmup,
        ..BenchConfig::default()
    };
    // Every flag is checked before the data is read.
    config.validate()?;
    let device = device::select(args.device)?;
    let data = files::load_mnist(&args.data_dir)?;
    let result = run_bench(&config, &data, &device)?;
    stdout::line(serde_json::to_string(&result)?)?;
    Ok(())
}
