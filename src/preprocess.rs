//! Preprocessing: an arbitrary picture of one digit → a 28x28 MNIST-style image.
//!
//! MNIST's own recipe (LeCun et al.): crop to the ink's bounding box, scale the longer side to
//! 20 px keeping the aspect ratio (anti-aliased), then place it in a 28x28 field so the ink's
//! centre of mass sits at the centre. Doing the same to a drawing is what makes predictions on
//! people's digits as good as on the test set, wherever and however large they drew.
//!
//! Contract: input of any size, ink dark-on-light or light-on-dark (translucent pixels are
//! composited over white, so a transparent canvas with dark ink is dark-on-light); output
//! intensities in 0..1 (1 = ink), multiples of 1/255 (so that 28x28 bytes hold exactly what the
//! model saw), not yet normalised
//! (see [`crate::data::normalize`]). An image without ink is [`PreprocessError::Empty`], never a
//! prediction. Pure: no DOM, no filesystem.

use candle_core::{Device, Tensor};

use crate::data::{normalize, IMAGE_PIXELS, IMAGE_SIDE};
use crate::resize::resize;
use crate::stroke_width;

/// Longer side of the digit's box inside the 28x28 field, as in MNIST.
const BOX: usize = 20;
/// Ink below this fraction of the strongest ink is background when finding the bounding box.
const INK_THRESHOLD: f32 = 0.1;
/// A picture whose strongest ink is fainter than this has nothing drawn on it.
const MIN_INK: f32 = 0.05;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PreprocessError {
    #[error("nothing drawn: the image has no ink")]
    Empty,
    #[error("image data has {found} values but {width}x{height} needs {expected}")]
    BadSize {
        width: usize,
        height: usize,
        expected: usize,
        found: usize,
    },
}

/// A 28x28 image of intensities in 0..1 (1 = ink), row-major.
pub type Digit = [f32; IMAGE_PIXELS];

fn check_len(width: usize, height: usize, per_pixel: usize, found: usize) -> Result<(), PreprocessError> {
    // Checked: the dimensions come from the caller (an image header, a canvas), not from `found`.
    let expected = width
        .checked_mul(height)
        .and_then(|n| n.checked_mul(per_pixel))
        .unwrap_or(usize::MAX);
    if expected == 0 || found != expected {
        return Err(PreprocessError::BadSize {
            width,
            height,
            expected,
            found,
        });
    }
    Ok(())
}

/// From RGBA bytes (e.g. canvas `ImageData`, or a decoded image file). Pixels are composited
/// over white, as a browser shows them: a drawing on a transparent canvas reads as its ink on
/// white paper (exactly as when the alpha channel itself was the ink), and a translucent pixel in
/// an opaque picture is a lighter pixel, not a stroke. Why not "alpha is the ink" whenever a
/// pixel is translucent: one such pixel in a photo then made the whole opaque picture ink.
pub fn from_rgba(rgba: &[u8], width: usize, height: usize) -> Result<Digit, PreprocessError> {
    check_len(width, height, 4, rgba.len())?;
    let luma: Vec<f32> = rgba
        .chunks_exact(4)
        .map(|p| {
            let alpha = p[3] as f32 / 255.0;
            let luma = 0.299 * p[0] as f32 + 0.587 * p[1] as f32 + 0.114 * p[2] as f32;
            // Luma is linear in the channels, so compositing it equals compositing each channel.
            luma * alpha + 255.0 * (1.0 - alpha)
        })
        .collect();
    from_luma(&luma, width, height)
}

/// From grey levels (0 = black). The background is whichever the image's border mostly is, so
/// both dark-on-light (paper) and light-on-dark (MNIST) pictures work.
pub fn from_gray(luma: &[u8], width: usize, height: usize) -> Result<Digit, PreprocessError> {
    check_len(width, height, 1, luma.len())?;
    let luma: Vec<f32> = luma.iter().map(|&v| v as f32).collect();
    from_luma(&luma, width, height)
}

/// [`from_gray`] for grey levels in 0.0..=255.0, whose length `check_len` has checked.
fn from_luma(luma: &[f32], width: usize, height: usize) -> Result<Digit, PreprocessError> {
    let border: Vec<f32> = (0..width)
        .flat_map(|x| [luma[x], luma[(height - 1) * width + x]])
        .chain((0..height).flat_map(|y| [luma[y * width], luma[y * width + width - 1]]))
        .collect();
    let border_mean = border.iter().sum::<f32>() / border.len() as f32;
    let light_background = border_mean > 127.5;
    let ink: Vec<f32> = luma
        .iter()
        .map(|&v| if light_background { 1.0 - v / 255.0 } else { v / 255.0 })
        .collect();
    from_ink(&ink, width, height)
}

