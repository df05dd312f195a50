//! The fuzz targets' bodies: each feeds arbitrary bytes to one entry of the core that takes
//! untrusted input, and checks what must hold of whatever comes back. Shared by the cargo-fuzz
//! targets (`fuzz/fuzz_targets/*.rs`, nightly) and `tests/fuzz_corpus.rs` (stable), which
//! replays the committed corpora and every crash ever found, so a fixed crash stays fixed.
//!
//! A panic, an overflow (the fuzz build keeps overflow checks), an allocation past the fuzzer's
//! `-rss_limit_mb` or an input that runs past its `-timeout` is a finding.

use vgg_mnist::app::settings::{TrainSettings, WorkerBudget, MAX_WORKERS};
use vgg_mnist::data::{parse_images, parse_labels, Dataset, IMAGE_PIXELS, MAX_IDX_IMAGES, NUM_CLASSES};
use vgg_mnist::image_input::{decode_rgba, MAX_IMAGE_PIXELS};
use vgg_mnist::predictor::{PredictError, Predictor};
use vgg_mnist::preprocess;

/// IDX bytes (raw or gzip) → images, labels, or a pair of them (the input cut in two where its
/// first byte says): an error, or exactly as many items as the header announced.
pub fn idx(data: &[u8]) {
    if let Ok(pixels) = parse_images("fuzz", data) {
        assert_eq!(pixels.len() % IMAGE_PIXELS, 0);
        assert!(pixels.len() / IMAGE_PIXELS <= MAX_IDX_IMAGES);
    }
    if let Ok(labels) = parse_labels("fuzz", data) {
        assert!(labels.len() <= MAX_IDX_IMAGES);
        assert!(labels.iter().all(|&l| (l as usize) < NUM_CLASSES));
    }
    let cut = data.first().map_or(0, |&b| b as usize * data.len() / 256);
    if let Ok(d) = Dataset::from_idx("i", &data[..cut], "l", &data[cut..]) {
        assert_eq!(d.images.len(), d.len() * IMAGE_PIXELS);
    }
}

/// Checkpoint bytes → a model (the browser's upload path: `Predictor::from_bytes`) → one
/// prediction: an error, or a model within the budget whose probabilities are numbers summing to
/// one (finite weights can still be too large for f32 arithmetic: that is an error too).
pub fn checkpoint(data: &[u8]) {
    let Ok(predictor) = Predictor::from_bytes(data) else {
        return;
    };
    predictor
        .config()
        .validate()
        .expect("a loaded model is within the budget");
    match predictor.predict_digit(&[0.5; IMAGE_PIXELS]) {
        Ok(p) => {
            assert!(p.probabilities.iter().all(|v| v.is_finite() && *v >= 0.0));
            assert!((p.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-3);
        }
        Err(PredictError::NotFinite) => {}
        Err(e) => panic!("a loaded model failed to predict: {e}"),
    }
}

/// Image file bytes → RGBA → the 28x28 model input: an error, or pixels within the limit and an
/// input of intensities in 0..=1.
pub fn image(data: &[u8]) {
    let Ok((rgba, width, height)) = decode_rgba(data) else {
        return;
    };
    assert_eq!(rgba.len(), width * height * 4);
    assert!((width * height) as u64 <= MAX_IMAGE_PIXELS);
    if let Ok(digit) = preprocess::from_rgba(&rgba, width, height) {
        assert!(digit.iter().all(|v| (0.0..=1.0).contains(v)), "{digit:?}");
    }
}

/// A URL query (after a first byte giving the core count, whose low four bits are also taken as
/// the device's memory in GB, 0 = not reported) → the page's training settings: never an error,
/// always clamped, never more workers than the memory allows, and always a run the trainer
/// accepts.
pub fn settings(data: &[u8]) {
    let (cores, query) = data.split_first().map_or((1, &[][..]), |(c, q)| (*c as usize, q));
    let query = String::from_utf8_lossy(query);
    let memory_gb = Some((cores % 16) as f64).filter(|&gb| gb > 0.0);
    let budget = WorkerBudget::new(cores, memory_gb);
    let s = TrainSettings::from_query_on(&query, budget);
    assert_eq!(s.clone().clamped(), s);
    assert!((1..=MAX_WORKERS).contains(&s.workers));
    if let Some(cap) = budget.memory_cap {
        assert!(s.workers <= cap.max(1), "{} workers on {memory_gb:?} GB", s.workers);
    }
    s.train_config()
        .validate(&s.width.model_config())
        .expect("URL settings always make a run the trainer accepts");
    assert_eq!(
        TrainSettings::from_query(&query).clone().clamped(),
        TrainSettings::from_query(&query)
    );
}
