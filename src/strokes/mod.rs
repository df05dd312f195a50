//! Pen strokes → the model's 28x28 input, whatever size the user drew.
//!
//! A drawing pad that paints with a fixed pen (a share of the pad) turns a small digit into a
//! blob once it is scaled up to MNIST's 20-px box. Here the strokes are kept as the pointer drew
//! them and drawn again with a pen whose width is relative to the strokes' own bounding box, so
//! that in the 20-px box the pen is as wide as MNIST's ([`PEN_IN_BOX`] pixels) at any drawn size;
//! then the same MNIST placement as [`crate::preprocess`] (as its [`preprocess::from_ink`]:
//! crop, 20-px box by the longer side, centre of mass; without thinning bold strokes, since the
//! pen is chosen here).
//!
//! Contract: points in any unit (canvas CSS pixels, say), one [`Stroke`] per pointer-down..up; a
//! one-point stroke is a dot. Non-finite points are ignored. Input with no points, or whose
//! points all coincide (a single tap: no size, so no digit), is [`PreprocessError::Empty`].
//! Time and memory are bounded whatever the input: at most [`MAX_POINTS`] points are drawn
//! (longer strokes are thinned evenly) on a raster of at most [`RASTER`]² pixels. Output as
//! `preprocess`'s: intensities in 0..1, quantised to 1/255. Pure: no DOM, no clock.
//!
//! ```
//! use vgg_mnist::strokes::digit_from_strokes;
//! // A "7" drawn 30 px tall in the corner of a pad.
//! let seven = vec![vec![[10.0, 10.0], [30.0, 10.0], [18.0, 40.0]]];
//! let digit = digit_from_strokes(&seven)?;
//! assert!(digit.iter().any(|&v| v == 1.0));
//! # Ok::<(), vgg_mnist::preprocess::PreprocessError>(())
//! ```

mod font;
mod raster;

pub use font::{DigitFont, DigitStyle, DrawnSize, FontError, Jitter};
pub use raster::rasterize;

use crate::preprocess::{self, Digit, PreprocessError};

/// One stroke: the points of one pointer-down..up, in drawing order.
pub type Stroke = Vec<[f32; 2]>;

/// The pen's width in MNIST's 20-px box (chosen by measurement: see the README, "Digits of any
/// size", and `examples/drawn_sizes.rs`).
pub const PEN_IN_BOX: f32 = 2.5;
/// Longer side of the ink on the raster the strokes are drawn on before preprocessing: four
/// times the 20-px box, so the anti-aliased downscale sees smooth edges.
const INK_SIDE: f32 = 80.0;
/// The raster's longest side (the ink plus a pixel of margin on each side).
pub const RASTER: usize = INK_SIDE as usize + 2;
/// Points drawn at most; more are thinned evenly (a pointer reports a few hundred per digit).
pub const MAX_POINTS: usize = 4096;
/// Points this close together, relative to the drawing's size, count as one (a tap).
const DOT: f64 = 1e-6;

/// The model input for `strokes`, drawn with the pen [`PEN_IN_BOX`] px wide in the 20-px box.
///
/// # Errors
/// [`PreprocessError::Empty`] when there is nothing with a size to draw (see the module doc).
pub fn digit_from_strokes(strokes: &[Stroke]) -> Result<Digit, PreprocessError> {
    digit_from_strokes_with_pen(strokes, PEN_IN_BOX)
}

/// As [`digit_from_strokes`], with the pen `pen_in_box` px wide in MNIST's 20-px box (for
/// measuring the choice of [`PEN_IN_BOX`]); clamped to 0.5..10.
pub fn digit_from_strokes_with_pen(strokes: &[Stroke], pen_in_box: f32) -> Result<Digit, PreprocessError> {
    let strokes = thin_out(strokes);
    let (min, max) = bounds(&strokes).ok_or(PreprocessError::Empty)?;
    let side = (max[0] - min[0]).max(max[1] - min[1]);
    let magnitude = min.iter().chain(&max).fold(0f64, |m, v| m.max(v.abs()));
    if side <= DOT * magnitude.max(f64::MIN_POSITIVE) || !side.is_finite() {
        return Err(PreprocessError::Empty);
    }
    // With round caps the ink's longer side is `side + pen`; in the 20-px box the pen is then
    // `20 * pen / (side + pen)` px wide, which is `pen_in_box` for this pen.
    let pen_in_box = f64::from(pen_in_box.clamp(0.5, 10.0));
    let pen = pen_in_box * side / (20.0 - pen_in_box);
    let scale = f64::from(INK_SIDE) / (side + pen); // raster pixels per unit
    let margin = pen / 2.0 * scale + 1.0;
    let extent = |axis: usize| ((max[axis] - min[axis]) * scale + 2.0 * margin).ceil() as usize;
    let (width, height) = (extent(0).min(RASTER + 1), extent(1).min(RASTER + 1));
    let placed: Vec<Stroke> = strokes
        .iter()
        .map(|s| {
            s.iter()
                .map(|p| {
                    let at = |axis: usize| ((f64::from(p[axis]) - min[axis]) * scale + margin) as f32;
                    [at(0), at(1)]
                })
                .collect()
        })
        .collect();
    let ink = rasterize(&placed, width, height, (pen * scale) as f32); // (height, width)
                                                                       // The pen is the one chosen above, so the pixels are never thinned as a picture's are.
    preprocess::from_ink_as_drawn(&ink, width, height)
}

/// The finite points of `strokes`, at most [`MAX_POINTS`] of them: a stroke keeps every
/// `stride`-th point and its last one, so its shape survives thinning.
fn thin_out(strokes: &[Stroke]) -> Vec<Stroke> {
    let finite = |p: &&[f32; 2]| p[0].is_finite() && p[1].is_finite();
    // More strokes than half the budget: every k-th stroke, so that what is kept spans the whole
    // drawing rather than its first strokes.
    let stroke_stride = strokes.len().div_ceil(MAX_POINTS / 2).max(1);
    let strokes: Vec<&Stroke> = strokes.iter().step_by(stroke_stride).collect();
    let total: usize = strokes.iter().map(|s| s.iter().filter(finite).count()).sum();
    // Each stroke may add its last point on top of the strided ones.
    let budget = MAX_POINTS.saturating_sub(strokes.len().min(MAX_POINTS / 2)).max(1);
    let stride = total.div_ceil(budget).max(1);
    let mut kept = Vec::new();
    let mut left = MAX_POINTS;
    for stroke in strokes {
        let Some(&last) = stroke.iter().rev().find(finite) else {
            continue;
        };
        let mut thinned: Stroke = stroke.iter().filter(finite).step_by(stride).copied().collect();
        if thinned.last() != Some(&last) {
            thinned.push(last);
        }
        thinned.truncate(left);
        left -= thinned.len();
        kept.push(thinned);
        if left == 0 {
            break;
        }
    }
    kept
}

/// The bounding box `(min, max)` of every point, in f64 so that huge coordinates cannot
/// overflow its size; `None` without points.
fn bounds(strokes: &[Stroke]) -> Option<([f64; 2], [f64; 2])> {
    let mut points = strokes.iter().flatten();
    let first = points.next()?;
    let start = [f64::from(first[0]), f64::from(first[1])];
    Some(points.fold((start, start), |(mut lo, mut hi), p| {
        for axis in 0..2 {
            lo[axis] = lo[axis].min(f64::from(p[axis]));
            hi[axis] = hi[axis].max(f64::from(p[axis]));
        }
        (lo, hi)
    }))
}

#[cfg(test)]
mod tests;
