//! File I/O for the CLI: reading MNIST from a directory and checkpoints from disk.

use std::path::Path;

use anyhow::{bail, Context, Result};
use candle_core::Device;
use vgg_mnist::checkpoint::{self, Checkpoint};
use vgg_mnist::data::{
    Dataset, Mnist, MY_DIGITS_IMAGES, MY_DIGITS_LABELS, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS,
};

/// Reads and parses the four MNIST files in `dir`.
pub fn load_mnist(dir: &Path) -> Result<Mnist> {
    if !dir.is_dir() {
        bail!(
            "data directory {} not found; it should hold the four MNIST .gz files (see www/data/ in the repository), or pass --data-dir",
            dir.display()
        );
    }
    let read =
        |name: &str| std::fs::read(dir.join(name)).with_context(|| format!("reading {}", dir.join(name).display()));
    let (ti, tl, vi, vl) = (
        read(TRAIN_IMAGES)?,
        read(TRAIN_LABELS)?,
        read(TEST_IMAGES)?,
        read(TEST_LABELS)?,
    );
    let path = |n: &str| dir.join(n).display().to_string();
    let mnist = Mnist::from_bytes([
        (&path(TRAIN_IMAGES), &ti),
        (&path(TRAIN_LABELS), &tl),
        (&path(TEST_IMAGES), &vi),
        (&path(TEST_LABELS), &vl),
    ])?;
    Ok(mnist)
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
    let (images, labels) = (dir.join(MY_DIGITS_IMAGES), dir.join(MY_DIGITS_LABELS));
    let read = |path: &Path| std::fs::read(path).with_context(|| format!("reading {}", path.display()));
    let (image_bytes, label_bytes) = (read(&images)?, read(&labels)?);
    let data = Dataset::from_idx(
        &images.display().to_string(),
        &image_bytes,
        &labels.display().to_string(),
        &label_bytes,
    )?;
    Ok(data)
}

/// Reads and validates a checkpoint file.
pub fn load_checkpoint(path: &Path, device: &Device) -> Result<Checkpoint> {
    let bytes = std::fs::read(path).with_context(|| format!("reading model {}", path.display()))?;
    checkpoint::from_bytes(&bytes, device).with_context(|| format!("loading model {}", path.display()))
}
