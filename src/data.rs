//! MNIST data: IDX parsing from bytes and the in-memory [`Dataset`] (batching order and batch
//! tensors: [`crate::batches`]).
//!
//! Contract: everything here works on `&[u8]` (gzip-compressed or raw IDX) and never touches the
//! filesystem or the DOM, so the CLI (which reads files) and the browser worker (which fetches
//! them) share it. Every malformed input gives an [`IdxError`] naming the file and the problem.
//!
//! Pixels are stored as `u8` and normalised only when a batch is built, with the classic MNIST
//! statistics [`MNIST_MEAN`] and [`MNIST_STD`] (mean and standard deviation of the training set's
//! pixels scaled to 0..1), the same constants the PyTorch seed used.

use std::io::Read;

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

const IMAGES_MAGIC: u32 = 2051;
const LABELS_MAGIC: u32 = 2049;

/// What can be wrong with an IDX file. Each variant names the file it is about.
#[derive(Debug, thiserror::Error)]
pub enum IdxError {
    #[error("{file}: not a valid gzip stream ({reason})")]
    Gzip { file: String, reason: String },
    #[error("{file}: truncated: expected {expected} bytes, found {found}")]
    Truncated {
        file: String,
        expected: usize,
        found: usize,
    },
    #[error("{file}: wrong magic number {found} (expected {expected}); is this the right MNIST file?")]
    BadMagic { file: String, expected: u32, found: u32 },
    #[error("{file}: images are {rows}x{cols}, expected 28x28")]
    BadDimensions { file: String, rows: u32, cols: u32 },
    #[error("{file}: label {label} at index {index} is not a digit 0-9")]
    BadLabel { file: String, index: usize, label: u8 },
    #[error("{images} has {n_images} images but {labels} has {n_labels} labels")]
    CountMismatch {
        images: String,
        n_images: usize,
        labels: String,
        n_labels: usize,
    },
}

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

/// Decompresses `bytes` if they start with the gzip magic, else returns them unchanged.
fn maybe_gunzip<'a>(file: &str, bytes: &'a [u8]) -> Result<std::borrow::Cow<'a, [u8]>, IdxError> {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::with_capacity(bytes.len() * 4);
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .map_err(|e| IdxError::Gzip {
                file: file.to_string(),
                reason: e.to_string(),
            })?;
        Ok(out.into())
    } else {
        Ok(bytes.into())
    }
}

fn header(file: &str, raw: &[u8], words: usize, magic: u32) -> Result<Vec<u32>, IdxError> {
    let truncated = |need: usize| IdxError::Truncated {
        file: file.to_string(),
        expected: need,
        found: raw.len(),
    };
    let word = |i: usize| u32::from_be_bytes([raw[4 * i], raw[4 * i + 1], raw[4 * i + 2], raw[4 * i + 3]]);
    if raw.len() < 4 {
        return Err(truncated(4 * words));
    }
    if word(0) != magic {
        return Err(IdxError::BadMagic {
            file: file.to_string(),
            expected: magic,
            found: word(0),
        });
    }
    if raw.len() < 4 * words {
        return Err(truncated(4 * words));
    }
    Ok((0..words).map(word).collect())
}

/// Parses an IDX3 image file (gzip or raw). Returns the pixels of all images, row-major.
pub fn parse_images(file: &str, bytes: &[u8]) -> Result<Vec<u8>, IdxError> {
    let raw = maybe_gunzip(file, bytes)?;
    let h = header(file, &raw, 4, IMAGES_MAGIC)?;
    let (n, rows, cols) = (h[1] as usize, h[2], h[3]);
    if rows as usize != IMAGE_SIDE || cols as usize != IMAGE_SIDE {
        return Err(IdxError::BadDimensions {
            file: file.to_string(),
            rows,
            cols,
        });
    }
    let expected = 16 + n * IMAGE_PIXELS;
    if raw.len() != expected {
        return Err(IdxError::Truncated {
            file: file.to_string(),
            expected,
            found: raw.len(),
        });
    }
    Ok(raw[16..].to_vec())
}

