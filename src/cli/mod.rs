//! Native command-line shell: argument parsing, file I/O, progress bars and plots around the pure
//! core. Every user error ends in a one-line `error: …` message and exit code 1, never a panic;
//! flags are checked before any I/O ([`validate`]), outputs are written atomically
//! ([`files::write_atomic`]), and a closed stdout ends a command quietly ([`stdout`]).

mod args;
mod bench;
mod device;
mod eval;
mod explain;
mod explain_plot;
mod files;
mod finetune;
mod plots;
mod predict;
mod report;
mod stdout;
mod train;
mod validate;

use std::process::ExitCode;

use clap::Parser;

pub use args::{Cli, Command};

/// Errors already reported line by line (`predict`'s, one per failed image): the command exits
/// with code 1 and prints nothing more.
#[derive(Debug, thiserror::Error)]
#[error("{failed} of {total} inputs failed")]
pub struct Reported {
    pub failed: usize,
    pub total: usize,
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let command = cli.command.unwrap_or_default();
    let run = move || match command {
        Command::Train(a) => train::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Bench(a) => bench::run(a),
        Command::Explain(a) => explain::run(a),
        Command::Finetune(a) => finetune::run(a),
    };
    // The command runs on a thread of rayon's pool, so the thread that drives training takes
    // part in every parallel section instead of waiting beside the pool's threads. Outside the
    // pool, on 2 cores, the waiting main thread and two workers that spin before they sleep
    // were three busy threads for two cores: seed-model training ran 14 % slower (`bench`, four
    // alternating pairs: 750-797 vs 833-930 images/s inside the pool). 8 MiB of stack, as the
    // main thread has.
    let result = match rayon::ThreadPoolBuilder::new().stack_size(8 << 20).build() {
        Ok(pool) => pool.install(run),
        Err(_) => run(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if e.is::<Reported>() => ExitCode::FAILURE,
        // The reader of our output has gone (`| head`): nobody is left to tell.
        Err(e) if stdout::is_closed_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the context chain on one line: "reading www/data: No such file …".
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
