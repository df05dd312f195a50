//! Fine-tuning teaches the shipped model a consistent "handwriting" it gets wrong, without
//! forgetting MNIST: digits all rotated by 35° (beyond the augmentation's ±10°), 60 of them as
//! "My digits" (the recipe tunes on 50, holds out 10).
//!
//! Cost (debug build, 2 cores): one fine-tune of the seed model (1,280 training images) and
//! about 10,000 image evaluations: 18 s, 69 s while other builds shared the cores. The MNIST check scores 4,000 test images, so
//! the 0.5-point bound is 20 images: a real margin, not noise at the level of single images.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::fs;
use std::path::Path;

use candle_core::Device;
use vgg_mnist::augment::Affine;
use vgg_mnist::checkpoint;
use vgg_mnist::data::{Dataset, TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};
use vgg_mnist::finetune::{Finetune, FinetuneConfig};
use vgg_mnist::train::evaluate;

fn read(name: &str) -> Vec<u8> {
    fs::read(common::data_dir().join(name)).unwrap()
}

#[test]
fn rotated_handwriting_improves_while_mnist_stays_within_half_a_point() {
    let device = Device::Cpu;
    let weights = Path::new(env!("CARGO_MANIFEST_DIR")).join("www/model/vgg-mnist.safetensors");
    let base = checkpoint::from_bytes(&fs::read(weights).unwrap(), &device).unwrap();
    let test = Dataset::from_idx(TEST_IMAGES, &read(TEST_IMAGES), TEST_LABELS, &read(TEST_LABELS)).unwrap();
    let train = Dataset::from_idx(TRAIN_IMAGES, &read(TRAIN_IMAGES), TRAIN_LABELS, &read(TRAIN_LABELS)).unwrap();

    // Disjoint parts of the test set: the samples (6 of each digit among the first 1,000), 1,000
    // more images of the same style never shown to the recipe, and 4,000 upright images.
    let mut taken = [0; 10];
    let picked: Vec<usize> = (0..1000)
        .filter(|&i| {
            let d = test.labels[i] as usize;
            taken[d] += 1;
            taken[d] <= 6
        })
        .collect();
    assert_eq!(picked.len(), 60);
    let rotated = Affine {
        rotate_deg: 35.0,
        ..Affine::default()
    };
    let samples = rotated.apply_to_dataset(&test.select(&picked));
    let unseen = rotated.apply_to_dataset(&test.select(&(1000..2000).collect::<Vec<_>>()));
    let mnist = test.select(&(6000..10_000).collect::<Vec<_>>());

    let mut tune = Finetune::new(&base, &samples, &train, &FinetuneConfig::default()).unwrap();
    tune.run().unwrap();
    let report = tune.report(&mnist).unwrap();
    let base_model = base.model(&device).unwrap();
    let unseen_before = evaluate(&base_model, &unseen, &device).unwrap().accuracy;
    let unseen_after = evaluate(tune.model(), &unseen, &device).unwrap().accuracy;
    eprintln!("{report:?}; 1,000 unseen rotated: {unseen_before} -> {unseen_after}");

    assert_eq!((report.held_out, report.mnist_images), (10, 4000));
    // Measured: 84-86% -> 91-94% on 2,000 such images over three seeds (README).
    assert!(
        unseen_after >= unseen_before + 0.04,
        "the rotated style improves clearly: {unseen_before} -> {unseen_after}"
    );
    assert!(
        report.after >= report.before,
        "held-out samples: {} -> {}",
        report.before,
        report.after
    );
    assert!(
        report.mnist_after >= report.mnist_before - 0.005,
        "MNIST within half a point: {} -> {}",
        report.mnist_before,
        report.mnist_after
    );
}
