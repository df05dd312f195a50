//! Batches: which examples each training step sees ([`Batches`]), and the tensors a batch
//! becomes ([`batch_tensors`]: normalised, optionally augmented).
//!
//! Contract: the order of epoch `e` depends only on `(seed, e)`, so a run is reproducible on any
//! platform and the CLI and the browser worker walk the data identically.

use candle_core::{Device, Tensor};
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::augment::Augment;
use crate::data::{normalize, Dataset, IMAGE_PIXELS, IMAGE_SIDE};

/// A seeded, reshuffled-every-epoch walk over `n` examples in batches.
///
/// The order of epoch `e` depends only on `(seed, e)`, so a run is reproducible and can be
/// resumed at any step. The last, short batch of an epoch is kept (no example is skipped).
#[derive(Clone, Debug)]
pub struct Batches {
    n: usize,
    batch_size: usize,
    seed: u64,
    epoch: usize,
    pos: usize,
    order: Vec<usize>,
}

impl Batches {
    pub fn new(n: usize, batch_size: usize, seed: u64) -> Self {
        let mut b = Self {
            n,
            batch_size: batch_size.max(1),
            seed,
            epoch: 0,
            pos: 0,
            order: Vec::new(),
        };
        b.shuffle();
        b
    }

    fn shuffle(&mut self) {
        self.order = (0..self.n).collect();
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ (self.epoch as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        self.order.shuffle(&mut rng);
    }

    /// Batches per epoch.
    pub fn per_epoch(&self) -> usize {
        self.n.div_ceil(self.batch_size)
    }

    /// The current epoch (0-based).
    pub fn epoch(&self) -> usize {
        self.epoch
    }

    /// The epoch that the next batch will belong to.
    pub fn epoch_of_next(&self) -> usize {
        self.epoch + usize::from(self.pos >= self.n)
    }

    /// The indices of the next batch, moving to a freshly shuffled epoch when one is used up.
    pub fn next_batch(&mut self) -> &[usize] {
        if self.pos >= self.n {
            self.epoch += 1;
            self.pos = 0;
            self.shuffle();
        }
        let start = self.pos;
        self.pos = (start + self.batch_size).min(self.n);
        &self.order[start..self.pos]
    }
}

/// The normalised input tensor `(B, 1, 28, 28)` and label tensor `(B,)` of the images `indices`
/// of `data`, with `augment` (seeded) applied to each image when given.
pub fn batch_tensors(
    data: &Dataset,
    indices: &[usize],
    augment: Option<(&Augment, &mut ChaCha8Rng)>,
    device: &Device,
) -> candle_core::Result<(Tensor, Tensor)> {
    let mut pixels = Vec::with_capacity(indices.len() * IMAGE_PIXELS);
    let mut labels = Vec::with_capacity(indices.len());
    let mut scratch = [0f32; IMAGE_PIXELS];
    let mut augment = augment;
    for &i in indices {
        for (s, &p) in scratch.iter_mut().zip(data.image(i)) {
            *s = p as f32 / 255.0;
        }
        if let Some((aug, rng)) = augment.as_mut() {
            scratch = aug.apply(&scratch, rng);
        }
        pixels.extend(scratch.iter().map(|&p| normalize(p)));
        labels.push(data.labels[i] as u32);
    }
    let b = indices.len();
    let xs = Tensor::from_vec(pixels, (b, 1, IMAGE_SIDE, IMAGE_SIDE), device)?; // (B, 1, 28, 28)
    let ys = Tensor::from_vec(labels, b, device)?; // (B,)
    Ok((xs, ys))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_cover_each_epoch_once_and_reshuffle() {
        let mut b = Batches::new(10, 4, 7);
        assert_eq!(b.per_epoch(), 3);
        let mut first: Vec<usize> = (0..3).flat_map(|_| b.next_batch().to_vec()).collect();
        let second: Vec<usize> = (0..3).flat_map(|_| b.next_batch().to_vec()).collect();
        assert_eq!(b.epoch(), 1);
        assert_ne!(first, second, "each epoch is shuffled anew");
        first.sort();
        assert_eq!(first, (0..10).collect::<Vec<_>>());
        assert_eq!(Batches::new(10, 4, 7).next_batch(), Batches::new(10, 4, 7).next_batch());
    }
}
