//! Tests of the web-only code (what needs a browser's APIs: IndexedDB, fetch, the DOM, the
//! helper messages' JS wire form), run in headless Chromium by wasm-bindgen-test
//! (`scripts/test-browser.sh`). Natively this file is empty; the app's logic without the DOM
//! (`src/app/`) is tested natively.
#![cfg(target_arch = "wasm32")]

use std::borrow::Cow;
use std::rc::Rc;

use candle_core::Device;
use vgg_mnist::app::helper_protocol::{FromHelper, ToHelper, Update};
use vgg_mnist::app::model_history::{BrokenEntry, ModelEntry, ModelKind, StoredModel};
use vgg_mnist::app::settings::TrainSettings;
use vgg_mnist::checkpoint;
use vgg_mnist::model::{init_params, ModelConfig};
use vgg_mnist::train::Gradients;
use vgg_mnist::web::prediction_view::{PredictionView, PredictionViewProps};
use vgg_mnist::web::{fetch, storage};
use wasm_bindgen::JsValue;
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn small_model_bytes() -> Vec<u8> {
    let config = ModelConfig::small();
    let varmap = init_params(&config, 7, &Device::Cpu).expect("init");
    checkpoint::to_bytes(&varmap, &config).expect("serialise")
}

#[wasm_bindgen_test]
fn helper_messages_round_trip_through_their_wire_form() {
    let settings = TrainSettings {
        workers: 2,
        ..TrainSettings::default()
    };
    let messages = [
        ToHelper::Init {
            settings,
            images: Cow::Owned((0..=255).cycle().take(2 * 784).collect()),
            labels: Cow::Owned(vec![3, 9]),
            stream: 2,
        },
        ToHelper::Step {
            update: None,
            indices: Cow::Owned(vec![5, 0, 59_999]),
        },
        ToHelper::Step {
            update: Some(Update {
                lr: 0.0125,
                mean: Cow::Owned(vec![0.5, -1e-7, f32::MAX]),
            }),
            indices: Cow::Owned(vec![]),
        },
    ];
    for m in messages {
        assert_eq!(ToHelper::decode(&m.encode().message.into()).as_ref(), Ok(&m));
    }
    let replies = [
        FromHelper::Ready,
        FromHelper::Failed("could not load: 404".into()),
        FromHelper::Grads(Gradients {
            values: vec![1.0, 2.5, -3.0],
            loss_sum: 12.75,
            correct: 7,
            images: 9,
        }),
    ];
    for r in replies {
        assert_eq!(FromHelper::decode(&r.encode().message.into()), r);
    }
    // Nonsense is an error, never a panic.
    let junk = wasm_bindgen::JsValue::from_str("junk");
    assert!(ToHelper::decode(&junk).is_err());
    assert!(matches!(FromHelper::decode(&junk), FromHelper::Failed(_)));
    let step_without_indices = js_sys::Object::new();
    js_sys::Reflect::set(&step_without_indices, &"kind".into(), &"step".into()).unwrap();
    assert_eq!(
        ToHelper::decode(&step_without_indices.into()),
        Err("a step without indices".to_string())
    );
    let short = ToHelper::Init {
        settings: TrainSettings::default(),
        images: Cow::Owned(vec![0; 783]),
        labels: Cow::Owned(vec![1]),
        stream: 0,
    };
    let err = ToHelper::decode(&short.encode().message.into()).unwrap_err();
    assert!(err.contains("783 pixels for 1 labels"), "{err}");
}

#[wasm_bindgen_test]
async fn the_model_list_survives_in_indexeddb_and_damaged_records_are_named() {
    let weights = Rc::new(small_model_bytes());
    let model = StoredModel {
        entry: ModelEntry {
            id: "trained-42".into(),
            kind: ModelKind::Trained,
            name: "a run".into(),
            created_ms: 42.0,
            config: ModelConfig::small(),
            bytes: weights.len(),
            test_accuracy: Some(0.97),
            test_images: 1000,
            settings: Some(TrainSettings::default()),
            note: None,
        },
        weights,
        evaluation: None,
    };
    storage::put_model(&model).await.expect("save");
    storage::save_selected("trained-42").await.expect("save the selection");
    // A damaged record and one in version 1's form (weights alone under `trained`).
    storage::put(storage::MODELS, "junk", &JsValue::from_str("not a record"))
        .await
        .expect("put");
    let legacy = js_sys::Uint8Array::from(&small_model_bytes()[..]);
    storage::put(storage::MODELS, "trained", &legacy).await.expect("put");

    let stored = storage::load_models().await.expect("load");
    let good: Vec<&StoredModel> = stored.models.iter().filter_map(|m| m.as_ref().ok()).collect();
    assert_eq!(good, [&model]);
    let broken: Vec<&BrokenEntry> = stored.models.iter().filter_map(|m| m.as_ref().err()).collect();
    assert_eq!(broken.len(), 1);
    assert_eq!(
        (broken[0].id.as_str(), broken[0].reason.as_str()),
        ("junk", "no description")
    );
    assert_eq!(stored.legacy, [small_model_bytes()]);
    assert_eq!(storage::load_selected().await.unwrap().as_deref(), Some("trained-42"));

    for id in ["trained-42", "junk", "trained"] {
        storage::delete_model(id).await.expect("delete");
    }
    assert!(storage::load_models().await.unwrap().keys.is_empty());
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
        on_correct: Default::default(),
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