/// From ink intensities (0 = background, 1 = full ink). Strokes much bolder than MNIST's,
/// relative to the digit, are thinned first (see [`crate::stroke_width`]).
pub fn from_ink(ink: &[f32], width: usize, height: usize) -> Result<Digit, PreprocessError> {
    from_ink_thinned(ink, width, height, true)
}

/// [`from_ink`] without thinning: for ink drawn with a chosen pen ([`crate::strokes`]).
pub(crate) fn from_ink_as_drawn(ink: &[f32], width: usize, height: usize) -> Result<Digit, PreprocessError> {
    from_ink_thinned(ink, width, height, false)
}

/// [`from_ink`]; `thin_bold` lets bold strokes be thinned (once: the thinned copy comes back
/// here without it).
fn from_ink_thinned(ink: &[f32], width: usize, height: usize, thin_bold: bool) -> Result<Digit, PreprocessError> {
    check_len(width, height, 1, ink.len())?;
    let max = ink.iter().copied().fold(0f32, f32::max);
    if max < MIN_INK {
        return Err(PreprocessError::Empty);
    }
    // Faint ink (a grey pencil) is stretched to full strength, as MNIST's scans were.
    let ink: Vec<f32> = ink.iter().map(|&v| (v / max).clamp(0.0, 1.0)).collect();
    let (x0, y0, x1, y1) = bounding_box(&ink, width, height).ok_or(PreprocessError::Empty)?;
    let (bw, bh) = (x1 - x0, y1 - y0);
    let crop: Vec<f32> = (y0..y1)
        .flat_map(|y| ink[y * width + x0..y * width + x1].iter().copied())
        .collect();
    if let Some((thin, w, h)) = thin_bold.then(|| stroke_width::thin_bold(&crop, bw, bh)).flatten() {
        return from_ink_thinned(&thin, w, h, false);
    }
    let scale = BOX as f32 / bw.max(bh) as f32;
    let (tw, th) = (
        ((bw as f32 * scale).round() as usize).clamp(1, BOX),
        ((bh as f32 * scale).round() as usize).clamp(1, BOX),
    );
    let mut small = resize(&crop, bw, bh, tw, th);
    // A fine pen on a large picture (strokes much thinner than one pixel of the box) comes out
    // of the downscale as faint grey; MNIST's strokes are full ink, so it is stretched again.
    let peak = small.iter().copied().fold(0f32, f32::max);
    if peak > 0.0 {
        small.iter_mut().for_each(|v| *v /= peak);
    }
    Ok(place_by_centre_of_mass(&small, tw, th))
}

/// The smallest box `[x0, x1) x [y0, y1)` holding every pixel above the ink threshold.
fn bounding_box(ink: &[f32], width: usize, height: usize) -> Option<(usize, usize, usize, usize)> {
    let (mut x0, mut y0, mut x1, mut y1) = (usize::MAX, usize::MAX, 0, 0);
    for y in 0..height {
        for x in 0..width {
            if ink[y * width + x] > INK_THRESHOLD {
                x0 = x0.min(x);
                y0 = y0.min(y);
                x1 = x1.max(x + 1);
                y1 = y1.max(y + 1);
            }
        }
    }
    (x0 < x1).then_some((x0, y0, x1, y1))
}

/// Puts the `w x h` box into a 28x28 field so its centre of mass lands on the field's centre,
/// as far as that keeps the box inside the field.
fn place_by_centre_of_mass(small: &[f32], w: usize, h: usize) -> Digit {
    let mass: f32 = small.iter().sum();
    let (mut cx, mut cy) = (0f32, 0f32);
    for y in 0..h {
        for x in 0..w {
            let v = small[y * w + x];
            cx += v * (x as f32 + 0.5);
            cy += v * (y as f32 + 0.5);
        }
    }
    let centre = IMAGE_SIDE as f32 / 2.0;
    let offset = |com: f32, size: usize| -> usize {
        let max = (IMAGE_SIDE - size) as f32;
        (centre - com / mass).round().clamp(0.0, max) as usize
    };
    let (ox, oy) = (offset(cx, w), offset(cy, h));
    let mut out = [0f32; IMAGE_PIXELS];
    for y in 0..h {
        for x in 0..w {
            out[(y + oy) * IMAGE_SIDE + x + ox] = quantize(small[y * w + x]);
        }
    }
    out
}

