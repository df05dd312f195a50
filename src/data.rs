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

pub use self::idx::{parse_images, parse_labels, IdxError, MAX_IDX_BYTES, MAX_IDX_IMAGES};

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
        let images_v = parse_images(images_name, images)?;
        let labels_v = parse_labels(labels_name, labels)?;
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
