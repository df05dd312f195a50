//! Seeded data augmentation: a small random affine transform of each training image.
//!
//! Why: people's drawings are not centred, sized and slanted like MNIST's, and a network that has
//! only seen MNIST's exact framing is brittle on them. A random rotation, scale, shear and shift
//! per image (bilinear resampling, fresh parameters from the caller's seeded RNG) also
//! regularises training, which is what lets the seed model pass 99.5% test accuracy.
//!
//! Contract: `apply` maps a 28x28 image of intensities in 0..1 to another one; the same RNG state
//! gives the same output on every platform.

use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::data::{Dataset, IMAGE_PIXELS, IMAGE_SIDE};

/// Ranges of the random affine transform. Each parameter is drawn uniformly from `[-x, x]`
/// (scale from `[1 - scale, 1 + scale]`).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Augment {
    /// Maximum rotation in degrees.
    pub rotate_deg: f32,
    /// Maximum relative change of size.
    pub scale: f32,
    /// Maximum horizontal shear (x += shear * y).
    pub shear: f32,
    /// Maximum shift in pixels, each axis.
    pub translate_px: f32,
}

impl Default for Augment {
    fn default() -> Self {
        Self {
            rotate_deg: 10.0,
            scale: 0.1,
            shear: 0.15,
            translate_px: 2.0,
        }
    }
}

impl Augment {
    /// Returns a randomly transformed copy of `img` (28x28, row-major, 0..1).
    pub fn apply(&self, img: &[f32; IMAGE_PIXELS], rng: &mut ChaCha8Rng) -> [f32; IMAGE_PIXELS] {
        let mut sym = |r: f32| {
            if r > 0.0 {
                rng.random_range(-r..=r)
            } else {
                0.0
            }
        };
        // Drawn in this order (rotation, scale, shear, shift x, shift y) so a seed keeps giving
        // the same images.
        let affine = Affine {
            rotate_deg: sym(self.rotate_deg),
            scale: 1.0 + sym(self.scale),
            shear: sym(self.shear),
            translate_px: [sym(self.translate_px), sym(self.translate_px)],
        };
        affine.apply(img)
    }
}

/// One fixed affine transform about the image centre: `p' = scale * R(rotate) * H(shear) * p + t`.
/// [`Augment`] draws one per image; a fixed one also makes a consistent "handwriting" (every
/// digit slanted or turned the same way) for fine-tuning tests and measurements.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Affine {
    /// Rotation in degrees (positive turns clockwise on screen, where y points down).
    pub rotate_deg: f32,
    /// Size factor (1 = unchanged).
    pub scale: f32,
    /// Horizontal shear (x += shear * y before the rotation).
    pub shear: f32,
    /// Shift in pixels (x, y).
    pub translate_px: [f32; 2],
}

impl Default for Affine {
    /// The identity.
    fn default() -> Self {
        Self {
            rotate_deg: 0.0,
            scale: 1.0,
            shear: 0.0,
            translate_px: [0.0, 0.0],
        }
    }
}

impl Affine {
    /// Returns the transformed copy of `img` (28x28, row-major, 0..1), resampled bilinearly.
    pub fn apply(&self, img: &[f32; IMAGE_PIXELS]) -> [f32; IMAGE_PIXELS] {
        let angle = self.rotate_deg.to_radians();
        let (scale, shear) = (self.scale, self.shear);
        let [tx, ty] = self.translate_px;
        // Forward map (about the centre): p' = S * R * H * p + t. We sample with the inverse,
        // so every output pixel reads the source at A^-1 (p' - t).
        let (s, c) = angle.sin_cos();
        // A = scale * R * H, with H = [[1, shear], [0, 1]].
        let a = [scale * c, scale * (c * shear - s), scale * s, scale * (s * shear + c)];
        let det = a[0] * a[3] - a[1] * a[2];
        let inv = [a[3] / det, -a[1] / det, -a[2] / det, a[0] / det];
        let centre = (IMAGE_SIDE as f32 - 1.0) / 2.0;
        let mut out = [0f32; IMAGE_PIXELS];
        for y in 0..IMAGE_SIDE {
            for x in 0..IMAGE_SIDE {
                let dx = x as f32 - centre - tx;
                let dy = y as f32 - centre - ty;
                let sx = inv[0] * dx + inv[1] * dy + centre;
                let sy = inv[2] * dx + inv[3] * dy + centre;
                out[y * IMAGE_SIDE + x] = bilinear(img, sx, sy);
            }
        }
        out
    }

    /// Every image of `data` transformed, quantised back to bytes (as the browser stores a
    /// drawing's model input); labels unchanged.
    pub fn apply_to_dataset(&self, data: &Dataset) -> Dataset {
        let mut images = Vec::with_capacity(data.images.len());
        let mut img = [0f32; IMAGE_PIXELS];
        for pixels in data.images.chunks_exact(IMAGE_PIXELS) {
            for (f, &p) in img.iter_mut().zip(pixels) {
                *f = p as f32 / 255.0;
            }
            images.extend(
                self.apply(&img)
                    .iter()
                    .map(|&f| (f * 255.0).round().clamp(0.0, 255.0) as u8),
            );
        }
        Dataset {
            images,
            labels: data.labels.clone(),
        }
    }
}

/// Samples `img` at a fractional position; outside the image is background (0).
fn bilinear(img: &[f32; IMAGE_PIXELS], x: f32, y: f32) -> f32 {
    let (x0, y0) = (x.floor(), y.floor());
    let (fx, fy) = (x - x0, y - y0);
    let px = |xi: f32, yi: f32| -> f32 {
        if xi < 0.0 || yi < 0.0 || xi >= IMAGE_SIDE as f32 || yi >= IMAGE_SIDE as f32 {
            0.0
        } else {
            img[yi as usize * IMAGE_SIDE + xi as usize]
        }
    };
    let top = px(x0, y0) * (1.0 - fx) + px(x0 + 1.0, y0) * fx;
    let bottom = px(x0, y0 + 1.0) * (1.0 - fx) + px(x0 + 1.0, y0 + 1.0) * fx;
    top * (1.0 - fy) + bottom * fy
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn square() -> [f32; IMAGE_PIXELS] {
        let mut img = [0f32; IMAGE_PIXELS];
        for y in 10..18 {
            for x in 10..18 {
                img[y * IMAGE_SIDE + x] = 1.0;
            }
        }
        img
    }

    #[test]
    fn identity_when_all_ranges_are_zero() {
        let aug = Augment {
            rotate_deg: 0.0,
            scale: 0.0,
            shear: 0.0,
            translate_px: 0.0,
        };
        let img = square();
        let out = aug.apply(&img, &mut ChaCha8Rng::seed_from_u64(1));
        for (a, b) in img.iter().zip(out.iter()) {
            assert!((a - b).abs() < 1e-5);
        }
    }

    #[test]
    fn seeded_and_mass_preserving() {
        let aug = Augment::default();
        let img = square();
        let a = aug.apply(&img, &mut ChaCha8Rng::seed_from_u64(3));
        let b = aug.apply(&img, &mut ChaCha8Rng::seed_from_u64(3));
        let c = aug.apply(&img, &mut ChaCha8Rng::seed_from_u64(4));
        assert_eq!(a, b);
        assert_ne!(a, c);
        // Scale is at most +-10%, so the ink mass stays within about (1 +- 0.1)^2.
        let mass = |v: &[f32]| v.iter().sum::<f32>();
        let ratio = mass(&c) / mass(&img);
        assert!((0.75..1.3).contains(&ratio), "mass ratio {ratio}");
    }
}
