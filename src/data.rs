//! MNIST data: IDX parsing from bytes and the in-memory [`Dataset`] (batching order and batch
//! tensors: [`crate::batches`]).
//!
//! Contract: everything here works on `&[u8]` (gzip-compressed or raw IDX) and never touches the
//! filesystem or the DOM, so the CLI (which reads files) and the browser worker (which fetches
//! them) share it. Every malformed input gives an [`IdxError`] naming the file and the problem,
//! and no input makes the parser hold more than its header announces (`data/idx.rs`).
//!
//! Pixels are stored as `u8` and normalised only when a batch is built, with the classic MNIST
//! statistics [`MNIST_MEAN`] and [`MNIST_STD`] (mean and standard deviation of the training set's
//! pixels scaled to 0..1), the same constants the PyTorch seed used.

mod idx;
mod write;

pub use self::idx::{
    parse_images, parse_images_at_most, parse_labels, parse_labels_at_most, IdxError, MAX_IDX_BYTES, MAX_IDX_IMAGES,
};
pub use self::write::to_idx_gz;

/// Side length of an MNIST image.
pub const IMAGE_SIDE: usize = 28;
/// Pixels per image (28 * 28).
pub const IMAGE_PIXELS: usize = IMAGE_SIDE * IMAGE_SIDE;
/// Number of classes (digits 0-9).
pub const NUM_CLASSES: usize = 10;
/// Mean of the MNIST training pixels in 0..1; subtracted before the network sees an image.
pub const MNIST_MEAN: f32 = 0.1307;
/// Standard deviation of the MNIST training pixels in 0..1; inputs are divided by it.
pub const MNIST_STD: f32 = 0.3081;

/// The canonical file names, as shipped in `www/data/`.
pub const TRAIN_IMAGES: &str = "train-images-idx3-ubyte.gz";
pub const TRAIN_LABELS: &str = "train-labels-idx1-ubyte.gz";
pub const TEST_IMAGES: &str = "t10k-images-idx3-ubyte.gz";
pub const TEST_LABELS: &str = "t10k-labels-idx1-ubyte.gz";
/// The file names of a set of "My digits" (the user's own drawings): on disk for the CLI
/// (`finetune --data DIR`, `train --extra-data DIR`) and as the browser's download.
pub const MY_DIGITS_IMAGES: &str = "my-digits-images-idx3-ubyte.gz";
pub const MY_DIGITS_LABELS: &str = "my-digits-labels-idx1-ubyte.gz";

/// What can be wrong with a [`Dataset`] built in memory (its fields are public).
#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("{pixels} pixels are not {labels} images of 28x28")]
    Shape { pixels: usize, labels: usize },
    #[error("label {label} at index {index} is not a digit 0-9")]
    BadLabel { index: usize, label: u8 },
    #[error("{0} images do not fit an IDX file (at most 2^32 - 1)")]
    TooMany(usize),
    #[error("gzip compression failed: {0}")]
    Compress(String),
}

/// Images (u8, 0 = background) and their labels, kept in memory.
#[derive(Clone, Debug, Default)]
pub struct Dataset {
    /// `len() * 784` pixels, image after image.
    pub images: Vec<u8>,
    /// One digit per image.
    pub labels: Vec<u8>,
}

impl Dataset {
    /// Parses a pair of IDX files and checks that they describe the same number of images.
    pub fn from_idx(images_name: &str, images: &[u8], labels_name: &str, labels: &[u8]) -> Result<Self, IdxError> {
        Self::from_idx_at_most(images_name, images, labels_name, labels, MAX_IDX_IMAGES)
    }

    /// [`Dataset::from_idx`] for a caller that keeps at most `max` images: a header announcing
    /// more is refused before anything is decompressed (a small gzip file can announce, and
    /// hold, 784 MB).
    pub fn from_idx_at_most(
        images_name: &str,
        images: &[u8],
        labels_name: &str,
        labels: &[u8],
        max: usize,
    ) -> Result<Self, IdxError> {
        let images_v = parse_images_at_most(images_name, images, max)?;
        let labels_v = parse_labels_at_most(labels_name, labels, max)?;
        let n_images = images_v.len() / IMAGE_PIXELS;
        if n_images != labels_v.len() {
            return Err(IdxError::CountMismatch {
                images: images_name.to_string(),
                n_images,
                labels: labels_name.to_string(),
                n_labels: labels_v.len(),
            });
        }
        Ok(Self {
            images: images_v,
            labels: labels_v,
        })
    }

    pub fn len(&self) -> usize {
        self.labels.len()
    }

    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// The pixels of image `i` (784 bytes).
    pub fn image(&self, i: usize) -> &[u8] {
        &self.images[i * IMAGE_PIXELS..(i + 1) * IMAGE_PIXELS]
    }

    /// Fails unless there are 784 pixels per label and every label is a digit.
    pub fn check(&self) -> Result<(), DatasetError> {
        if self.images.len() != self.labels.len() * IMAGE_PIXELS {
            return Err(DatasetError::Shape {
                pixels: self.images.len(),
                labels: self.labels.len(),
            });
        }
        match self.labels.iter().position(|&l| l as usize >= NUM_CLASSES) {
            Some(index) => Err(DatasetError::BadLabel {
                index,
                label: self.labels[index],
            }),
            None => Ok(()),
        }
    }

    /// The images `indices`, in that order (repeats allowed).
    pub fn select(&self, indices: &[usize]) -> Self {
        let mut out = Self {
            images: Vec::with_capacity(indices.len() * IMAGE_PIXELS),
            labels: Vec::with_capacity(indices.len()),
        };
        for &i in indices {
            out.images.extend_from_slice(self.image(i));
            out.labels.push(self.labels[i]);
        }
        out
    }

    /// Appends every image of `other`.
    pub fn append(&mut self, other: &Dataset) {
        self.images.extend_from_slice(&other.images);
        self.labels.extend_from_slice(&other.labels);
    }

    /// The first `n` images (all of them if `n >= len()`).
    pub fn take(&self, n: usize) -> Self {
        let n = n.min(self.len());
        Self {
            images: self.images[..n * IMAGE_PIXELS].to_vec(),
            labels: self.labels[..n].to_vec(),
        }
    }
}

/// Maps an intensity in 0..1 (0 = background, 1 = ink) to the network's input scale.
pub fn normalize(p: f32) -> f32 {
    (p - MNIST_MEAN) / MNIST_STD
}

/// The MNIST training and test sets.
#[derive(Clone, Debug, Default)]
pub struct Mnist {
    pub train: Dataset,
    pub test: Dataset,
}

impl Mnist {
    /// Parses the four files, given as `(name, bytes)` in the order train images, train labels,
    /// test images, test labels.
    pub fn from_bytes(files: [(&str, &[u8]); 4]) -> Result<Self, IdxError> {
        let [ti, tl, vi, vl] = files;
        Ok(Self {
            train: Dataset::from_idx(ti.0, ti.1, tl.0, tl.1)?,
            test: Dataset::from_idx(vi.0, vi.1, vl.0, vl.1)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn select_and_append() {
        let data = Dataset {
            images: (0..3).flat_map(|i| [i as u8; IMAGE_PIXELS]).collect(),
            labels: vec![5, 6, 7],
        };
        let mut picked = data.select(&[2, 0, 2]);
        assert_eq!(picked.labels, vec![7, 5, 7]);
        assert_eq!(picked.image(1), data.image(0));
        picked.append(&data.take(1));
        assert_eq!(picked.labels, vec![7, 5, 7, 5]);
        assert!(picked.check().is_ok());
    }
}
