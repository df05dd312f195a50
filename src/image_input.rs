//! Image files → RGBA pixels for [`crate::preprocess::from_rgba`], with bounded resources
//! (native only: the `image` crate is a native dependency; the browser has its canvas).
//!
//! Contract: the format is read from the content, never from a file name (a PNG named `x.jpg`
//! decodes); only PNG and JPEG are decoded. Nothing is decoded before the image's size is known:
//! at most [`MAX_IMAGE_BYTES`] of file; the `image` crate's [`image::Limits`] refuse, from the
//! header, a side over 16,384 pixels or a decoded buffer over 128 MiB, and the header's pixel count
//! is then checked against [`MAX_IMAGE_PIXELS`] (a grey image needs a quarter of the buffer). So a
//! small file that declares an enormous picture is an error, not gigabytes of memory. Every
//! failure is an [`ImageError`] with a one-line message.
//!
//! Why [`MAX_IMAGE_PIXELS`] = 16.8 M (4096 x 4096): it admits a 12-megapixel phone photo of a
//! digit, and preprocessing one of that size holds about 16 bytes per pixel (the RGBA pixels, then
//! three f32 planes), 270 MB, where the 23,000 x 23,000 grey PNG (568 kB) needed 2.1 GB for
//! its RGBA pixels alone, and several GB more to preprocess.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};

/// The largest image file read (a 4096 x 4096 photo as a JPEG is a few MB; an uncompressed PNG of
/// that size 64 MB).
pub const MAX_IMAGE_BYTES: usize = 64 << 20;
/// The most pixels an image may have.
pub const MAX_IMAGE_PIXELS: u64 = 4096 * 4096;
/// Longest side accepted (a 16,384 x 1,024 strip is as many pixels as 4096 x 4096).
const MAX_SIDE: u32 = 16_384;
/// The decoder's own allocation limit: the RGBA16 buffer of [`MAX_IMAGE_PIXELS`] pixels.
const MAX_DECODE_ALLOC: u64 = MAX_IMAGE_PIXELS * 8;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("the image file is {bytes} bytes, more than the {max} accepted")]
    TooLarge { bytes: usize, max: usize },
    #[error("not a PNG or JPEG image (the format is read from the content, not the name)")]
    UnknownFormat,
    #[error("{format:?} images are not supported, only PNG and JPEG")]
    Unsupported { format: ImageFormat },
    #[error("the image is {width}x{height} pixels, more than the {max} accepted; scale it down")]
    TooManyPixels { width: u32, height: u32, max: u64 },
    #[error(
        "the image is larger than accepted (at most {MAX_IMAGE_PIXELS} pixels, {MAX_SIDE} on a side); scale it down"
    )]
    OverLimits,
    #[error("cannot decode the image: {0}")]
    Decode(String),
}

impl From<image::ImageError> for ImageError {
    fn from(e: image::ImageError) -> Self {
        match e {
            // The decoder refused the header's size against our `Limits`.
            image::ImageError::Limits(_) => ImageError::OverLimits,
            // Some decoders' messages span lines; the CLI's errors are one line each.
            e => ImageError::Decode(e.to_string().lines().collect::<Vec<_>>().join(" ")),
        }
    }
}

