//! Bold strokes in a picture, thinned towards MNIST's stroke width before preprocessing.
//!
//! A picture only has pixels: a digit written with a marker (or drawn small with a pad's fixed
//! pen) has strokes far wider, relative to the digit, than MNIST's, and the network misreads
//! blobs. Here the stroke width is measured as `2 x area / perimeter` of the ink (exact for long
//! straight strokes along an axis, about pi/4 of the width on curves, whose pixel edges step)
//! on a copy of the ink's box at most [`WORK_SIDE`] pixels
//! long, and when it is more than [`BOLD`] times MNIST's the copy is eroded (a grey-level min
//! filter) down to about MNIST's width. Thin strokes are left alone here: the preprocessing
//! stretches faint downscaled strokes to full ink instead.
//!
//! Contract: pure, bounded (the working copy has at most `WORK_SIDE²` pixels, the erosion is
//! separable), never erases the digit (an erosion that would leave no ink is not applied).
//! The numbers are measured in `examples/drawn_sizes.rs` (README, "Digits of any size").

use crate::resize::resize;

/// Longer side of the working copy the width is measured and corrected on.
const WORK_SIDE: usize = 112;
/// MNIST's stroke width by the same estimate, as a share of the 20-px box: 2.07 px on average
/// over the test set (`examples/drawn_sizes.rs`).
const MNIST_WIDTH: f32 = 2.1 / 20.0;
/// Strokes are thinned only when wider than this many times MNIST's.
pub const BOLD: f32 = 1.5;
/// Ink at or above this counts when measuring the width.
const INK: f32 = 0.5;

/// The ink box `ink` (`width x height`, the ink already scaled to a maximum of 1) with its
/// strokes thinned to about MNIST's width, and its size, if they are bold; `None` otherwise.
pub(crate) fn thin_bold(ink: &[f32], width: usize, height: usize) -> Option<(Vec<f32>, usize, usize)> {
    let longer = width.max(height);
    let (w, h, work) = if longer > WORK_SIDE {
        let (w, h) = (
            (width * WORK_SIDE).div_ceil(longer).max(1),
            (height * WORK_SIDE).div_ceil(longer).max(1),
        );
        (w, h, resize(ink, width, height, w, h))
    } else {
        (width, height, ink.to_vec())
    };
    let stroke = stroke_width(&work, w, h)?;
    let target = MNIST_WIDTH * w.max(h) as f32;
    if stroke <= BOLD * target {
        return None;
    }
    // A min filter of radius r takes r pixels off each side of a stroke.
    let radius = ((stroke - target) / 2.0).round() as usize;
    if radius == 0 {
        return None;
    }
    let thinned = erode(&work, w, h, radius);
    thinned.iter().any(|&v| v >= INK).then_some((thinned, w, h))
}

/// `2 x area / perimeter` of the pixels at or above [`INK`] (4-neighbour edges), in pixels;
/// `None` without ink. MNIST's digits measure 2.07 px on average this way.
pub fn stroke_width(ink: &[f32], width: usize, height: usize) -> Option<f32> {
    let on = |x: usize, y: usize| ink[y * width + x] >= INK;
    let (mut area, mut perimeter) = (0usize, 0usize);
    for y in 0..height {
        for x in 0..width {
            if on(x, y) {
                area += 1;
                let neighbours = [
                    x > 0 && on(x - 1, y),
                    x + 1 < width && on(x + 1, y),
                    y > 0 && on(x, y - 1),
                    y + 1 < height && on(x, y + 1),
                ];
                perimeter += neighbours.iter().filter(|&&n| !n).count();
            }
        }
    }
    (area > 0).then(|| 2.0 * area as f32 / perimeter as f32)
}

/// Grey-level erosion by a `(2r+1)` square: the minimum over each pixel's window, done as a
/// row pass and a column pass (outside the image counts as no ink).
fn erode(ink: &[f32], width: usize, height: usize, r: usize) -> Vec<f32> {
    let window_min = |get: &dyn Fn(usize) -> f32, i: usize, n: usize| -> f32 {
        if i < r || i + r >= n {
            return 0.0;
        }
        (i - r..=i + r).map(get).fold(f32::MAX, f32::min)
    };
    let mut rows = vec![0f32; ink.len()];
    for y in 0..height {
        let row = &ink[y * width..(y + 1) * width];
        for x in 0..width {
            rows[y * width + x] = window_min(&|i| row[i], x, width);
        }
    }
    let mut out = vec![0f32; ink.len()];
    for x in 0..width {
        for y in 0..height {
            out[y * width + x] = window_min(&|j| rows[j * width + x], y, height);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `side x side` ring (a "0") of stroke width `pen`.
    fn ring(side: usize, pen: f32) -> Vec<f32> {
        let c = side as f32 / 2.0;
        let radius = 0.4 * side as f32 - pen / 2.0;
        (0..side * side)
            .map(|i| {
                let (x, y) = ((i % side) as f32 + 0.5 - c, (i / side) as f32 + 0.5 - c);
                let d = ((x * x + y * y).sqrt() - radius).abs();
                (pen / 2.0 + 0.5 - d).clamp(0.0, 1.0)
            })
            .collect()
    }

    #[test]
    fn the_width_estimate_is_the_pen_width() {
        // Edges of every direction count their pixel steps: about 4/pi too long on a ring, so
        // the estimate is about pi/4 of the pen (MNIST is measured the same way).
        for pen in [4.0, 8.0, 16.0] {
            let w = stroke_width(&ring(200, pen), 200, 200).unwrap();
            assert!((w / pen - 0.785).abs() < 0.05, "pen {pen}: {w}");
        }
        // A straight bar along an axis: exact.
        let bar: Vec<f32> = (0..40 * 400)
            .map(|i| if (10..20).contains(&(i % 40)) { 1.0 } else { 0.0 })
            .collect();
        assert!((stroke_width(&bar, 40, 400).unwrap() - 10.0).abs() < 0.3);
        assert_eq!(stroke_width(&[0.0; 16], 4, 4), None);
    }

    #[test]
    fn bold_strokes_are_thinned_and_others_left_alone() {
        // A ring drawn with a pen of a fifth of its size, on 400 px: worked on at 112 px.
        let (thin, w, h) = thin_bold(&ring(400, 80.0), 400, 400).expect("bold");
        assert_eq!((w, h), (112, 112));
        let width = stroke_width(&thin, w, h).unwrap();
        let target = MNIST_WIDTH * 112.0;
        assert!((width - target).abs() < 0.35 * target, "{width} vs {target}");
        // The hole of the "0" is still there, and the ring too.
        assert_eq!(thin[56 * 112 + 56], 0.0);
        assert!(thin.iter().filter(|&&v| v >= INK).count() > 300);
        // MNIST-like and thin strokes: untouched.
        assert!(thin_bold(&ring(400, 40.0), 400, 400).is_none());
        assert!(thin_bold(&ring(60, 2.0), 60, 60).is_none());
        // A blob too small to lose a pixel on each side.
        assert!(thin_bold(&[1.0; 4], 2, 2).is_none(), "nothing to take off");
    }
}
