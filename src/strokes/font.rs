//! A vector font of handwriting-like digits (`assets/digit-strokes.json`) and the random affine
//! jitter that turns one of its styles into a drawing of a given size on a square pad: what the
//! measurements and tests draw instead of a person.
//!
//! Contract: the JSON is `{"digits": [{"digit": d, "styles": [{"name", "strokes": [[[x, y], …],
//! …]}]}]}` with coordinates in 0..1 (y down); [`DigitFont::from_json`] checks that every digit
//! 0-9 has at least one style and every point is finite. The same file is read by the browser's
//! end-to-end test (Node), which replays the strokes as pointer input. [`Jitter::place`] is
//! seeded through the caller's RNG, so a seed gives the same drawings on every platform.

use rand::Rng;
use serde::Deserialize;

use super::Stroke;
use crate::data::NUM_CLASSES;

/// The font's JSON, compiled in (about 50 kB; only builds that use the font keep it).
const SHIPPED: &str = include_str!("../../assets/digit-strokes.json");

/// One way of writing a digit.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct DigitStyle {
    pub name: String,
    /// In drawing order, in unit coordinates (0..1, y down).
    pub strokes: Vec<Stroke>,
}

#[derive(Deserialize)]
struct FontFile {
    digits: Vec<FontDigit>,
}

#[derive(Deserialize)]
struct FontDigit {
    digit: usize,
    styles: Vec<DigitStyle>,
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum FontError {
    #[error("digit font is not valid JSON of the expected shape: {0}")]
    Json(String),
    #[error("digit font: {0} is not a digit 0-9")]
    NotADigit(usize),
    #[error("digit font has no style for the digit {0}")]
    MissingDigit(usize),
    #[error("digit font: style `{name}` of the digit {digit} has no points or a non-finite one")]
    BadStyle { digit: usize, name: String },
}

/// The styles of each digit 0-9.
#[derive(Clone, Debug, PartialEq)]
pub struct DigitFont {
    styles: Vec<Vec<DigitStyle>>, // indexed by digit
}

impl DigitFont {
    /// The font in `assets/digit-strokes.json`.
    pub fn shipped() -> Result<Self, FontError> {
        Self::from_json(SHIPPED)
    }

    /// Parses and checks a font (see the module doc for the format).
    pub fn from_json(json: &str) -> Result<Self, FontError> {
        let file: FontFile = serde_json::from_str(json).map_err(|e| FontError::Json(e.to_string()))?;
        let mut styles = vec![Vec::new(); NUM_CLASSES];
        for entry in file.digits {
            let slot = styles.get_mut(entry.digit).ok_or(FontError::NotADigit(entry.digit))?;
            for style in entry.styles {
                let points = || style.strokes.iter().flatten();
                if points().next().is_none() || !points().flatten().all(|v| v.is_finite()) {
                    return Err(FontError::BadStyle {
                        digit: entry.digit,
                        name: style.name,
                    });
                }
                slot.push(style);
            }
        }
        if let Some(digit) = styles.iter().position(Vec::is_empty) {
            return Err(FontError::MissingDigit(digit));
        }
        Ok(Self { styles })
    }

    /// The styles of `digit` (empty for a number that is not a digit).
    pub fn styles(&self, digit: usize) -> &[DigitStyle] {
        self.styles.get(digit).map_or(&[], Vec::as_slice)
    }

    /// Every `(digit, style)`, digit by digit.
    pub fn iter(&self) -> impl Iterator<Item = (usize, &DigitStyle)> {
        self.styles
            .iter()
            .enumerate()
            .flat_map(|(d, styles)| styles.iter().map(move |s| (d, s)))
    }
}

/// How large a digit is drawn, as a share of the pad's height.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DrawnSize {
    /// A fifth to a third of the pad.
    Small,
    /// 40-60 % of the pad.
    Medium,
    /// Most of the pad: 70-90 %.
    Large,
}

impl DrawnSize {
    pub const ALL: [DrawnSize; 3] = [DrawnSize::Small, DrawnSize::Medium, DrawnSize::Large];

    /// The range of the digit's height, as a share of the pad's side.
    pub fn height_range(self) -> (f32, f32) {
        match self {
            DrawnSize::Small => (0.2, 1.0 / 3.0),
            DrawnSize::Medium => (0.4, 0.6),
            DrawnSize::Large => (0.7, 0.9),
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            DrawnSize::Small => "small",
            DrawnSize::Medium => "medium",
            DrawnSize::Large => "large",
        }
    }

