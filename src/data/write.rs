//! Writing a [`Dataset`] as a pair of gzip-compressed IDX files, the format `www/data/` ships and
//! the parser in `idx.rs` reads: how the browser's "My digits" are downloaded and reach the CLI.

use std::io::Write;

use super::idx::{IMAGES_MAGIC, LABELS_MAGIC, MAX_IDX_IMAGES};
use super::{Dataset, DatasetError, IMAGE_SIDE};

/// `data` as a pair of gzip-compressed IDX files (images, labels) with the header layout of
/// `www/data/`, which [`Dataset::from_idx`] reads back unchanged.
pub fn to_idx_gz(data: &Dataset) -> Result<(Vec<u8>, Vec<u8>), DatasetError> {
    data.check()?;
    // More than the parser accepts would not read back.
    if data.len() > MAX_IDX_IMAGES {
        return Err(DatasetError::TooMany(data.len()));
    }
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
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    for part in parts {
        encoder
            .write_all(part)
            .map_err(|e| DatasetError::Compress(e.to_string()))?;
    }
    encoder.finish().map_err(|e| DatasetError::Compress(e.to_string()))
}

#[cfg(test)]
mod tests {
    use std::io::Read;

    use super::*;
    use crate::data::{IMAGE_PIXELS, MY_DIGITS_IMAGES, MY_DIGITS_LABELS};

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
        let mut raw = Vec::new();
        flate2::read::GzDecoder::new(&images[..]).read_to_end(&mut raw).unwrap();
        let header: Vec<u8> = [IMAGES_MAGIC, 3, 28, 28].iter().flat_map(|w| w.to_be_bytes()).collect();
        assert_eq!(raw[..16], header[..]);

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
}
