//! Tests of the checkpoint format: round trips, and every way a file is refused.

use super::*;
use crate::model::init_params;
use candle_core::Module;

#[test]
fn round_trip_keeps_weights_and_outputs() {
    let config = ModelConfig::small();
    let dev = Device::Cpu;
    let varmap = init_params(&config, 5, &dev).unwrap();
    let bytes = to_bytes(&varmap, &config).unwrap();
    let ck = from_bytes(&bytes, &dev).unwrap();
    assert_eq!(ck.config, config);
    assert_eq!(ck.metadata[FORMAT_KEY], FORMAT);
    let a = Vgg::new(&config, VarBuilder::from_varmap(&varmap, DType::F32, &dev)).unwrap();
    let b = ck.model(&dev).unwrap();
    let xs = Tensor::ones((2, 1, 28, 28), DType::F32, &dev).unwrap();
    let diff = (a.forward(&xs).unwrap() - b.forward(&xs).unwrap())
        .unwrap()
        .abs()
        .unwrap();
    assert_eq!(diff.max_all().unwrap().to_scalar::<f32>().unwrap(), 0.0);
}

#[test]
fn rejects_mismatches_with_named_errors() {
    let dev = Device::Cpu;
    let small = ModelConfig::small();
    let varmap = init_params(&small, 1, &dev).unwrap();
    // Claim it is the seed model: the first conv's shape no longer fits.
    let bad = tensors_to_bytes(
        varmap
            .data()
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
            .collect(),
        &ModelConfig::default(),
    )
    .unwrap();
    let err = from_bytes(&bad, &dev).unwrap_err().to_string();
    assert!(
        err.contains("block1.conv1.weight") && err.contains("[8, 1, 3, 3]") && err.contains("[32, 1, 3, 3]"),
        "{err}"
    );

    let ck = from_bytes(&to_bytes(&varmap, &small).unwrap(), &dev).unwrap();
    let err = ck.expect_config(&ModelConfig::default()).unwrap_err().to_string();
    assert!(err.contains("[8, 16]") && err.contains("[32, 64]"), "{err}");

    let err = from_bytes(b"definitely not safetensors", &dev).unwrap_err();
    assert!(matches!(err, CheckpointError::Corrupt(_)), "{err}");

    let plain = safetensors::serialize([("x", &Tensor::zeros(3, DType::F32, &dev).unwrap())], None).unwrap();
    assert!(matches!(
        from_bytes(&plain, &dev).unwrap_err(),
        CheckpointError::NoConfig
    ));
}

/// The small model's tensors, each passed through `edit`, in a file with `metadata`.
fn small_file(metadata: HashMap<String, String>, edit: impl Fn(&str, Tensor) -> Tensor) -> Vec<u8> {
    let dev = Device::Cpu;
    let varmap = init_params(&ModelConfig::small(), 2, &dev).unwrap();
    let tensors: Vec<(String, Tensor)> = varmap
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), edit(k, v.as_tensor().clone())))
        .collect();
    safetensors::serialize(tensors.iter().map(|(k, t)| (k.as_str(), t)), Some(metadata)).unwrap()
}

fn small_metadata() -> HashMap<String, String> {
    HashMap::from([
        (FORMAT_KEY.to_string(), FORMAT.to_string()),
        (
            CONFIG_KEY.to_string(),
            serde_json::to_string(&ModelConfig::small()).unwrap(),
        ),
    ])
}

#[test]
fn the_unedited_helper_file_loads() {
    from_bytes(&small_file(small_metadata(), |_, t| t), &Device::Cpu).unwrap();
}

