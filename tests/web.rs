//! Tests of the web-only code, run in headless Chromium by wasm-bindgen-test
//! (`scripts/test-browser.sh`). Natively this file is empty.
#![cfg(target_arch = "wasm32")]

use std::rc::Rc;

use candle_core::Device;
use vgg_mnist::checkpoint;
use vgg_mnist::model::{init_params, ModelConfig};
use vgg_mnist::web::model_source::ModelSource;
use vgg_mnist::web::prediction_view::{PredictionView, PredictionViewProps};
use vgg_mnist::web::predictor::{PredictError, Predictor};
use vgg_mnist::web::settings::{TrainSettings, WidthPreset};
use vgg_mnist::web::state::{Action, AppState, ErrorKind};
use vgg_mnist::web::{fetch, storage};
use wasm_bindgen_test::*;
use yew::Reducible;

wasm_bindgen_test_configure!(run_in_browser);

fn small_model_bytes() -> Vec<u8> {
    let config = ModelConfig::small();
    let varmap = init_params(&config, 7, &Device::Cpu).expect("init");
    checkpoint::to_bytes(&varmap, &config).expect("serialise")
}

/// A white canvas with a black vertical bar, as RGBA.
fn bar_drawing(side: usize) -> Vec<u8> {
    let mut rgba = vec![255u8; side * side * 4];
    for y in side / 5..side * 4 / 5 {
        for x in side * 9 / 20..side * 11 / 20 {
            rgba[(y * side + x) * 4..(y * side + x) * 4 + 3].fill(0);
        }
    }
    rgba
}

#[wasm_bindgen_test]
fn query_parameters_preset_the_settings() {
    let s = TrainSettings::from_query("?train_size=5000&epochs=1&batch=64&autostart=1&width=seed");
    assert_eq!(s.train_size, 5000);
    assert_eq!(s.epochs, 1);
    assert_eq!(s.batch_size, 64);
    assert_eq!(s.width, WidthPreset::Seed);
    assert!(s.autostart);
    // Garbage keeps defaults; out-of-range values are clamped.
    let d = TrainSettings::default();
    let s = TrainSettings::from_query("?epochs=abc&lr=-1&train_size=99999999&junk");
    assert_eq!((s.epochs, s.lr, s.train_size), (d.epochs, d.lr, 60_000));
    assert!(!TrainSettings::from_query("").autostart);
    // Workers: one per core up to four unless the query says; clamped to 1..=8.
    assert_eq!(TrainSettings::from_query_on("", 2).workers, 2);
    assert_eq!(TrainSettings::from_query_on("", 16).workers, 4);
    assert_eq!(TrainSettings::from_query_on("?workers=1", 16).workers, 1);
    assert_eq!(TrainSettings::from_query_on("?workers=0", 2).workers, 1);
    assert_eq!(TrainSettings::from_query_on("?workers=99", 2).workers, 8);
}

#[wasm_bindgen_test]
fn predictor_reads_a_drawing_and_refuses_an_empty_one() {
    let p = Predictor::from_bytes(&small_model_bytes()).expect("valid checkpoint");
    let pred = p.predict_rgba(&bar_drawing(140), 140, 140).expect("prediction");
    assert_eq!(pred.probabilities.len(), 10);
    assert!((pred.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-4);
    assert!(pred.digit < 10 && pred.latency_ms >= 0.0);
    // The bar lands in the middle of the 28x28 input.
    assert!(pred.input[14 * 28 + 14] > 0.5);
    let blank = vec![255u8; 140 * 140 * 4];
    assert!(matches!(p.predict_rgba(&blank, 140, 140), Err(PredictError::Empty)));
    assert!(p.predict_rgba(&blank, 10, 10).is_err());
}

#[wasm_bindgen_test]
fn a_bad_upload_is_an_error_and_keeps_the_model() {
    let state = Rc::new(AppState::default()).reduce(Action::ModelBytes {
        source: ModelSource::Pretrained,
        bytes: Rc::new(small_model_bytes()),
        activate: false,
    });
    assert_eq!(state.source, Some(ModelSource::Pretrained));
    let state = state.reduce(Action::ModelBytes {
        source: ModelSource::Uploaded,
        bytes: Rc::new(b"not a model".to_vec()),
        activate: true,
    });
    let error = state.error.as_ref().expect("an error is shown");
    assert_eq!(error.kind, ErrorKind::Upload);
    assert!(error.message.contains("safetensors"), "{}", error.message);
    assert_eq!(state.source, Some(ModelSource::Pretrained));
    assert!(state.models.get(ModelSource::Uploaded).is_none());
}

#[wasm_bindgen_test]
async fn trained_weights_survive_in_indexeddb() {
    let bytes = small_model_bytes();
    storage::save_trained(&bytes).await.expect("save");
    let loaded = storage::load_trained().await.expect("load");
    assert_eq!(loaded.as_deref(), Some(bytes.as_slice()));
}

#[wasm_bindgen_test]
async fn fetch_failures_name_the_url() {
    let err = fetch::fetch_bytes("/no/such/file.gz").await.unwrap_err();
    assert!(err.contains("/no/such/file.gz") && err.contains("404"), "{err}");
}

#[wasm_bindgen_test]
async fn prediction_view_follows_the_dom_contract() {
    let document = web_sys::window().and_then(|w| w.document()).expect("document");
    let root = document.create_element("div").expect("div");
    document.body().expect("body").append_child(&root).expect("append");
    let props = PredictionViewProps {
        prediction: None,
        placeholder: "draw a digit".into(),
    };
    let handle = yew::Renderer::<PredictionView>::with_root_and_props(root.clone(), props).render();
    // Rendering is scheduled; let it run.
    gloo_timers::future::TimeoutFuture::new(20).await;
    let prediction = root
        .query_selector("[data-testid=prediction]")
        .ok()
        .flatten()
        .expect("prediction element");
    assert_eq!(prediction.get_attribute("data-digit").as_deref(), Some(""));
    assert!(prediction.text_content().unwrap_or_default().contains("draw a digit"));
    for d in 0..10 {
        let bar = root
            .query_selector(&format!("[data-testid=prob-{d}]"))
            .ok()
            .flatten()
            .expect("probability bar");
        assert_eq!(bar.get_attribute("data-value").as_deref(), Some("0.0000"));
    }
    assert!(root
        .query_selector("canvas[data-testid=model-input]")
        .ok()
        .flatten()
        .is_some());
    handle.destroy();
}
