//! End-to-end tests of the CLI on small data: the files a run writes, and that every user error
//! is a one-line message with exit code 1 rather than a panic.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use std::fs;
use std::path::Path;

use common::{assert_user_error, cli, data_dir, stdout};
use vgg_mnist::data::{TEST_IMAGES, TEST_LABELS, TRAIN_IMAGES, TRAIN_LABELS};

fn tiny_run(out: &Path) {
    let o = cli(&[
        "train",
        "--epochs",
        "2",
        "--limit-train",
        "512",
        "--limit-test",
        "300",
        "--widths",
        "4,8",
        "--batch-size",
        "64",
        "--seed",
        "3",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "train failed: {}", common::stderr(&o));
    assert!(stdout(&o).contains("test accuracy"));
}

#[test]
fn train_writes_weights_metrics_and_plots_and_eval_reads_them() {
    let dir = tempfile::tempdir().unwrap();
    tiny_run(dir.path());
    for f in [
        "model.safetensors",
        "metrics.json",
        "confusion_matrix.png",
        "confusion_matrix.svg",
        "training_curves.png",
    ] {
        let len = fs::metadata(dir.path().join(f)).map(|m| m.len()).unwrap_or(0);
        assert!(len > 100, "{f} missing or empty");
    }
    let m: serde_json::Value = serde_json::from_slice(&fs::read(dir.path().join("metrics.json")).unwrap()).unwrap();
    let acc = m["test_accuracy"].as_f64().unwrap();
    assert!((0.0..=1.0).contains(&acc));
    let cm = m["confusion_matrix"].as_array().unwrap();
    assert_eq!(cm.len(), 10);
    let total: u64 = cm
        .iter()
        .flat_map(|r| r.as_array().unwrap())
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, 300);
    let diagonal: u64 = (0..10).map(|i| cm[i][i].as_u64().unwrap()).sum();
    assert!(
        (diagonal as f64 / 300.0 - acc).abs() < 1e-9,
        "accuracy agrees with the matrix"
    );
    assert_eq!(m["per_class"].as_array().unwrap().len(), 10);
    assert_eq!(m["epochs"], 2);
    assert_eq!(m["seed"], 3);
    assert_eq!(m["device"], "cpu");
    assert!(m["train_images_per_second"].as_f64().unwrap() > 0.0);
    assert_eq!(m["config"]["model"]["widths"], serde_json::json!([4, 8]));
    assert_eq!(m["history"].as_array().unwrap().len(), 2);
    // 2 epochs of 512 images beat chance by far even for this tiny network.
    assert!(acc > 0.3, "accuracy {acc}");

    let model = dir.path().join("model.safetensors");
    let o = cli(&["eval", "--model", model.to_str().unwrap(), "--limit-test", "300"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(
        stdout(&o).contains(&format!("test accuracy {:.2}%", 100.0 * acc)),
        "{}",
        stdout(&o)
    );
}

#[test]
fn predict_reads_images_and_reports_empty_ones() {
    let dir = tempfile::tempdir().unwrap();
    tiny_run(dir.path());
    let model = dir.path().join("model.safetensors");
    // A real MNIST test digit, scaled up 4x and inverted to dark-on-light like a scan.
    let mnist = vgg_mnist::data::Dataset::from_idx(
        TEST_IMAGES,
        &fs::read(data_dir().join(TEST_IMAGES)).unwrap(),
        TEST_LABELS,
        &fs::read(data_dir().join(TEST_LABELS)).unwrap(),
    )
    .unwrap();
    let img = image::GrayImage::from_fn(112, 112, |x, y| {
        image::Luma([255 - mnist.image(0)[(y / 4 * 28 + x / 4) as usize]])
    });
    let digit = dir.path().join("digit.png");
    img.save(&digit).unwrap();
    let blank = dir.path().join("blank.png");
    image::GrayImage::from_pixel(50, 50, image::Luma([255]))
        .save(&blank)
        .unwrap();

    let o = cli(&["predict", "--model", model.to_str().unwrap(), digit.to_str().unwrap()]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let line = stdout(&o);
    assert!(
        line.starts_with(&format!("{}: ", digit.display())) && line.matches('%').count() == 3,
        "{line}"
    );

    let o = cli(&["predict", "--model", model.to_str().unwrap(), blank.to_str().unwrap()]);
    assert_user_error(&o, "nothing drawn");
    let o = cli(&["predict", "--model", model.to_str().unwrap(), "no-such.png"]);
    assert_user_error(&o, "no-such.png");
}

fn data_copy_with(dir: &Path, name: &str, bytes: &[u8]) -> String {
    for f in [TRAIN_IMAGES, TRAIN_LABELS, TEST_IMAGES, TEST_LABELS] {
        fs::copy(data_dir().join(f), dir.join(f)).unwrap();
    }
    fs::write(dir.join(name), bytes).unwrap();
    dir.to_str().unwrap().to_string()
}

#[test]
fn bad_data_gives_one_line_errors() {
    let o = cli(&["train", "--data-dir", "/no/such/dir", "--quiet"]);
    assert_user_error(&o, "data directory /no/such/dir not found");

    let dir = tempfile::tempdir().unwrap();
    let labels = fs::read(data_dir().join(TEST_LABELS)).unwrap();
    let d = data_copy_with(dir.path(), TEST_LABELS, &labels[..labels.len() / 2]);
    let o = cli(&["train", "--data-dir", &d, "--quiet"]);
    assert_user_error(&o, TEST_LABELS);

    // A raw (uncompressed) file with a wrong magic number: a labels header where images belong.
    let mut raw = 2049u32.to_be_bytes().to_vec();
    raw.extend(10u32.to_be_bytes());
    raw.extend([0u8; 10]);
    let d = data_copy_with(dir.path(), TEST_IMAGES, &raw);
    let o = cli(&["train", "--data-dir", &d, "--quiet"]);
    assert_user_error(&o, "wrong magic number 2049 (expected 2051)");

    let d = data_copy_with(dir.path(), TRAIN_IMAGES, b"");
    let o = cli(&["train", "--data-dir", &d, "--quiet"]);
    assert_user_error(&o, "truncated");
}

#[test]
fn bad_flags_and_checkpoints_give_one_line_errors() {
    assert_user_error(&cli(&["train", "--widths", "8", "--quiet"]), "--widths takes two");
    assert_user_error(&cli(&["train", "--widths", "0,8", "--quiet"]), "must be positive");
    assert_user_error(
        &cli(&["train", "--lr=-1", "--limit-train", "10", "--quiet"]),
        "learning rate",
    );
    if !cfg!(feature = "cuda") {
        assert_user_error(&cli(&["train", "--device", "cuda", "--quiet"]), "--features cuda");
    }

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.safetensors");
    fs::write(&bad, b"not a checkpoint").unwrap();
    assert_user_error(
        &cli(&["eval", "--model", bad.to_str().unwrap()]),
        "not a valid safetensors file",
    );

    // Weights of the small model labelled as the seed model: shapes do not fit.
    let cfg = vgg_mnist::model::ModelConfig::small();
    let vm = vgg_mnist::model::init_params(&cfg, 0, &candle_core::Device::Cpu).unwrap();
    let tensors = vm
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_tensor().clone()))
        .collect();
    let bytes = vgg_mnist::checkpoint::tensors_to_bytes(tensors, &vgg_mnist::model::ModelConfig::default()).unwrap();
    fs::write(&bad, bytes).unwrap();
    assert_user_error(
        &cli(&["eval", "--model", bad.to_str().unwrap()]),
        "checkpoint tensor `block1.conv1.weight` has shape [8, 1, 3, 3] but the model expects [32, 1, 3, 3]",
    );
    assert_user_error(&cli(&["eval", "--model", "missing.safetensors"]), "missing.safetensors");
}

/// A fresh (untrained) small model's checkpoint and MNIST's first test digit (a 7) as a PNG,
/// scaled up 4x and dark-on-light, in `dir`.
fn small_model_and_digit(dir: &Path) -> (String, String) {
    let config = vgg_mnist::model::ModelConfig::small();
    let vm = vgg_mnist::model::init_params(&config, 0, &candle_core::Device::Cpu).unwrap();
    let model = dir.join("small.safetensors");
    fs::write(&model, vgg_mnist::checkpoint::to_bytes(&vm, &config).unwrap()).unwrap();
    let mnist = vgg_mnist::data::Dataset::from_idx(
        TEST_IMAGES,
        &fs::read(data_dir().join(TEST_IMAGES)).unwrap(),
        TEST_LABELS,
        &fs::read(data_dir().join(TEST_LABELS)).unwrap(),
    )
    .unwrap();
    let img = image::GrayImage::from_fn(112, 112, |x, y| {
        image::Luma([255 - mnist.image(0)[(y / 4 * 28 + x / 4) as usize]])
    });
    let digit = dir.join("digit.png");
    img.save(&digit).unwrap();
    (model.to_str().unwrap().into(), digit.to_str().unwrap().into())
}

#[test]
fn explain_writes_one_png_of_the_models_layout() {
    let dir = tempfile::tempdir().unwrap();
    let (model, digit) = small_model_and_digit(dir.path());
    let out = dir.path().join("explain.png");
    let o = cli(&["explain", "--model", &model, &digit, "--out", out.to_str().unwrap()]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(stdout(&o).contains("(1000x1052)"), "{}", stdout(&o));
    // The small model (8 and 16 channels: one row of tiles per layer) gives a 1000x1052 figure.
    let png = image::open(&out).unwrap().to_rgb8();
    assert_eq!(png.dimensions(), (1000, 1052));
    // Heat-maps, not a blank page: many distinct colours.
    let colours: std::collections::HashSet<[u8; 3]> = png.pixels().map(|p| p.0).collect();
    assert!(colours.len() > 100, "{} colours", colours.len());

    // The shipped seed model: 32 and 64 channels, two and four rows of tiles per layer.
    let o = cli(&[
        "explain",
        "--model",
        "www/model/vgg-mnist.safetensors",
        &digit,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(
        stdout(&o).contains(": 7 ("),
        "the shipped model reads the 7: {}",
        stdout(&o)
    );
    assert_eq!(image::open(&out).unwrap().to_rgb8().dimensions(), (1000, 1772));
}

#[test]
fn explain_reports_bad_input_in_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let (model, digit) = small_model_and_digit(dir.path());
    let not_png = dir.path().join("text.png");
    fs::write(&not_png, "not an image").unwrap();
    assert_user_error(
        &cli(&["explain", "--model", &model, not_png.to_str().unwrap()]),
        "text.png",
    );
    assert_user_error(&cli(&["explain", "--model", &model, "no-such.png"]), "no-such.png");
    let blank = dir.path().join("blank.png");
    image::GrayImage::from_pixel(40, 40, image::Luma([255]))
        .save(&blank)
        .unwrap();
    assert_user_error(
        &cli(&["explain", "--model", &model, blank.to_str().unwrap()]),
        "nothing drawn",
    );
    assert_user_error(
        &cli(&["explain", "--model", &digit, &digit]),
        "not a valid safetensors file",
    );
    let out = dir.path().join("no-such-dir/explain.png");
    assert_user_error(
        &cli(&["explain", "--model", &model, &digit, "--out", out.to_str().unwrap()]),
        "no-such-dir",
    );
    assert!(!dir.path().join("explain.png").exists());
}

/// `per_digit` MNIST test images of each digit as a My-digits pair in `dir`; returns `dir`.
fn my_digits(dir: &Path, per_digit: usize, skip_digit: Option<u8>) -> String {
    use vgg_mnist::data::{to_idx_gz, Dataset, MY_DIGITS_IMAGES, MY_DIGITS_LABELS};
    let test = Dataset::from_idx(
        TEST_IMAGES,
        &fs::read(data_dir().join(TEST_IMAGES)).unwrap(),
        TEST_LABELS,
        &fs::read(data_dir().join(TEST_LABELS)).unwrap(),
    )
    .unwrap();
    let mut taken = [0; 10];
    let picked: Vec<usize> = (0..test.len())
        .filter(|&i| {
            let d = test.labels[i];
            let keep = Some(d) != skip_digit && taken[d as usize] < per_digit;
            taken[d as usize] += usize::from(keep);
            keep
        })
        .collect();
    let (images, labels) = to_idx_gz(&test.select(&picked)).unwrap();
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join(MY_DIGITS_IMAGES), images).unwrap();
    fs::write(dir.join(MY_DIGITS_LABELS), labels).unwrap();
    dir.to_str().unwrap().to_string()
}

fn finetune(model: &Path, data: &str, out: &Path) -> std::process::Output {
    cli(&[
        "finetune",
        "--model",
        model.to_str().unwrap(),
        "--data",
        data,
        "--out",
        out.to_str().unwrap(),
        "--limit-train",
        "500",
        "--limit-test",
        "300",
        "--quiet",
    ])
}

#[test]
fn finetune_writes_a_new_model_and_reports_before_and_after() {
    let dir = tempfile::tempdir().unwrap();
    tiny_run(dir.path());
    let model = dir.path().join("model.safetensors");
    let base_bytes = fs::read(&model).unwrap();
    let data = my_digits(&dir.path().join("mine"), 3, None);
    let out = dir.path().join("tuned");
    let o = finetune(&model, &data, &out);
    assert!(o.status.success(), "{}", common::stderr(&o));
    let text = stdout(&o);
    // 30 samples, 3 of each digit: one of each held out.
    assert!(text.contains("held-out samples of your digits (10): "), "{text}");
    assert!(text.contains("MNIST test set (300 images): "), "{text}");
    assert!(
        common::stderr(&o).contains("on 20 of your 30 digits (10 held out"),
        "{}",
        common::stderr(&o)
    );
    assert_eq!(fs::read(&model).unwrap(), base_bytes, "the base model is unchanged");

    let record: serde_json::Value = serde_json::from_slice(&fs::read(out.join("finetune.json")).unwrap()).unwrap();
    assert_eq!(record["report"]["held_out"], 10);
    assert_eq!(record["report"]["mnist_images"], 300);
    assert_eq!(record["tuning_samples"], 20);
    let after = record["report"]["mnist_after"].as_f64().unwrap();
    assert!(text.contains(&format!("→ {:.2}%", 100.0 * after)), "{text}");
    // The tuned model is a model like any other: `eval` scores it the same.
    let tuned = out.join("model.safetensors");
    let o = cli(&["eval", "--model", tuned.to_str().unwrap(), "--limit-test", "300"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(
        stdout(&o).contains(&format!("test accuracy {:.2}%", 100.0 * after)),
        "{}",
        stdout(&o)
    );
}

#[test]
fn finetune_refuses_bad_pairs_too_few_samples_and_overwriting() {
    use vgg_mnist::data::{MY_DIGITS_IMAGES, MY_DIGITS_LABELS};
    let dir = tempfile::tempdir().unwrap();
    tiny_run(dir.path());
    let model = dir.path().join("model.safetensors");
    let out = dir.path().join("tuned");

    assert_user_error(&finetune(&model, "/no/such/dir", &out), "/no/such/dir not found");
    let few = my_digits(&dir.path().join("few"), 1, None);
    fs::write(
        dir.path().join("few").join(MY_DIGITS_LABELS),
        vgg_mnist::data::to_idx_gz(&vgg_mnist::data::Dataset {
            images: vec![0; 9 * 784],
            labels: (0..9).collect(),
        })
        .unwrap()
        .1,
    )
    .unwrap();
    // Ten images but nine labels: the pair is refused by the IDX parser, naming both files.
    assert_user_error(&finetune(&model, &few, &out), "has 10 images but");
    let few = my_digits(&dir.path().join("few"), 1, Some(3));
    assert_user_error(&finetune(&model, &few, &out), "only 9 of your digits (none of 3)");
    let no_sevens = my_digits(&dir.path().join("no7"), 2, Some(7));
    assert_user_error(&finetune(&model, &no_sevens, &out), "no samples of 7");
    let one_each = my_digits(&dir.path().join("one"), 1, None);
    assert_user_error(&finetune(&model, &one_each, &out), "add a second sample");

    let bad = dir.path().join("bad");
    let data = my_digits(&bad, 2, None);
    let images = fs::read(bad.join(MY_DIGITS_IMAGES)).unwrap();
    fs::write(bad.join(MY_DIGITS_IMAGES), &images[..images.len() / 2]).unwrap();
    assert_user_error(&finetune(&model, &data, &out), MY_DIGITS_IMAGES);

    let good = my_digits(&dir.path().join("good"), 2, None);
    assert_user_error(&finetune(&model, &good, dir.path()), "would overwrite --model");
    assert!(!out.exists(), "nothing was written");
}

#[test]
fn train_extra_data_adds_my_digits_to_the_training_set() {
    let dir = tempfile::tempdir().unwrap();
    let data = my_digits(&dir.path().join("mine"), 3, None);
    let out = dir.path().join("run");
    let args = |extra: &str| {
        cli(&[
            "train",
            "--epochs",
            "1",
            "--limit-train",
            "512",
            "--limit-test",
            "100",
            "--widths",
            "4,8",
            "--quiet",
            "--out",
            out.to_str().unwrap(),
            "--extra-data",
            extra,
        ])
    };
    let o = args(&data);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(
        common::stderr(&o).contains("adding 30 of your digits"),
        "{}",
        common::stderr(&o)
    );
    let m: serde_json::Value = serde_json::from_slice(&fs::read(out.join("metrics.json")).unwrap()).unwrap();
    assert_eq!(m["config"]["train_images"], 542);

    assert_user_error(&args("/no/such/dir"), "/no/such/dir not found");
}
