//! The user's samples before fine-tuning: the checks that decide whether there is enough to tune
//! on ([`check_samples`]), and the held-out split that the tuned model is scored on
//! ([`split_held_out`]).
//!
//! Contract: pure and seeded. The split is stratified by digit and never puts a sample in both
//! parts, so a tuned model is never scored on a sample it was tuned on.

use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use crate::data::{Dataset, NUM_CLASSES};

use super::FinetuneError;

/// Fewer samples than this cannot include every digit, and fine-tuning needs every digit: a digit
/// the user never drew would only be learnt from MNIST replay, and the tuned model would drift
/// away from it.
pub const MIN_SAMPLES: usize = NUM_CLASSES;

/// Which samples train and which score the tuned model (indices into the samples, ascending).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HeldOutSplit {
    pub tuning: Vec<usize>,
    pub held_out: Vec<usize>,
}

/// How many samples of each digit `labels` holds.
fn counts(labels: &[u8]) -> [usize; NUM_CLASSES] {
    let mut counts = [0; NUM_CLASSES];
    for &l in labels {
        counts[l as usize] += 1;
    }
    counts
}

/// Fails with a message for the user unless `samples` are valid images with at least
/// [`MIN_SAMPLES`] of them, every digit 0-9 among them, and one digit drawn twice (so that one
/// sample can be held out).
pub fn check_samples(samples: &Dataset) -> Result<(), FinetuneError> {
    samples.check().map_err(FinetuneError::Samples)?;
    let counts = counts(&samples.labels);
    let missing: Vec<u8> = (0..NUM_CLASSES as u8).filter(|&d| counts[d as usize] == 0).collect();
    if samples.len() < MIN_SAMPLES {
        return Err(FinetuneError::TooFew {
            found: samples.len(),
            needed: MIN_SAMPLES,
            missing,
        });
    }
    if !missing.is_empty() {
        return Err(FinetuneError::MissingDigits(missing));
    }
    if counts.iter().all(|&c| c < 2) {
        return Err(FinetuneError::NothingToHoldOut);
    }
    Ok(())
}

/// Samples of a digit drawn `count` times that are held out: `share` of them, rounded, at least
/// one when there are two or more, and never all of them (each digit keeps a tuning sample).
pub fn held_out_count(count: usize, share: f64) -> usize {
    if count < 2 {
        return 0;
    }
    ((count as f64 * share).round() as usize).clamp(1, count - 1)
}

/// Splits the samples with these `labels` into tuning and held-out parts, digit by digit
/// ([`held_out_count`] of each), choosing which with a shuffle seeded by `seed`.
pub fn split_held_out(labels: &[u8], share: f64, seed: u64) -> HeldOutSplit {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut split = HeldOutSplit {
        tuning: Vec::new(),
        held_out: Vec::new(),
    };
    for digit in 0..NUM_CLASSES as u8 {
        let mut of_digit: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == digit).collect();
        of_digit.shuffle(&mut rng);
        let held = held_out_count(of_digit.len(), share);
        split.held_out.extend_from_slice(&of_digit[..held]);
        split.tuning.extend_from_slice(&of_digit[held..]);
    }
    split.tuning.sort_unstable();
    split.held_out.sort_unstable();
    split
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::IMAGE_PIXELS;

    fn with_labels(labels: &[u8]) -> Dataset {
        Dataset {
            images: vec![0; labels.len() * IMAGE_PIXELS],
            labels: labels.to_vec(),
        }
    }

    /// `per_digit[d]` samples of digit `d`, interleaved.
    fn labels(per_digit: [usize; NUM_CLASSES]) -> Vec<u8> {
        let mut left = per_digit;
        let mut out = Vec::new();
        while left.iter().any(|&n| n > 0) {
            for (d, n) in left.iter_mut().enumerate() {
                if *n > 0 {
                    out.push(d as u8);
                    *n -= 1;
                }
            }
        }
        out
    }

    #[test]
    fn too_few_or_missing_digits_are_refused_with_what_is_missing() {
        let err = check_samples(&with_labels(&[0, 1, 2, 2, 4, 5])).unwrap_err();
        let msg = err.to_string();
        assert!(
            matches!(
                err,
                FinetuneError::TooFew {
                    found: 6,
                    needed: 10,
                    ..
                }
            ),
            "{msg}"
        );
        assert!(msg.contains("3, 6, 7, 8, 9"), "{msg}");

        let err = check_samples(&with_labels(&labels([2, 2, 2, 0, 2, 2, 2, 0, 2, 2]))).unwrap_err();
        assert!(matches!(&err, FinetuneError::MissingDigits(m) if m == &[3, 7]), "{err}");
        assert!(err.to_string().contains("no samples of 3, 7"), "{err}");

        let one_each = with_labels(&labels([1; NUM_CLASSES]));
        assert!(matches!(check_samples(&one_each), Err(FinetuneError::NothingToHoldOut)));

        let bad = Dataset {
            images: vec![0; 5],
            labels: vec![1],
        };
        assert!(matches!(check_samples(&bad), Err(FinetuneError::Samples(_))));
        assert!(check_samples(&with_labels(&labels([1, 1, 1, 1, 2, 1, 1, 1, 1, 1]))).is_ok());
    }

    #[test]
    fn held_out_counts_are_a_share_but_keep_a_tuning_sample() {
        let held: Vec<usize> = [0, 1, 2, 3, 5, 8, 10, 50]
            .iter()
            .map(|&n| held_out_count(n, 0.2))
            .collect();
        assert_eq!(held, vec![0, 0, 1, 1, 1, 2, 2, 10]);
        assert_eq!(held_out_count(2, 0.9), 1);
    }

    #[test]
    fn split_is_stratified_disjoint_complete_and_seeded() {
        let per_digit = [5, 6, 2, 1, 9, 5, 5, 4, 7, 10];
        let labels = labels(per_digit);
        let split = split_held_out(&labels, 0.2, 7);
        // Disjoint and complete: every sample is in exactly one part.
        let mut all: Vec<usize> = split.tuning.iter().chain(&split.held_out).copied().collect();
        all.sort_unstable();
        assert_eq!(all, (0..labels.len()).collect::<Vec<_>>());
        assert!(split.held_out.iter().all(|i| !split.tuning.contains(i)));
        // Stratified: each digit holds out its own share and keeps a tuning sample.
        for (d, &n) in per_digit.iter().enumerate() {
            let held = split.held_out.iter().filter(|&&i| labels[i] as usize == d).count();
            assert_eq!(held, held_out_count(n, 0.2), "digit {d}");
            assert!(split.tuning.iter().any(|&i| labels[i] as usize == d), "digit {d}");
        }
        assert_eq!(split, split_held_out(&labels, 0.2, 7));
        assert_ne!(split, split_held_out(&labels, 0.2, 8));
    }
}