/// Parses an IDX1 label file (gzip or raw) and checks every label is a digit.
pub fn parse_labels(file: &str, bytes: &[u8]) -> Result<Vec<u8>, IdxError> {
    let raw = maybe_gunzip(file, bytes)?;
    let h = header(file, &raw, 2, LABELS_MAGIC)?;
    let expected = 8 + h[1] as usize;
    if raw.len() != expected {
        return Err(IdxError::Truncated {
            file: file.to_string(),
            expected,
            found: raw.len(),
        });
    }
    let labels = raw[8..].to_vec();
    if let Some((index, &label)) = labels.iter().enumerate().find(|(_, &l)| l as usize >= NUM_CLASSES) {
        return Err(IdxError::BadLabel {
            file: file.to_string(),
            index,
            label,
        });
    }
    Ok(labels)
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

/// `data` as a pair of gzip-compressed IDX files (images, labels) with the header layout of
/// `www/data/`, which [`Dataset::from_idx`] reads back unchanged.
pub fn to_idx_gz(data: &Dataset) -> Result<(Vec<u8>, Vec<u8>), DatasetError> {
    data.check()?;
    let n = u32::try_from(data.len()).map_err(|_| DatasetError::TooMany(data.len()))?;
    let side = IMAGE_SIDE as u32;
    let images = [
        &IMAGES_MAGIC.to_be_bytes(),
        &n.to_be_bytes(),
        &side.to_be_bytes(),
        &side.to_be_bytes(),
        &data.images[..],
    ];
    let labels = [&LABELS_MAGIC.to_be_bytes(), &n.to_be_bytes(), &data.labels[..]];
    Ok((gzip(&images)?, gzip(&labels)?))
}

fn gzip(parts: &[&[u8]]) -> Result<Vec<u8>, DatasetError> {
    use std::io::Write;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for part in parts {
        encoder
            .write_all(part)
            .map_err(|e| DatasetError::Compress(e.to_string()))?;
    }
    encoder.finish().map_err(|e| DatasetError::Compress(e.to_string()))
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

    fn idx_images(n: u32, rows: u32, cols: u32) -> Vec<u8> {
        let mut v = Vec::new();
        for w in [IMAGES_MAGIC, n, rows, cols] {
            v.extend(w.to_be_bytes());
        }
        v.extend(std::iter::repeat_n(7u8, (n * rows * cols) as usize));
        v
    }

    fn idx_labels(labels: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        for w in [LABELS_MAGIC, labels.len() as u32] {
            v.extend(w.to_be_bytes());
        }
        v.extend(labels);
        v
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(bytes).unwrap();
        e.finish().unwrap()
    }

    #[test]
    fn parses_raw_and_gzip() {
        let imgs = idx_images(3, 28, 28);
        let labs = idx_labels(&[1, 2, 3]);
        let a = Dataset::from_idx("i", &imgs, "l", &labs).unwrap();
        let b = Dataset::from_idx("i", &gzip(&imgs), "l", &gzip(&labs)).unwrap();
        assert_eq!(a.len(), 3);
        assert_eq!(a.images, b.images);
        assert_eq!(b.labels, vec![1, 2, 3]);
    }

    #[test]
    fn reports_bad_input() {
        let imgs = idx_images(3, 28, 28);
        let err = parse_images("x.gz", &imgs[..100]).unwrap_err();
        assert!(matches!(err, IdxError::Truncated { .. }), "{err}");
        assert!(err.to_string().starts_with("x.gz: truncated"));
        let err = parse_images("lab", &idx_labels(&[1])).unwrap_err();
        assert!(matches!(err, IdxError::BadMagic { found: 2049, .. }), "{err}");
        let err = parse_images("small", &idx_images(1, 20, 20)).unwrap_err();
        assert!(matches!(err, IdxError::BadDimensions { rows: 20, .. }), "{err}");
        let err = parse_labels("l", &idx_labels(&[1, 12])).unwrap_err();
        assert!(
            matches!(
                err,
                IdxError::BadLabel {
                    index: 1,
                    label: 12,
                    ..
                }
            ),
            "{err}"
        );
        let err = Dataset::from_idx("i", &imgs, "l", &idx_labels(&[1, 2])).unwrap_err();
        assert!(
            matches!(
                err,
                IdxError::CountMismatch {
                    n_images: 3,
                    n_labels: 2,
                    ..
                }
            ),
            "{err}"
        );
        let mut bad_gz = gzip(&imgs);
        bad_gz.truncate(bad_gz.len() / 2);
        let err = parse_images("g", &bad_gz).unwrap_err();
        assert!(matches!(err, IdxError::Gzip { .. }), "{err}");
    }

    #[test]
    fn written_pairs_read_back_unchanged() {
        let data = Dataset {
            images: (0..3 * IMAGE_PIXELS).map(|i| (i * 31 % 256) as u8).collect(),
            labels: vec![9, 0, 4],
        };
        let (images, labels) = to_idx_gz(&data).unwrap();
        assert!(images.starts_with(&[0x1f, 0x8b]) && labels.starts_with(&[0x1f, 0x8b]));
        let back = Dataset::from_idx(MY_DIGITS_IMAGES, &images, MY_DIGITS_LABELS, &labels).unwrap();
        assert_eq!((back.images, back.labels), (data.images, data.labels));
        // The header is the one the MNIST files have: magic, count, rows, columns.
        let raw = maybe_gunzip("i", &images).unwrap();
        assert_eq!(raw[..16], idx_images(3, 28, 28)[..16]);

        let empty = to_idx_gz(&Dataset::default()).unwrap();
        assert!(Dataset::from_idx("i", &empty.0, "l", &empty.1).unwrap().is_empty());
        let bad_label = Dataset {
            images: vec![0; IMAGE_PIXELS],
            labels: vec![10],
        };
        assert!(matches!(
            to_idx_gz(&bad_label),
            Err(DatasetError::BadLabel { index: 0, label: 10 })
        ));
        let short = Dataset {
            images: vec![0; 100],
            labels: vec![1],
        };
        assert!(matches!(
            to_idx_gz(&short),
            Err(DatasetError::Shape { pixels: 100, labels: 1 })
        ));
    }

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