    /// A height drawn uniformly from [`DrawnSize::height_range`].
    pub fn sample_height(self, rng: &mut impl Rng) -> f32 {
        let (lo, hi) = self.height_range();
        rng.random_range(lo..hi)
    }
}

/// A random affine distortion, each part uniform in `±` its value: how differently people slant,
/// rotate and stretch the same digit.
#[derive(Clone, Debug, PartialEq)]
pub struct Jitter {
    /// Rotation in degrees.
    pub rotation_deg: f32,
    /// Horizontal shear (slant): `x += shear * y`.
    pub shear: f32,
    /// Width stretch: the width is multiplied by `(1 + aspect)^u`, `u` uniform in -1..1.
    pub aspect: f32,
    /// Largest smooth random displacement of a point, as a share of the glyph's size (loops
    /// drawn larger or smaller, strokes bent): three waves per axis, each at most 1.5 cycles
    /// across the glyph. 0 keeps the distortion affine.
    pub wobble: f32,
    /// Room kept free at the pad's edges, as a share of its side (the pad's pen must fit).
    pub margin: f32,
}

impl Default for Jitter {
    fn default() -> Self {
        Self {
            rotation_deg: 10.0,
            shear: 0.25,
            aspect: 0.25,
            wobble: 0.1,
            margin: 0.05,
        }
    }
}

impl Jitter {
    /// `style` distorted at random, scaled so that it is `height * pad` tall (narrowed if it
    /// would then be wider than the pad allows) and put at a random place on a `pad x pad` pad,
    /// in the pad's units.
    pub fn place(&self, style: &[Stroke], pad: f32, height: f32, rng: &mut impl Rng) -> Vec<Stroke> {
        let angle = rng.random_range(-1f32..=1.0) * self.rotation_deg.to_radians();
        let shear = rng.random_range(-1f32..=1.0) * self.shear;
        let stretch = (1.0 + self.aspect.max(0.0)).powf(rng.random_range(-1f32..=1.0));
        let waves: Vec<[f32; 4]> = (0..6)
            .map(|_| {
                let turn = std::f32::consts::TAU;
                let (fx, fy) = (rng.random_range(-1.5f32..=1.5), rng.random_range(-1.5f32..=1.5));
                let amplitude = self.wobble * rng.random_range(0f32..=1.0) / 3.0;
                [turn * fx, turn * fy, rng.random_range(0.0..turn), amplitude]
            })
            .collect();
        let (sin, cos) = angle.sin_cos();
        let distort = |p: &[f32; 2]| {
            // Waves 0-2 move x, 3-5 move y; each is `a sin(f . p + phase)`.
            let shift = |w: &[[f32; 4]]| {
                w.iter()
                    .map(|w| w[3] * (w[0] * p[0] + w[1] * p[1] + w[2]).sin())
                    .sum::<f32>()
            };
            let (px, py) = (p[0] + shift(&waves[..3]), p[1] + shift(&waves[3..]));
            let (x, y) = (stretch * px + shear * py, py);
            [cos * x - sin * y, sin * x + cos * y]
        };
        let shape: Vec<Stroke> = style.iter().map(|s| s.iter().map(distort).collect()).collect();
        let (lo, hi) = extent(&shape);
        let (w, h) = ((hi[0] - lo[0]).max(1e-6), (hi[1] - lo[1]).max(1e-6));
        let room = pad * (1.0 - 2.0 * self.margin.clamp(0.0, 0.45));
        let scale = (height * pad / h).min(room / w).min(room / h);
        let free = |size: f32| (room - size * scale).max(0.0);
        let at = [
            pad * self.margin + rng.random_range(0.0..=1.0) * free(w),
            pad * self.margin + rng.random_range(0.0..=1.0) * free(h),
        ];
        shape
            .iter()
            .map(|s| {
                s.iter()
                    .map(|p| [at[0] + (p[0] - lo[0]) * scale, at[1] + (p[1] - lo[1]) * scale])
                    .collect()
            })
            .collect()
    }
}

/// The bounding box of every point (zeros without points).
fn extent(strokes: &[Stroke]) -> ([f32; 2], [f32; 2]) {
    let mut points = strokes.iter().flatten();
    let Some(&first) = points.next() else {
        return ([0.0; 2], [0.0; 2]);
    };
    points.fold((first, first), |(lo, hi), p| {
        ([lo[0].min(p[0]), lo[1].min(p[1])], [hi[0].max(p[0]), hi[1].max(p[1])])
    })
}
