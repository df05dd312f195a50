//! Temporary driver for [`vgg_mnist::bench::run_bench`] until the CLI grows a `bench` subcommand.
//! Prints one JSON line, like `shared/bench/torch_reference.py`.
//!
//! ```text
//! cargo run --release --example bench -- --widths 32 64 --batch-size 64 --batches 200 \
//!     --data-dir ../shared/mnist
//! ```

use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use vgg_mnist::bench::{run_bench, BenchConfig};
use vgg_mnist::data::Mnist;

#[derive(Parser)]
struct Args {
    #[arg(long, num_args = 2, default_values_t = [32, 64])]
    widths: Vec<usize>,
    #[arg(long, default_value_t = 64)]
    batch_size: usize,
    #[arg(long, default_value_t = 200)]
    batches: usize,
    /// Folder holding the four gzipped MNIST IDX files.
    #[arg(long, default_value = "../shared/mnist")]
    data_dir: PathBuf,
}

const FILES: [&str; 4] = [
    "train-images-idx3-ubyte.gz",
    "train-labels-idx1-ubyte.gz",
    "t10k-images-idx3-ubyte.gz",
    "t10k-labels-idx1-ubyte.gz",
];

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let bytes = FILES
        .iter()
        .map(|f| {
            let path = args.data_dir.join(f);
            std::fs::read(&path).with_context(|| format!("reading {}", path.display()))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let files = [0, 1, 2, 3].map(|i| (FILES[i], bytes[i].as_slice()));
    let data = Mnist::from_bytes(files)?;
    let config = BenchConfig {
        widths: [args.widths[0], args.widths[1]],
        batch_size: args.batch_size,
        batches: args.batches,
        ..BenchConfig::default()
    };
    let result = run_bench(&config, &data)?;
    println!("{}", serde_json::to_string(&result)?);
    Ok(())
}
