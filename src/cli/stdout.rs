//! Results on stdout, where a reader that goes away (`vgg-mnist predict *.png | head -1`) ends the
//! command quietly instead of panicking as `println!` does.

use std::io::Write;

/// Writes `text` and a newline to stdout.
pub fn line(text: impl std::fmt::Display) -> std::io::Result<()> {
    writeln!(std::io::stdout().lock(), "{text}")
}

/// Whether `e` comes from a closed stdout (the reader of a pipe has exited).
pub fn is_closed_pipe(e: &anyhow::Error) -> bool {
    e.chain()
        .filter_map(|cause| cause.downcast_ref::<std::io::Error>())
        .any(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
}
