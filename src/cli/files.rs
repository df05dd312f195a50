//! File I/O for the CLI: reading MNIST and checkpoints with bounded sizes, and writing outputs so
//! that nothing is ever left half-written.
//!
//! Contract: every read refuses a file larger than its parser could accept before reading it;
//! [`check_writable`] proves an output directory takes files before a run starts;
//! [`write_atomic`] writes to a temporary file in the same directory and renames it into place,
//! so an existing file is either kept whole or replaced whole (a full disk or a crash loses
//! neither the old file nor leaves a partial new one).

use std::io::Write;
use std::path::Path;

use anyhow::{bail, Context, Result};
use candle_core::Device;
use vgg_mnist::checkpoint::{self, Checkpoint, MAX_CHECKPOINT_BYTES};
use vgg_mnist::data::{
    Dataset, Mnist, MAX_IDX_BYTES, MY_DIGITS_IMAGES, MY_DIGITS_LABELS, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES,
    TRAIN_LABELS,
};

/// Reads `path` unless it is larger than `max` bytes (`what` names it in errors).
pub fn read_capped(path: &Path, max: usize, what: &str) -> Result<Vec<u8>> {
    let size = std::fs::metadata(path)
        .with_context(|| format!("reading {what} {}", path.display()))?
        .len();
    if size > max as u64 {
        bail!(
            "{what} {} is {size} bytes, more than the {max} accepted",
            path.display()
        );
    }
    std::fs::read(path).with_context(|| format!("reading {what} {}", path.display()))
}

fn check_data_dir(dir: &Path) -> Result<()> {
    if !dir.is_dir() {
        bail!(
            "data directory {} not found; it should hold the four MNIST .gz files (see www/data/ in the repository), or pass --data-dir",
            dir.display()
        );
    }
    Ok(())
}

/// Reads and parses one pair of MNIST files in `dir`.
fn load_pair(dir: &Path, images: &str, labels: &str) -> Result<Dataset> {
    let (ip, lp) = (dir.join(images), dir.join(labels));
    let i = read_capped(&ip, MAX_IDX_BYTES, "data file")?;
    let l = read_capped(&lp, MAX_IDX_BYTES, "data file")?;
    Ok(Dataset::from_idx(
        &ip.display().to_string(),
        &i,
        &lp.display().to_string(),
        &l,
    )?)
}

/// Reads and parses the four MNIST files in `dir`.
pub fn load_mnist(dir: &Path) -> Result<Mnist> {
    check_data_dir(dir)?;
    Ok(Mnist {
        train: load_pair(dir, TRAIN_IMAGES, TRAIN_LABELS)?,
        test: load_test(dir)?,
    })
}

/// Reads and parses only the MNIST test files in `dir` (what `eval` needs).
pub fn load_test(dir: &Path) -> Result<Dataset> {
    check_data_dir(dir)?;
    load_pair(dir, TEST_IMAGES, TEST_LABELS)
}

/// The first `limit` images of `data` (all without a limit), which must not be none: an
/// evaluation of zero images would report 0 % of 0 as if it were a result.
pub fn take_nonempty(data: &Dataset, limit: Option<usize>, what: &str) -> Result<Dataset> {
    let taken = data.take(limit.unwrap_or(usize::MAX));
    if taken.is_empty() {
        bail!("the {what} set has no images");
    }
    Ok(taken)
}

/// Reads and parses a My-digits pair (the user's own samples) in `dir`, with the same IDX parser
/// as MNIST: a bad pair is refused with a message naming the file.
pub fn load_my_digits(dir: &Path) -> Result<Dataset> {
    if !dir.is_dir() {
        bail!(
            "directory {} not found; it should hold {MY_DIGITS_IMAGES} and {MY_DIGITS_LABELS} (the web app's My digits download)",
            dir.display()
        );
    }
    load_pair(dir, MY_DIGITS_IMAGES, MY_DIGITS_LABELS)
}

/// Reads and validates a checkpoint file.
pub fn load_checkpoint(path: &Path, device: &Device) -> Result<Checkpoint> {
    let bytes = read_capped(path, MAX_CHECKPOINT_BYTES, "model")?;
    checkpoint::from_bytes(&bytes, device).with_context(|| format!("loading model {}", path.display()))
}

/// Creates `dir` if needed and checks that files can be created in it, before any work whose
/// results would go there.
pub fn check_writable(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating output directory {}", dir.display()))?;
    tempfile::NamedTempFile::new_in(dir)
        .with_context(|| format!("output directory {} is not writable", dir.display()))?;
    Ok(())
}

/// Writes `bytes` to `dir/name` atomically: into a temporary file in `dir`, flushed to disk,
/// then renamed over `name`.
pub fn write_atomic(dir: &Path, name: &str, bytes: &[u8]) -> Result<()> {
    let path = dir.join(name);
    let context = || format!("writing {}", path.display());
    let mut tmp = tempfile::NamedTempFile::new_in(dir).with_context(context)?;
    tmp.write_all(bytes).with_context(context)?;
    // Why sync: a rename that reaches the disk before the data would leave an empty file after
    // a crash, in place of the old one.
    tmp.as_file().sync_all().with_context(context)?;
    tmp.persist(&path).map_err(|e| e.error).with_context(context)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_replace_whole_files_and_leave_no_temporaries() {
        let dir = tempfile::tempdir().unwrap();
        write_atomic(dir.path(), "a.bin", b"old").unwrap();
        write_atomic(dir.path(), "a.bin", b"new contents").unwrap();
        assert_eq!(std::fs::read(dir.path().join("a.bin")).unwrap(), b"new contents");
        let names: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["a.bin"]);
        // A failed write keeps the old file: here the target name is a directory.
        std::fs::create_dir(dir.path().join("d")).unwrap();
        assert!(write_atomic(dir.path(), "d", b"x").is_err());
        assert!(dir.path().join("d").is_dir());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 2, "no temporary left");
    }

    #[test]
    fn read_capped_refuses_large_files_without_reading_them() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("f");
        std::fs::write(&f, [0u8; 10]).unwrap();
        assert_eq!(read_capped(&f, 10, "x").unwrap().len(), 10);
        let err = read_capped(&f, 9, "data file").unwrap_err().to_string();
        assert!(err.contains("is 10 bytes, more than the 9 accepted"), "{err}");
    }
}