/// `v` clamped to 0..1 and rounded to a multiple of 1/255: the input is then exactly what a
/// byte per pixel stores (a drawing kept as 28x28 bytes is exactly what the model saw), as
/// MNIST's own images are.
fn quantize(v: f32) -> f32 {
    (v.clamp(0.0, 1.0) * 255.0).round() / 255.0
}

/// The normalised model input `(N, 1, 28, 28)` for preprocessed digits.
pub fn to_input(digits: &[Digit], device: &Device) -> candle_core::Result<Tensor> {
    let data: Vec<f32> = digits.iter().flat_map(|d| d.iter().map(|&p| normalize(p))).collect();
    Tensor::from_vec(data, (digits.len(), 1, IMAGE_SIDE, IMAGE_SIDE), device)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A "7" drawn with thick strokes on a `size` canvas, offset by (ox, oy), scaled by `s`.
    fn seven(size: usize, ox: f32, oy: f32, s: f32) -> Vec<f32> {
        let mut ink = vec![0f32; size * size];
        let segs = [((10.0, 10.0), (50.0, 10.0)), ((50.0, 10.0), (25.0, 70.0))];
        let radius = 4.0 * s;
        for y in 0..size {
            for x in 0..size {
                let p = (x as f32 + 0.5, y as f32 + 0.5);
                for &((ax, ay), (bx, by)) in &segs {
                    let (ax, ay, bx, by) = (ox + ax * s, oy + ay * s, ox + bx * s, oy + by * s);
                    let (dx, dy) = (bx - ax, by - ay);
                    let t = (((p.0 - ax) * dx + (p.1 - ay) * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
                    let d = ((p.0 - ax - t * dx).powi(2) + (p.1 - ay - t * dy).powi(2)).sqrt();
                    if d < radius {
                        ink[y * size + x] = 1.0;
                    }
                }
            }
        }
        ink
    }

    fn mean_abs_diff(a: &Digit, b: &Digit) -> f32 {
        a.iter().zip(b.iter()).map(|(x, y)| (x - y).abs()).sum::<f32>() / IMAGE_PIXELS as f32
    }

    #[test]
    fn shifted_and_scaled_copies_give_nearly_the_same_input() {
        let a = from_ink(&seven(280, 20.0, 30.0, 2.0), 280, 280).unwrap();
        let b = from_ink(&seven(280, 120.0, 100.0, 2.0), 280, 280).unwrap();
        let c = from_ink(&seven(280, 60.0, 20.0, 3.0), 280, 280).unwrap();
        assert!(mean_abs_diff(&a, &b) < 0.01, "shift: {}", mean_abs_diff(&a, &b));
        assert!(mean_abs_diff(&a, &c) < 0.05, "scale: {}", mean_abs_diff(&a, &c));
        // The longer side is 20 px and the centre of mass is near the middle.
        let rows_with_ink = (0..28).filter(|y| (0..28).any(|x| a[y * 28 + x] > 0.1)).count();
        assert!((19..=21).contains(&rows_with_ink), "{rows_with_ink}");
        let mass: f32 = a.iter().sum();
        let cy: f32 = a
            .iter()
            .enumerate()
            .map(|(i, v)| v * ((i / 28) as f32 + 0.5))
            .sum::<f32>()
            / mass;
        assert!((cy - 14.0).abs() < 1.0, "{cy}");
    }

    #[test]
    fn polarity_and_alpha_are_detected() {
        let ink = seven(100, 5.0, 5.0, 1.0);
        let want = from_ink(&ink, 100, 100).unwrap();
        let dark_on_light: Vec<u8> = ink.iter().map(|&v| (255.0 * (1.0 - v)) as u8).collect();
        let light_on_dark: Vec<u8> = ink.iter().map(|&v| (255.0 * v) as u8).collect();
        assert!(mean_abs_diff(&want, &from_gray(&dark_on_light, 100, 100).unwrap()) < 1e-3);
        assert!(mean_abs_diff(&want, &from_gray(&light_on_dark, 100, 100).unwrap()) < 1e-3);
        let rgba: Vec<u8> = ink.iter().flat_map(|&v| [0, 0, 0, (255.0 * v) as u8]).collect();
        assert!(mean_abs_diff(&want, &from_rgba(&rgba, 100, 100).unwrap()) < 1e-3);
    }

    /// The drawing pad's canvas: transparent, strokes in #111 whose alpha is their coverage.
    /// Composited over white it reads as the alpha-as-ink rule read it, to float rounding.
    #[test]
    fn a_transparent_canvas_reads_as_before() {
        let ink = seven(120, 10.0, 8.0, 1.2);
        // Anti-aliased edges: coverage falls off over a few pixels.
        let alpha: Vec<u8> = (0..ink.len())
            .map(|i| {
                let near = [i.saturating_sub(1), i, (i + 1).min(ink.len() - 1)];
                (255.0 * near.iter().map(|&j| ink[j]).sum::<f32>() / 3.0) as u8
            })
            .collect();
        let canvas: Vec<u8> = alpha.iter().flat_map(|&a| [17, 17, 17, a]).collect();
        let before = from_ink(&alpha.iter().map(|&a| a as f32 / 255.0).collect::<Vec<_>>(), 120, 120).unwrap();
        let now = from_rgba(&canvas, 120, 120).unwrap();
        let max_diff = before.iter().zip(&now).fold(0f32, |m, (a, b)| m.max((a - b).abs()));
        assert!(max_diff < 1e-5, "{max_diff}");
    }

    /// The issue: a white picture with a black digit and one translucent pixel became a filled
    /// rectangle (alpha taken as the ink). Now that pixel is only a slightly lighter pixel.
    #[test]
    fn a_translucent_pixel_does_not_make_alpha_the_ink() {
        let ink = seven(100, 5.0, 5.0, 1.0);
        let opaque: Vec<u8> = ink
            .iter()
            .flat_map(|&v| {
                let g = (255.0 * (1.0 - v)) as u8;
                [g, g, g, 255]
            })
            .collect();
        let want = from_rgba(&opaque, 100, 100).unwrap();
        let mut one_translucent = opaque.clone();
        one_translucent[3] = 254;
        let got = from_rgba(&one_translucent, 100, 100).unwrap();
        assert!(mean_abs_diff(&want, &got) < 1e-3, "{}", mean_abs_diff(&want, &got));
        // A transparent background whose hidden colour is black is white paper too.
        let transparent_black: Vec<u8> = ink
            .iter()
            .flat_map(|&v| if v > 0.0 { [0, 0, 0, 255] } else { [0, 0, 0, 0] })
            .collect();
        let got = from_rgba(&transparent_black, 100, 100).unwrap();
        assert!(mean_abs_diff(&want, &got) < 1e-3, "{}", mean_abs_diff(&want, &got));
    }

    #[test]
    fn empty_and_malformed_images_are_errors() {
        assert_eq!(from_ink(&[0.0; 64], 8, 8), Err(PreprocessError::Empty));
        assert_eq!(from_gray(&[255; 64], 8, 8), Err(PreprocessError::Empty));
        assert_eq!(from_rgba(&[0; 4 * 64], 8, 8), Err(PreprocessError::Empty));
        assert!(matches!(
            from_rgba(&[0; 10], 8, 8),
            Err(PreprocessError::BadSize {
                expected: 256,
                found: 10,
                ..
            })
        ));
        assert!(matches!(from_ink(&[], 0, 0), Err(PreprocessError::BadSize { .. })));
    }

    #[test]
    fn the_input_is_quantised_to_bytes() {
        let d = from_ink(&seven(280, 20.0, 30.0, 2.0), 280, 280).unwrap();
        for v in d {
            let byte = (v * 255.0).round();
            assert_eq!(byte / 255.0, v, "{v} is not a multiple of 1/255");
        }
        // Anti-aliased edges keep their grey levels.
        assert!(d.iter().any(|&v| v > 0.05 && v < 0.95));
    }

    #[test]
    fn a_hairline_on_a_large_picture_is_full_ink() {
        // A one-pixel diagonal across a 560-px picture: 28 times thinner than a pixel of the box.
        let side = 560;
        let mut ink = vec![0f32; side * side];
        for i in 40..520 {
            ink[i * side + i] = 1.0;
        }
        let d = from_ink(&ink, side, side).unwrap();
        assert_eq!(d.iter().copied().fold(0f32, f32::max), 1.0);
        let inked = d.iter().filter(|&&v| v > 0.5).count();
        assert!(inked >= 20, "the line is visible: {inked} pixels above 0.5");
    }

    #[test]
    fn tiny_dot_is_scaled_up_not_lost() {
        let mut ink = vec![0f32; 50 * 50];
        ink[25 * 50 + 25] = 1.0;
        let d = from_ink(&ink, 50, 50).unwrap();
        assert!(d.iter().sum::<f32>() > 100.0);
    }
}
