//! Native command-line shell: argument parsing, file I/O, progress bars and plots around the pure
//! core. Every user error ends in a one-line `error: …` message and exit code 1, never a panic.

mod args;
mod bench;
mod device;
mod eval;
mod files;
mod plots;
mod predict;
mod report;
mod train;

use std::process::ExitCode;

use clap::Parser;

pub use args::{Cli, Command};

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command.unwrap_or_default() {
        Command::Train(a) => train::run(a),
        Command::Eval(a) => eval::run(a),
        Command::Predict(a) => predict::run(a),
        Command::Bench(a) => bench::run(a),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // `{:#}` prints the context chain on one line: "reading www/data: No such file …".
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
