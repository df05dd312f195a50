//! IDX parsing (MNIST's file format), from bytes that are gzip-compressed or raw.
//!
//! Contract: every malformed input gives an [`IdxError`] naming the file and the problem, never a
//! panic; and no input makes the parser hold more than the header implies. The header is read
//! first, its image count is capped at [`MAX_IDX_IMAGES`], and decompression stops as soon as the
//! data runs past the size the header announces — so a gzip bomb (gigabytes of zeros in a few
//! megabytes) costs at most the header's size, never the bomb's.

use std::io::Read;

use super::{IMAGE_PIXELS, IMAGE_SIDE, NUM_CLASSES};

/// The most images (or labels) an IDX file may hold: MNIST has 60,000 training images and
/// EMNIST's largest split 814,255, so a million covers MNIST-like sets while bounding what a
/// crafted header can make us allocate (784 MB of pixels).
pub const MAX_IDX_IMAGES: usize = 1_000_000;
/// The largest raw IDX file there can be ([`MAX_IDX_IMAGES`] images and the 16-byte header); a
/// caller reading files can refuse larger ones before reading them.
pub const MAX_IDX_BYTES: usize = 16 + MAX_IDX_IMAGES * IMAGE_PIXELS;

pub(super) const IMAGES_MAGIC: u32 = 2051;
pub(super) const LABELS_MAGIC: u32 = 2049;

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
    #[error("{file}: the header announces {count} items, more than the {max} this program reads")]
    TooManyItems { file: String, count: u32, max: usize },
    #[error("{file}: more data than the header announces ({expected} bytes); is the header damaged?")]
    TrailingData { file: String, expected: usize },
}

/// Parses an IDX3 image file (gzip or raw). Returns the pixels of all images, row-major.
pub fn parse_images(file: &str, bytes: &[u8]) -> Result<Vec<u8>, IdxError> {
    parse_images_at_most(file, bytes, MAX_IDX_IMAGES)
}

/// [`parse_images`] for a caller that keeps at most `max` images (e.g. My digits): a header that
/// announces more is refused before anything is decompressed.
pub fn parse_images_at_most(file: &str, bytes: &[u8], max: usize) -> Result<Vec<u8>, IdxError> {
    read_idx(file, bytes, IMAGES_MAGIC, 4, max.min(MAX_IDX_IMAGES), |h| {
        let (rows, cols) = (h[2], h[3]);
        if rows as usize != IMAGE_SIDE || cols as usize != IMAGE_SIDE {
            return Err(IdxError::BadDimensions {
                file: file.to_string(),
                rows,
                cols,
            });
        }
        Ok(IMAGE_PIXELS)
    })
}

/// Parses an IDX1 label file (gzip or raw) and checks every label is a digit.
pub fn parse_labels(file: &str, bytes: &[u8]) -> Result<Vec<u8>, IdxError> {
    parse_labels_at_most(file, bytes, MAX_IDX_IMAGES)
}

/// [`parse_labels`] with at most `max` labels (see [`parse_images_at_most`]).
pub fn parse_labels_at_most(file: &str, bytes: &[u8], max: usize) -> Result<Vec<u8>, IdxError> {
    let labels = read_idx(file, bytes, LABELS_MAGIC, 2, max.min(MAX_IDX_IMAGES), |_| Ok(1))?;
    if let Some((index, &label)) = labels.iter().enumerate().find(|(_, &l)| l as usize >= NUM_CLASSES) {
        return Err(IdxError::BadLabel {
            file: file.to_string(),
            index,
            label,
        });
    }
    Ok(labels)
}

/// Reads an IDX file of `words` header words (the magic, the item count, then the item's
/// dimensions, which `item_bytes` checks and turns into the bytes per item) and returns the data
/// after the header, exactly as long as the header says.
fn read_idx(
    file: &str,
    bytes: &[u8],
    magic: u32,
    words: usize,
    max_items: usize,
    item_bytes: impl FnOnce(&[u32]) -> Result<usize, IdxError>,
) -> Result<Vec<u8>, IdxError> {
    // Raw bytes are read through the same `Read` as a gzip stream, so both take one path.
    let mut reader: Box<dyn Read + '_> = if bytes.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(bytes))
    } else {
        Box::new(bytes)
    };
    let header_len = 4 * words;
    let mut header = Vec::with_capacity(header_len);
    read_at_most(file, &mut reader, &mut header, header_len)?;
    let truncated = |expected: usize, found: usize| IdxError::Truncated {
        file: file.to_string(),
        expected,
        found,
    };
    let word = |i: usize| u32::from_be_bytes([header[4 * i], header[4 * i + 1], header[4 * i + 2], header[4 * i + 3]]);
    if header.len() < 4 {
        return Err(truncated(header_len, header.len()));
    }
    if word(0) != magic {
        return Err(IdxError::BadMagic {
            file: file.to_string(),
            expected: magic,
            found: word(0),
        });
    }
    if header.len() < header_len {
        return Err(truncated(header_len, header.len()));
    }
    let h: Vec<u32> = (0..words).map(word).collect();
    let count = h[1];
    if count as usize > max_items {
        return Err(IdxError::TooManyItems {
            file: file.to_string(),
            count,
            max: max_items,
        });
    }
    // At most 1e6 * 784 bytes: fits a 32-bit usize too.
    let expected = count as usize * item_bytes(&h)?;
    // Memory follows the data that actually arrives (a short file reserves little), and never
    // exceeds what the header announced.
    let mut body = Vec::with_capacity(expected.min(bytes.len().saturating_mul(8)));
    read_at_most(file, &mut reader, &mut body, expected)?;
    if body.len() < expected {
        return Err(truncated(header_len + expected, header_len + body.len()));
    }
    let mut probe = [0u8; 1];
    // Reading on to the end also makes the gzip decoder check the stream's CRC.
    if read_some(file, &mut reader, &mut probe)? > 0 {
        return Err(IdxError::TrailingData {
            file: file.to_string(),
            expected: header_len + expected,
        });
    }
    Ok(body)
}

