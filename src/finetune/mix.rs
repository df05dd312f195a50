//! The fine-tuning training set: the user's tuning samples, repeated, mixed with MNIST training
//! images ("replay"), so that the model learns the user's handwriting without forgetting MNIST.
//!
//! Contract: pure and seeded. [`plan_mix`] decides which images (by index) make up a set of
//! exactly `total` images, `replay` of them from MNIST; [`Mix::gather`] copies them. The `Trainer`
//! shuffles the set every epoch, so the order here does not matter.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data::Dataset;

/// Which images the training set holds: indices into the tuning samples (each repeated about
/// equally often) and into the MNIST training set (each at most once while the pool lasts).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mix {
    pub samples: Vec<usize>,
    pub replay: Vec<usize>,
}

/// `count` indices of `0..pool`: whole shuffled passes over the pool, the last one cut short, so
/// every index appears either `count / pool` times or once more, and none twice before all once.
fn draw(pool: usize, count: usize, rng: &mut ChaCha8Rng) -> Vec<usize> {
    let mut out = Vec::with_capacity(count);
    let mut pass: Vec<usize> = (0..pool).collect();
    while out.len() < count && pool > 0 {
        pass.shuffle(rng);
        let take = (count - out.len()).min(pool);
        out.extend_from_slice(&pass[..take]);
    }
    out
}

/// A set of `total` images from `n_samples` tuning samples and a pool of `n_mnist` MNIST images:
/// `round(total * replay_share)` from MNIST, the rest from the samples. With an empty pool or
/// no samples, the other side fills the set.
pub fn plan_mix(n_samples: usize, n_mnist: usize, total: usize, replay_share: f64, seed: u64) -> Mix {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut n_replay = ((total as f64) * replay_share).round() as usize;
    if n_mnist == 0 {
        n_replay = 0;
    } else if n_samples == 0 {
        n_replay = total;
    }
    let n_replay = n_replay.min(total);
    Mix {
        samples: draw(n_samples, total - n_replay, &mut rng),
        replay: draw(n_mnist, n_replay, &mut rng),
    }
}

impl Mix {
    /// The images the plan names: tuning samples first, then MNIST replay.
    pub fn gather(&self, samples: &Dataset, mnist: &Dataset) -> Dataset {
        let mut data = samples.select(&self.samples);
        data.append(&mnist.select(&self.replay));
        data
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::IMAGE_PIXELS;

    #[test]
    fn replay_share_and_oversampling_are_exact() {
        let mix = plan_mix(40, 60_000, 1280, 0.5, 3);
        assert_eq!((mix.samples.len(), mix.replay.len()), (640, 640));
        // 640 draws from 40 samples: each exactly 16 times.
        for i in 0..40 {
            assert_eq!(mix.samples.iter().filter(|&&s| s == i).count(), 16, "sample {i}");
        }
        // Replay images are distinct while the pool lasts.
        let mut replay = mix.replay.clone();
        replay.sort_unstable();
        replay.dedup();
        assert_eq!(replay.len(), 640);
        assert!(mix.replay.iter().all(|&r| r < 60_000));

        // Uneven: 100 draws from 30 samples give 3 or 4 of each.
        let mix = plan_mix(30, 500, 400, 0.75, 1);
        assert_eq!((mix.samples.len(), mix.replay.len()), (100, 300));
        for i in 0..30 {
            let n = mix.samples.iter().filter(|&&s| s == i).count();
            assert!(n == 3 || n == 4, "sample {i}: {n}");
        }
    }

    #[test]
    fn seeded_and_degenerate_pools() {
        assert_eq!(plan_mix(40, 1000, 256, 0.5, 9), plan_mix(40, 1000, 256, 0.5, 9));
        assert_ne!(plan_mix(40, 1000, 256, 0.5, 9), plan_mix(40, 1000, 256, 0.5, 10));
        let no_mnist = plan_mix(12, 0, 64, 0.5, 1);
        assert_eq!((no_mnist.samples.len(), no_mnist.replay.len()), (64, 0));
        let no_replay = plan_mix(12, 500, 64, 0.0, 1);
        assert_eq!(no_replay.replay.len(), 0);
        // A pool smaller than the replay share asks for is walked more than once.
        let small_pool = plan_mix(12, 10, 64, 0.5, 1);
        assert_eq!(small_pool.replay.len(), 32);
    }

    #[test]
    fn gather_copies_the_planned_images() {
        let image = |v: u8| vec![v; IMAGE_PIXELS];
        let samples = Dataset {
            images: [image(1), image(2)].concat(),
            labels: vec![1, 2],
        };
        let mnist = Dataset {
            images: [image(7), image(8), image(9)].concat(),
            labels: vec![7, 8, 9],
        };
        let mix = Mix {
            samples: vec![1, 0, 1],
            replay: vec![2],
        };
        let data = mix.gather(&samples, &mnist);
        assert_eq!(data.labels, vec![2, 1, 2, 9]);
        assert_eq!(data.image(3), &image(9)[..]);
    }
}
