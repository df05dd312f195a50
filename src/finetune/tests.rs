//! The recipe end to end on a tiny network: seeded, never touching the base, never tuning on a
//! held-out sample, and refusing to start without enough samples.

use candle_core::Device;

use super::*;
use crate::checkpoint::{from_bytes, to_bytes};
use crate::data::{IMAGE_PIXELS, NUM_CLASSES};
use crate::model::{init_params, ModelConfig};

fn base() -> Checkpoint {
    let config = ModelConfig {
        widths: [4, 8],
        ..ModelConfig::default()
    };
    let varmap = init_params(&config, 1, &Device::Cpu).unwrap();
    from_bytes(&to_bytes(&varmap, &config).unwrap(), &Device::Cpu).unwrap()
}

/// `n` distinct images (a bar whose row is the digit, plus a dot that makes each image unique).
fn digits(n: usize, salt: usize) -> Dataset {
    let mut data = Dataset::default();
    for i in 0..n {
        let d = i % NUM_CLASSES;
        let mut img = [0u8; IMAGE_PIXELS];
        img[(4 + 2 * d) * 28 + 6..(4 + 2 * d) * 28 + 22].fill(255);
        img[(i * 7 + salt) % IMAGE_PIXELS] = 1 + (i / IMAGE_PIXELS) as u8;
        data.images.extend_from_slice(&img);
        data.labels.push(d as u8);
    }
    data
}

fn config(seed: u64) -> FinetuneConfig {
    FinetuneConfig {
        steps: 6,
        batch_size: 16,
        seed,
        ..FinetuneConfig::default()
    }
}

/// Every weight of a checkpoint, by name. (Not the bytes: safetensors writes the metadata map in
/// `HashMap` order, which differs between runs.)
fn weights(bytes: &[u8]) -> Vec<(String, Vec<f32>)> {
    let ck = from_bytes(bytes, &Device::Cpu).unwrap();
    let mut w: Vec<_> = (ck.tensors.iter())
        .map(|(k, t)| (k.clone(), t.flatten_all().unwrap().to_vec1::<f32>().unwrap()))
        .collect();
    w.sort_by(|a, b| a.0.cmp(&b.0));
    w
}

fn tuned(seed: u64) -> Vec<(String, Vec<f32>)> {
    let mut f = Finetune::new(&base(), &digits(40, 0), &digits(200, 3), &config(seed)).unwrap();
    assert_eq!(f.total_steps(), 6);
    f.run().unwrap();
    assert!(f.is_done());
    weights(&f.checkpoint().unwrap())
}

#[test]
fn same_seed_same_weights_other_seed_other_weights() {
    let a = tuned(5);
    assert!(a == tuned(5), "the same seed gives the same weights");
    assert!(a != tuned(6), "another seed gives other weights");
}

#[test]
fn the_base_model_is_never_modified() {
    // Tensors that are variables themselves (as a checkpoint made from a live `VarMap` holds):
    // the hard case, where sharing them would train the base in place.
    let model_config = ModelConfig {
        widths: [4, 8],
        ..ModelConfig::default()
    };
    let varmap = init_params(&model_config, 1, &Device::Cpu).unwrap();
    let tensors = (varmap.data().lock().unwrap().iter())
        .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
        .collect();
    let base = Checkpoint {
        config: model_config,
        tensors,
        metadata: Default::default(),
    };
    let bytes = |ck: &Checkpoint| {
        crate::checkpoint::tensors_to_bytes(ck.tensors.clone().into_iter().collect(), &ck.config).unwrap()
    };
    let before = weights(&bytes(&base));
    let mut f = Finetune::new(&base, &digits(40, 0), &digits(200, 3), &config(1)).unwrap();
    f.run().unwrap();
    assert!(weights(&bytes(&base)) == before, "the base checkpoint is unchanged");
    let tuned = from_bytes(&f.checkpoint().unwrap(), &Device::Cpu).unwrap();
    assert_eq!(tuned.config, base.config);
    assert!(
        weights(&f.checkpoint().unwrap()) != before,
        "the tuned weights differ from the base"
    );
}

#[test]
fn held_out_samples_are_never_tuned_on() {
    let samples = digits(47, 0);
    let f = Finetune::new(&base(), &samples, &digits(200, 3), &config(2)).unwrap();
    let (tuning, held) = (f.tuning(), f.held_out());
    assert_eq!(tuning.len() + held.len(), samples.len());
    // 47 samples: digits 0-6 have 5 (one held out each), 7-9 have 4 (one each).
    assert_eq!(held.len(), 10);
    let images = |d: &Dataset| (0..d.len()).map(|i| d.image(i).to_vec()).collect::<Vec<_>>();
    let tuning_images = images(tuning);
    for h in images(held) {
        assert!(!tuning_images.contains(&h), "a held-out sample is in the tuning set");
    }
}

#[test]
fn refuses_to_start_without_enough_samples_or_with_a_bad_config() {
    let mnist = digits(100, 3);
    let err = Finetune::new(&base(), &digits(7, 0), &mnist, &config(1)).err().unwrap();
    assert!(matches!(err, FinetuneError::TooFew { found: 7, .. }), "{err}");
    let no_nines = Dataset {
        images: digits(30, 0).images[..29 * IMAGE_PIXELS].to_vec(),
        labels: digits(30, 0).labels[..29].to_vec(),
    };
    let mut only_some = no_nines.clone();
    only_some.labels.iter_mut().filter(|l| **l == 9).for_each(|l| *l = 0);
    let err = Finetune::new(&base(), &only_some, &mnist, &config(1)).err().unwrap();
    assert!(err.to_string().contains("no samples of 9"), "{err}");

    let bad = |c: FinetuneConfig| Finetune::new(&base(), &digits(40, 0), &mnist, &c).err().unwrap();
    for c in [
        FinetuneConfig { steps: 0, ..config(1) },
        FinetuneConfig {
            replay_share: 1.0,
            ..config(1)
        },
        FinetuneConfig {
            held_out_share: 0.0,
            ..config(1)
        },
        FinetuneConfig {
            steps: usize::MAX,
            ..config(1)
        },
    ] {
        assert!(matches!(bad(c), FinetuneError::Invalid(_)));
    }
    // The learning rate is checked with the rest of the settings, before any data is read.
    for lr in [f64::NAN, -1.0, 0.0] {
        let err = FinetuneConfig { lr, ..config(1) }.validate().unwrap_err();
        assert!(format!("{err}").contains("learning rate"), "{err}");
        assert!(matches!(
            bad(FinetuneConfig { lr, ..config(1) }),
            FinetuneError::Invalid(_)
        ));
    }
}

#[test]
fn report_scores_base_and_tuned_on_both_sets() {
    let mut f = Finetune::new(&base(), &digits(40, 0), &digits(200, 3), &config(1)).unwrap();
    let test = digits(30, 5);
    let start = f.report(&test).unwrap();
    assert_eq!((start.held_out, start.mnist_images), (10, 30));
    assert_eq!((start.before, start.mnist_before), (start.after, start.mnist_after));
    f.run().unwrap();
    let end = f.report(&test).unwrap();
    assert_eq!((end.before, end.mnist_before), (start.before, start.mnist_before));
    assert!(matches!(f.report(&Dataset::default()), Err(FinetuneError::Invalid(_))));
}