/// Decodes a PNG or JPEG file's bytes into RGBA8, returning `(pixels, width, height)`.
pub fn decode_rgba(bytes: &[u8]) -> Result<(Vec<u8>, usize, usize), ImageError> {
    if bytes.len() > MAX_IMAGE_BYTES {
        return Err(ImageError::TooLarge {
            bytes: bytes.len(),
            max: MAX_IMAGE_BYTES,
        });
    }
    let format = image::guess_format(bytes).map_err(|_| ImageError::UnknownFormat)?;
    if !matches!(format, ImageFormat::Png | ImageFormat::Jpeg) {
        return Err(ImageError::Unsupported { format });
    }
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_SIDE);
    limits.max_image_height = Some(MAX_SIDE);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);
    let decoder = reader.into_decoder()?;
    let (width, height) = decoder.dimensions();
    if width as u64 * height as u64 > MAX_IMAGE_PIXELS {
        return Err(ImageError::TooManyPixels {
            width,
            height,
            max: MAX_IMAGE_PIXELS,
        });
    }
    let rgba = DynamicImage::from_decoder(decoder)?.into_rgba8();
    let (w, h) = (rgba.width() as usize, rgba.height() as usize);
    Ok((rgba.into_raw(), w, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn png(img: &image::RgbaImage) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, ImageFormat::Png).unwrap();
        out.into_inner()
    }

    #[test]
    fn png_and_jpeg_decode_whatever_their_name() {
        let img = image::RgbaImage::from_fn(30, 20, |x, y| image::Rgba([x as u8, y as u8, 0, 255]));
        let (rgba, w, h) = decode_rgba(&png(&img)).unwrap();
        assert_eq!((w, h), (30, 20));
        assert_eq!(rgba, img.as_raw().as_slice());
        let mut jpeg = Cursor::new(Vec::new());
        image::DynamicImage::ImageRgba8(img)
            .to_rgb8()
            .write_to(&mut jpeg, ImageFormat::Jpeg)
            .unwrap();
        let (rgba, w, h) = decode_rgba(jpeg.get_ref()).unwrap();
        assert_eq!((w, h, rgba.len()), (30, 20, 30 * 20 * 4));
    }

    /// A PNG file from its chunks, each with its CRC.
    /// `color`: 0 grey, 6 RGBA (8 bits per channel).
    fn png_file(width: u32, height: u32, color: u8, idat: &[u8]) -> Vec<u8> {
        let mut file = b"\x89PNG\r\n\x1a\n".to_vec();
        let mut ihdr = [width.to_be_bytes(), height.to_be_bytes()].concat();
        ihdr.extend([8, color, 0, 0, 0]);
        for (kind, data) in [(&b"IHDR"[..], &ihdr[..]), (b"IDAT", idat), (b"IEND", &[])] {
            file.extend((data.len() as u32).to_be_bytes());
            let mut crc = flate2::Crc::new();
            crc.update(kind);
            crc.update(data);
            file.extend(kind);
            file.extend(data);
            file.extend(crc.sum().to_be_bytes());
        }
        file
    }

    /// The image: a grey PNG of 23,000 x 23,000 white pixels (568 kB in full; here only
    /// its first rows, since nothing past the header is read), which the old code decoded (529 MB,
    /// within the crate's default limit) before preprocessing took gigabytes. It is refused from
    /// its header, before a byte is inflated.
    #[test]
    fn enormous_pictures_are_refused_before_decoding() {
        use std::io::Write;
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
        let mut row = vec![255u8; 23_000 + 1];
        row[0] = 0; // filter byte: none
        for _ in 0..10 {
            z.write_all(&row).unwrap();
        }
        let file = png_file(23_000, 23_000, 0, &z.finish().unwrap());
        let err = decode_rgba(&file).unwrap_err();
        assert!(matches!(err, ImageError::OverLimits), "{err}");
        assert!(err.to_string().ends_with("scale it down"), "{err}");
        // A grey image needs a quarter of the memory, so the decoder's allocation limit would let
        // 11,000 x 11,000 through: the pixel count is checked on its own.
        let err = decode_rgba(&png_file(11_000, 11_000, 0, &[])).unwrap_err();
        assert!(matches!(err, ImageError::TooManyPixels { width: 11_000, .. }), "{err}");
        // Within the limits the same header is decoded (and found to have no pixel data).
        let err = decode_rgba(&png_file(4096, 4096, 6, &[])).unwrap_err();
        assert!(matches!(err, ImageError::Decode(_)), "{err}");
    }

    #[test]
    fn other_bytes_are_one_line_errors() {
        assert!(matches!(decode_rgba(b"hello"), Err(ImageError::UnknownFormat)));
        let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;";
        assert!(matches!(decode_rgba(gif), Err(ImageError::Unsupported { .. })));
        let img = image::RgbaImage::new(8, 8);
        let mut truncated = png(&img);
        truncated.truncate(truncated.len() - 20);
        let err = decode_rgba(&truncated).unwrap_err();
        assert!(matches!(err, ImageError::Decode(_)), "{err}");
        assert_eq!(err.to_string().lines().count(), 1);
        let err = decode_rgba(&vec![0; MAX_IMAGE_BYTES + 1]).unwrap_err();
        assert!(matches!(err, ImageError::TooLarge { .. }), "{err}");
    }
}