/// Appends to `out` until it holds `limit` bytes or the input ends; capacity grows by doubling
/// but never past `limit`.
fn read_at_most(file: &str, reader: &mut dyn Read, out: &mut Vec<u8>, limit: usize) -> Result<(), IdxError> {
    let mut chunk = [0u8; 64 * 1024];
    while out.len() < limit {
        let want = (limit - out.len()).min(chunk.len());
        let n = read_some(file, reader, &mut chunk[..want])?;
        if n == 0 {
            break;
        }
        if out.capacity() - out.len() < n {
            out.reserve_exact(out.capacity().max(n).min(limit - out.len()));
        }
        out.extend_from_slice(&chunk[..n]);
    }
    Ok(())
}

fn read_some(file: &str, reader: &mut dyn Read, buf: &mut [u8]) -> Result<usize, IdxError> {
    loop {
        match reader.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            result => {
                return result.map_err(|e| IdxError::Gzip {
                    file: file.to_string(),
                    reason: e.to_string(),
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::Dataset;

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
    fn a_caller_that_keeps_few_images_refuses_more_from_the_header() {
        let imgs = gzip(&idx_images(3, 28, 28));
        let labs = gzip(&idx_labels(&[1, 2, 3]));
        assert_eq!(Dataset::from_idx_at_most("i", &imgs, "l", &labs, 3).unwrap().len(), 3);
        let err = Dataset::from_idx_at_most("i", &imgs, "l", &labs, 2).unwrap_err();
        assert!(matches!(err, IdxError::TooManyItems { count: 3, max: 2, .. }), "{err}");
        // The labels alone are held to the same count.
        let err = parse_labels_at_most("l", &labs, 2).unwrap_err();
        assert!(matches!(err, IdxError::TooManyItems { count: 3, max: 2, .. }), "{err}");
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
        // An empty set is a valid file; whoever needs images says so.
        assert!(Dataset::from_idx("i", &idx_images(0, 28, 28), "l", &idx_labels(&[]))
            .unwrap()
            .is_empty());
    }

    #[test]
    fn reports_bad_input() {
        let imgs = idx_images(3, 28, 28);
        let err = parse_images("x.gz", &imgs[..100]).unwrap_err();
        assert!(matches!(err, IdxError::Truncated { .. }), "{err}");
        assert!(err.to_string().starts_with("x.gz: truncated"));
        let err = parse_images("short", &imgs[..10]).unwrap_err();
        assert!(
            matches!(
                err,
                IdxError::Truncated {
                    expected: 16,
                    found: 10,
                    ..
                }
            ),
            "{err}"
        );
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
        // A damaged CRC is found although every byte the header asks for is there.
        let mut bad_crc = gzip(&imgs);
        let crc_at = bad_crc.len() - 8;
        bad_crc[crc_at] ^= 1;
        let err = parse_images("c", &bad_crc).unwrap_err();
        assert!(matches!(err, IdxError::Gzip { .. }), "{err}");
    }

    #[test]
    fn data_past_the_header_is_an_error() {
        let mut imgs = idx_images(2, 28, 28);
        imgs.push(0);
        let err = parse_images("long", &imgs).unwrap_err();
        assert!(matches!(err, IdxError::TrailingData { expected: 1584, .. }), "{err}");
        let err = parse_labels("long.gz", &gzip(&[idx_labels(&[1, 2]), vec![3]].concat())).unwrap_err();
        assert!(matches!(err, IdxError::TrailingData { expected: 10, .. }), "{err}");
    }

    /// A gzip bomb: a header announcing 10 images, then 64 MB of zeros (65 kB compressed; the
    /// issue's was 10 GB). The parser stops one byte past the 10 images instead of inflating it
    /// all (and then calling it truncated, as it used to).
    #[test]
    fn a_gzip_bomb_stops_where_the_header_says() {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        e.write_all(&idx_images(10, 28, 28)).unwrap();
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..64 {
            e.write_all(&zeros).unwrap();
        }
        let bomb = e.finish().unwrap();
        assert!(bomb.len() < 100_000, "{} bytes", bomb.len());
        let err = parse_images(super::super::TRAIN_IMAGES, &bomb).unwrap_err();
        assert!(matches!(err, IdxError::TrailingData { expected: 7856, .. }), "{err}");
    }

    #[test]
    fn counts_past_the_cap_are_refused_before_reading_on() {
        let mut huge = Vec::new();
        for w in [IMAGES_MAGIC, 4_000_000_000, 28, 28] {
            huge.extend(w.to_be_bytes());
        }
        let err = parse_images("huge", &gzip(&huge)).unwrap_err();
        assert!(
            matches!(
                err,
                IdxError::TooManyItems {
                    count: 4_000_000_000,
                    max: 1_000_000,
                    ..
                }
            ),
            "{err}"
        );
        let mut labels = Vec::new();
        for w in [LABELS_MAGIC, 1_000_001] {
            labels.extend(w.to_be_bytes());
        }
        let err = parse_labels("l", &labels).unwrap_err();
        assert!(err.to_string().contains("more than the 1000000"), "{err}");
    }
}