#[test]
fn other_dtypes_are_refused_not_converted() {
    // An F64 value above f32's range used to load as inf.
    let bytes = small_file(small_metadata(), |k, t| {
        let t = t.to_dtype(DType::F64).unwrap();
        if k == "head.bias" {
            (t + 1e300).unwrap()
        } else {
            t
        }
    });
    let err = from_bytes(&bytes, &Device::Cpu).unwrap_err();
    assert!(
        matches!(err, CheckpointError::UnsupportedDtype { ref dtype, .. } if dtype == "F64"),
        "{err}"
    );
    assert!(err.to_string().contains("F32 weights only"), "{err}");
    let half = small_file(small_metadata(), |_, t| t.to_dtype(DType::F16).unwrap());
    assert!(matches!(
        from_bytes(&half, &Device::Cpu),
        Err(CheckpointError::UnsupportedDtype { .. })
    ));
}

#[test]
fn non_finite_weights_are_refused_naming_the_tensor() {
    let bytes = small_file(small_metadata(), |k, t| {
        if k == "block2.conv1.bias" {
            (t + f64::INFINITY).unwrap()
        } else {
            t
        }
    });
    let err = from_bytes(&bytes, &Device::Cpu).unwrap_err().to_string();
    assert!(
        err.contains("`block2.conv1.bias`") && err.contains("inf at index 0"),
        "{err}"
    );
    // Writing refuses them in the same words: a blown-up snapshot is never stored.
    let nan = Tensor::new(&[0f32, f32::NAN], &Device::Cpu).unwrap();
    let err = tensors_to_bytes(vec![("head.bias".into(), nan)], &ModelConfig::small()).unwrap_err();
    assert!(matches!(err, CheckpointError::NonFinite { index: 1, .. }), "{err}");
    assert!(err.to_string().contains("`head.bias`"), "{err}");
}

#[test]
fn the_format_key_is_checked() {
    let mut meta = small_metadata();
    meta.insert(FORMAT_KEY.into(), "pt".into());
    let err = from_bytes(&small_file(meta.clone(), |_, t| t), &Device::Cpu).unwrap_err();
    assert!(err.to_string().contains("format is `pt`, not `vgg-mnist/1`"), "{err}");
    meta.remove(FORMAT_KEY);
    let err = from_bytes(&small_file(meta, |_, t| t), &Device::Cpu).unwrap_err();
    assert!(
        matches!(&err, CheckpointError::BadFormat { found } if found == "missing"),
        "{err}"
    );
}

#[test]
fn configs_past_the_budget_and_oversized_files_are_refused() {
    let mut meta = small_metadata();
    let enormous = ModelConfig {
        widths: [1024, 1024],
        convs_per_block: 4,
        hidden: 0,
    };
    meta.insert(CONFIG_KEY.into(), serde_json::to_string(&enormous).unwrap());
    let err = from_bytes(&small_file(meta, |_, t| t), &Device::Cpu).unwrap_err();
    assert!(
        matches!(err, CheckpointError::BadConfig(ref m) if m.contains("multiply-adds")),
        "{err}"
    );
    let err = from_bytes(&vec![0; MAX_CHECKPOINT_BYTES + 1], &Device::Cpu).unwrap_err();
    assert!(matches!(err, CheckpointError::TooLarge { .. }), "{err}");
}

/// The upload limit fits the largest model the budget admits: a config just under
/// MAX_PARAMS (its hidden layer carries the parameters) round-trips within it.
#[test]
fn the_largest_admitted_model_fits_the_upload_limit() {
    let config = ModelConfig {
        widths: [32, 64],
        convs_per_block: 2,
        hidden: 600,
    };
    config.validate().unwrap();
    let past = ModelConfig {
        hidden: 640,
        ..config.clone()
    };
    assert!(past.validate().is_err(), "{} parameters", past.num_params());
    assert!(config.num_params() > MAX_PARAMS * 9 / 10, "{}", config.num_params());
    let bytes = to_bytes(&init_params(&config, 0, &Device::Cpu).unwrap(), &config).unwrap();
    assert!(bytes.len() <= MAX_CHECKPOINT_BYTES, "{} bytes", bytes.len());
    assert_eq!(from_bytes(&bytes, &Device::Cpu).unwrap().config, config);
}
