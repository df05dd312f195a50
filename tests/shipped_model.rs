//! The shipped weights (`www/model/`) must load into today's model and still reach the accuracy
//! recorded in their `metrics.json` — this catches architecture or preprocessing drift.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::fs;
use std::path::Path;

use candle_core::Device;
use vgg_mnist::checkpoint;
use vgg_mnist::data::{Dataset, TEST_IMAGES, TEST_LABELS};
use vgg_mnist::model::ModelConfig;
use vgg_mnist::train::evaluate;

#[test]
fn shipped_model_loads_and_reaches_its_recorded_accuracy() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("www/model");
    let bytes = fs::read(dir.join("vgg-mnist.safetensors")).expect("shipped weights exist");
    let recorded: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("metrics.json")).expect("shipped metrics exist")).unwrap();
    let recorded_accuracy = recorded["test_accuracy"].as_f64().unwrap();

    let device = Device::Cpu;
    let ck = checkpoint::from_bytes(&bytes, &device).expect("shipped weights load");
    ck.expect_config(&ModelConfig::default())
        .expect("the shipped model is the seed model");
    let model = ck.model(&device).unwrap();
    let data = common::data_dir();
    let test = Dataset::from_idx(
        TEST_IMAGES,
        &fs::read(data.join(TEST_IMAGES)).unwrap(),
        TEST_LABELS,
        &fs::read(data.join(TEST_LABELS)).unwrap(),
    )
    .unwrap();
    let eval = evaluate(&model, &test, &device).unwrap();
    // The recorded figure was measured on the whole test set; allow a few images of difference
    // for floating-point differences between the training device and this CPU.
    assert!(
        (eval.accuracy - recorded_accuracy).abs() <= 0.0005,
        "accuracy {} vs recorded {}",
        eval.accuracy,
        recorded_accuracy
    );
    assert!(
        eval.accuracy >= 0.995,
        "the shipped model must reach 99.5%, got {}",
        eval.accuracy
    );

    // The web app shows this recorded evaluation (matrix and every prediction) at page load:
    // it must be the shipped model's, up to the same rounding allowance.
    let recorded: vgg_mnist::evaluation::Evaluation =
        serde_json::from_slice(&fs::read(dir.join("evaluation.json")).expect("shipped evaluation exists")).unwrap();
    assert_eq!(recorded.predictions.len(), 10_000);
    let differ = recorded
        .predictions
        .iter()
        .zip(&eval.predictions)
        .filter(|(a, b)| a != b)
        .count();
    assert!(differ <= 5, "{differ} recorded predictions differ from today's");
    let mut cm = vgg_mnist::metrics::ConfusionMatrix::default();
    for (&t, &p) in test.labels.iter().zip(&recorded.predictions) {
        cm.add(t as usize, p as usize);
    }
    assert_eq!(
        cm, recorded.confusion,
        "the recorded matrix counts the recorded predictions"
    );
    assert!((recorded.accuracy - cm.accuracy()).abs() < 1e-12);
}
