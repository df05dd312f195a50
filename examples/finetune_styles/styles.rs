//! The "handwriting" styles, and which MNIST test images one (style, seed) uses.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use vgg_mnist::augment::Affine;
use vgg_mnist::data::{Dataset, IMAGE_PIXELS, IMAGE_SIDE, NUM_CLASSES};

pub const PER_DIGIT: usize = 6;
pub const STYLE_REST: usize = 2_000;
/// The styles fine-tuned on by default.
pub const MEASURED: [&str; 3] = ["rotated", "slanted", "bold-rotated"];

/// A consistent way of writing: a fixed affine transform, optionally with bolder strokes.
pub struct Style {
    pub name: &'static str,
    pub affine: Affine,
    /// Strokes thickened by a 3x3 grey dilation (the maximum of each pixel's neighbourhood).
    pub bold: bool,
}

impl Style {
    pub fn apply(&self, data: &Dataset) -> Dataset {
        let mut out = self.affine.apply_to_dataset(data);
        if self.bold {
            for img in out.images.chunks_exact_mut(IMAGE_PIXELS) {
                let src = img.to_vec();
                for y in 0..IMAGE_SIDE {
                    for x in 0..IMAGE_SIDE {
                        let (y0, y1) = (y.saturating_sub(1), (y + 1).min(IMAGE_SIDE - 1));
                        let (x0, x1) = (x.saturating_sub(1), (x + 1).min(IMAGE_SIDE - 1));
                        img[y * IMAGE_SIDE + x] = (y0..=y1)
                            .flat_map(|yy| (x0..=x1).map(move |xx| (yy, xx)))
                            .map(|(yy, xx)| src[yy * IMAGE_SIDE + xx])
                            .max()
                            .unwrap_or(0);
                    }
                }
            }
        }
        out
    }
}

pub fn styles() -> Vec<Style> {
    let affine = |rotate_deg, shear, scale| Affine {
        rotate_deg,
        shear,
        scale,
        ..Affine::default()
    };
    let style = |name, affine, bold| Style { name, affine, bold };
    vec![
        style("rotated", affine(35.0, 0.0, 1.0), false),
        style("rotated-left", affine(-35.0, 0.0, 1.0), false),
        style("slanted-0.6", affine(0.0, -0.6, 1.0), false),
        style("slanted", affine(0.0, -1.0, 1.0), false),
        style("bold", affine(0.0, 0.0, 1.0), true),
        style("bold-rotated", affine(25.0, 0.0, 1.0), true),
        style("small", affine(0.0, 0.0, 0.6), false),
    ]
}

/// The images one (style, seed) uses, as indices into the MNIST test set.
pub struct Draw {
    pub samples: Vec<usize>,
    pub rest: Vec<usize>,
    pub mnist: Vec<usize>,
}

pub fn draw(test: &Dataset, seed: u64) -> Draw {
    let mut order: Vec<usize> = (0..test.len()).collect();
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(1000 + seed));
    let mut taken = [0; NUM_CLASSES];
    let mut samples = Vec::new();
    let mut rest = Vec::new();
    for &i in &order {
        let d = test.labels[i] as usize;
        if taken[d] < PER_DIGIT {
            taken[d] += 1;
            samples.push(i);
        } else if rest.len() < STYLE_REST {
            rest.push(i);
        }
    }
    let mnist = (0..test.len()).filter(|i| !samples.contains(i)).collect();
    Draw { samples, rest, mnist }
}
