//! Replays the fuzzers' committed inputs as ordinary tests on stable: the minimised corpora
//! (`fuzz/corpus/<target>/`) and every input that ever crashed a target
//! (`fuzz/regressions/<target>/`), through the same bodies as the fuzz targets
//! (`fuzz/targets.rs`). Built with the test profile's overflow checks, like the fuzz build.
#![cfg(not(target_arch = "wasm32"))]

#[path = "../fuzz/targets.rs"]
mod targets;

use std::path::Path;

/// Runs `body` on every file of the target's corpus and regressions; returns how many.
fn replay(target: &str, body: fn(&[u8])) -> usize {
    let fuzz = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut count = 0;
    for dir in [fuzz.join("corpus").join(target), fuzz.join("regressions").join(target)] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("a readable corpus directory").path();
            let bytes = std::fs::read(&path).expect("a readable corpus file");
            let outcome = std::panic::catch_unwind(|| body(&bytes));
            assert!(outcome.is_ok(), "{target}: {} fails", path.display());
            count += 1;
        }
    }
    count
}

#[test]
fn idx_corpus() {
    assert!(replay("idx", targets::idx) > 10);
}

#[test]
fn checkpoint_corpus() {
    assert!(replay("checkpoint", targets::checkpoint) > 10);
}

#[test]
fn image_corpus() {
    assert!(replay("image", targets::image) > 10);
}

#[test]
fn settings_corpus() {
    assert!(replay("settings", targets::settings) > 10);
}
