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
    // The image's header is read, within the same limits as `predict`, before any decoding.
    let huge = huge_png_header(dir.path());
    assert_user_error(
        &cli(&["explain", "--model", &model, huge.to_str().unwrap()]),
        "larger than accepted",
    );
    // The output never replaces the image or the model, and a directory is not a file name.
    let digit_before = fs::read(&digit).unwrap();
    assert_user_error(
        &cli(&["explain", "--model", &model, &digit, "--out", &digit]),
        "would overwrite",
    );
    assert_user_error(
        &cli(&["explain", "--model", &model, &digit, "--out", &model]),
        "would overwrite",
    );
    assert_eq!(fs::read(&digit).unwrap(), digit_before);
    assert_user_error(
        &cli(&[
            "explain",
            "--model",
            &model,
            &digit,
            "--out",
            dir.path().to_str().unwrap(),
        ]),
        "is a directory",
    );
    // A PNG under a JPEG name is read by its content, and a missing output directory is made.
    let disguised = dir.path().join("digit.jpg");
    fs::copy(&digit, &disguised).unwrap();
    let out = dir.path().join("new-dir/explain.png");
    let o = cli(&[
        "explain",
        "--model",
        &model,
        disguised.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(out.exists());
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

/// Flags that cannot work are refused before any I/O: the data directory here does not exist,
/// yet each error names the flag, not the directory.
#[test]
fn flags_are_validated_before_any_io() {
    let no_data = ["--data-dir", "/no/such/dir", "--quiet"];
    let train = |flags: &[&str]| cli(&[&["train"], flags, &no_data[..]].concat());
    assert_user_error(&train(&["--batch-size", "60000"]), "at most 6281");
    assert_user_error(&train(&["--warmup-fraction", "2"]), "warm-up fraction");
    assert_user_error(&train(&["--warmup-fraction", "1e300"]), "warm-up fraction");
    assert_user_error(
        &train(&["--epochs", "18446744073709551615"]),
        "more than the limit of 10000",
    );
    assert_user_error(&train(&["--limit-train", "0"]), "--limit-train 0 leaves no images");
    assert_user_error(&train(&["--limit-test", "0"]), "--limit-test 0 leaves no images");
    assert_user_error(
        &train(&["--widths", "1024,1024", "--convs-per-block", "4"]),
        "multiply-adds per image, more than the budget of 100 M",
    );
    assert_user_error(&train(&["--hidden", "5000"]), "parameters, more than the limit");
    let o = cli(&["eval", "--model", "missing.safetensors", "--limit-test", "0"]);
    assert_user_error(&o, "--limit-test 0 leaves no images");
}

/// An output directory that exists but takes no files is found before training, not after.
#[test]
fn an_unwritable_output_directory_is_refused_before_training() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let ro = dir.path().join("read-only");
    fs::create_dir(&ro).unwrap();
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o555)).unwrap();
    // Root writes into a read-only directory anyway; /sys refuses even root.
    let out = if tempfile::NamedTempFile::new_in(&ro).is_err() {
        ro.clone()
    } else {
        Path::new("/sys").to_path_buf()
    };
    assert!(
        tempfile::NamedTempFile::new_in(&out).is_err(),
        "no unwritable directory to test with"
    );
    let o = cli(&[
        "train",
        "--limit-train",
        "64",
        "--limit-test",
        "10",
        "--epochs",
        "1",
        "--quiet",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_user_error(&o, "is not writable");
    fs::set_permissions(&ro, fs::Permissions::from_mode(0o755)).unwrap();
}

/// Every output is renamed into place whole; a run leaves no temporary file behind, and an old
/// model is replaced only by a complete new one.
#[test]
fn outputs_replace_old_files_whole() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("model.safetensors"), b"an older model").unwrap();
    tiny_run(dir.path());
    let mut names: Vec<String> = fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "confusion_matrix.png",
            "confusion_matrix.svg",
            "metrics.json",
            "model.safetensors",
            "training_curves.png"
        ]
    );
    let bytes = fs::read(dir.path().join("model.safetensors")).unwrap();
    vgg_mnist::checkpoint::from_bytes(&bytes, &candle_core::Device::Cpu).expect("the new model, whole");
}

/// The issue: `model-last-good.safetensors` held the weights that gave the non-finite loss. Now
/// it holds weights that load (every value finite) and the message names their step and epoch.
#[test]
fn divergence_keeps_the_weights_of_the_last_finite_loss() {
    let dir = tempfile::tempdir().unwrap();
    let o = cli(&[
        "train",
        "--lr",
        "1e12",
        "--warmup-fraction",
        "0",
        "--epochs",
        "3",
        "--limit-train",
        "256",
        "--limit-test",
        "10",
        "--widths",
        "4,8",
        "--batch-size",
        "32",
        "--no-augment",
        "--quiet",
        "--out",
        dir.path().to_str().unwrap(),
    ]);
    // The run's opening line, then the error.
    let err = common::stderr(&o);
    assert_eq!(o.status.code(), Some(1), "{err}");
    let last = err.trim_end().lines().last().unwrap_or_default();
    assert!(last.starts_with("error: training diverged at step"), "{err}");
    assert!(
        last.contains("which gave a finite loss at step") && last.contains("(epoch 1)"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(err.contains("model-last-good.safetensors"), "{err}");
    let bytes = fs::read(dir.path().join("model-last-good.safetensors")).unwrap();
    vgg_mnist::checkpoint::from_bytes(&bytes, &candle_core::Device::Cpu).expect("finite weights");
    assert!(!dir.path().join("model.safetensors").exists());
}

/// A directory with only the two test files: what `eval` reads.
fn test_files_only(dir: &Path, images: &[u8], labels: &[u8]) -> String {
    fs::write(dir.join(TEST_IMAGES), images).unwrap();
    fs::write(dir.join(TEST_LABELS), labels).unwrap();
    dir.to_str().unwrap().to_string()
}

fn small_model(dir: &Path) -> String {
    let cfg = vgg_mnist::model::ModelConfig::small();
    let vm = vgg_mnist::model::init_params(&cfg, 0, &candle_core::Device::Cpu).unwrap();
    let path = dir.join("small.safetensors");
    fs::write(&path, vgg_mnist::checkpoint::to_bytes(&vm, &cfg).unwrap()).unwrap();
    path.to_str().unwrap().to_string()
}

/// `eval` reads only the test files, and a test set of no images is an error, not "0.00 %".
#[test]
fn eval_reads_only_the_test_set_and_refuses_an_empty_one() {
    let models = tempfile::tempdir().unwrap();
    let model = small_model(models.path());
    let dir = tempfile::tempdir().unwrap();
    let d = test_files_only(
        dir.path(),
        &fs::read(data_dir().join(TEST_IMAGES)).unwrap(),
        &fs::read(data_dir().join(TEST_LABELS)).unwrap(),
    );
    let o = cli(&["eval", "--model", &model, "--data-dir", &d, "--limit-test", "20"]);
    assert!(o.status.success(), "{}", common::stderr(&o));
    assert!(stdout(&o).contains("of 20)"), "{}", stdout(&o));

    let mut images = 2051u32.to_be_bytes().to_vec();
    for w in [0u32, 28, 28] {
        images.extend(w.to_be_bytes());
    }
    let mut labels = 2049u32.to_be_bytes().to_vec();
    labels.extend(0u32.to_be_bytes());
    let d = test_files_only(dir.path(), &images, &labels);
    assert_user_error(
        &cli(&["eval", "--model", &model, "--data-dir", &d]),
        "the test set has no images",
    );
}

/// A gzip bomb in place of the training images: the header announces 10 images, then 64 MB of
/// zeros follow; parsing stops at the 10 images.
#[test]
fn a_gzip_bomb_is_an_error_not_an_out_of_memory() {
    use std::io::Write;
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    for w in [2051u32, 10, 28, 28] {
        e.write_all(&w.to_be_bytes()).unwrap();
    }
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..64 {
        e.write_all(&zeros).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let d = data_copy_with(dir.path(), TRAIN_IMAGES, &e.finish().unwrap());
    let o = cli(&["train", "--data-dir", &d, "--quiet"]);
    assert_user_error(&o, "more data than the header announces (7856 bytes)");
}

/// Checkpoints that used to crash or load silently: offsets that overflow inside the
/// `safetensors` crate (a panic in this test build, which keeps overflow checks), and NaN
/// weights.
#[test]
fn crafted_checkpoints_give_one_line_errors() {
    let dir = tempfile::tempdir().unwrap();
    let size = (1u64 << 61) - 1;
    let entries: Vec<String> = (0..8u64)
        .map(|i| {
            format!(
                r#""t{i}":{{"dtype":"U8","shape":[{size}],"data_offsets":[{},{}]}}"#,
                i * size,
                (i + 1) * size
            )
        })
        .collect();
    let header = format!("{{{}}}", entries.join(","));
    let mut bytes = (header.len() as u64).to_le_bytes().to_vec();
    bytes.extend(header.as_bytes());
    bytes.extend([0u8; 16]);
    let overflow = dir.path().join("overflow.safetensors");
    fs::write(&overflow, &bytes).unwrap();
    assert_user_error(
        &cli(&["eval", "--model", overflow.to_str().unwrap()]),
        "outside the file's 16 data bytes",
    );

    let cfg = vgg_mnist::model::ModelConfig::small();
    let vm = vgg_mnist::model::init_params(&cfg, 0, &candle_core::Device::Cpu).unwrap();
    let tensors: Vec<(String, candle_core::Tensor)> = vm
        .data()
        .lock()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), (v.as_tensor() * f64::NAN).unwrap()))
        .collect();
    let meta = std::collections::HashMap::from([
        ("format".to_string(), "vgg-mnist/1".to_string()),
        (
            "vgg_mnist.model_config".to_string(),
            serde_json::to_string(&cfg).unwrap(),
        ),
    ]);
    let nan = dir.path().join("nan.safetensors");
    fs::write(
        &nan,
        safetensors::serialize(tensors.iter().map(|(k, t)| (k.as_str(), t)), Some(meta)).unwrap(),
    )
    .unwrap();
    let o = cli(&["predict", "--model", nan.to_str().unwrap(), "x.png"]);
    assert_user_error(&o, "holds a non-finite value (NaN at index 0)");
}

/// A MNIST test digit, scaled up 4x and inverted to dark-on-light like a scan.
fn digit_png() -> image::GrayImage {
    let mnist = vgg_mnist::data::Dataset::from_idx(
        TEST_IMAGES,
        &fs::read(data_dir().join(TEST_IMAGES)).unwrap(),
        TEST_LABELS,
        &fs::read(data_dir().join(TEST_LABELS)).unwrap(),
    )
    .unwrap();
    image::GrayImage::from_fn(112, 112, |x, y| {
        image::Luma([255 - mnist.image(0)[(y / 4 * 28 + x / 4) as usize]])
    })
}

/// A PNG header declaring 20,000 x 20,000 pixels (and no pixel data): refused before decoding.
fn huge_png_header(dir: &Path) -> std::path::PathBuf {
    let mut huge = b"\x89PNG\r\n\x1a\n".to_vec();
    let ihdr = [&20_000u32.to_be_bytes()[..], &20_000u32.to_be_bytes(), &[8, 6, 0, 0, 0]].concat();
    huge.extend((ihdr.len() as u32).to_be_bytes());
    let mut crc = flate2::Crc::new();
    crc.update(b"IHDR");
    crc.update(&ihdr);
    huge.extend(b"IHDR");
    huge.extend(&ihdr);
    huge.extend(crc.sum().to_be_bytes());
    let path = dir.join("huge.png");
    fs::write(&path, huge).unwrap();
    path
}

/// Each image gets its own line while the others go on; the format comes from the content; the
/// exit code says whether any failed.
#[test]
fn predict_reports_each_file_and_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let model = small_model(dir.path());
    let disguised = dir.path().join("digit.jpg"); // a PNG under a JPEG name
    digit_png()
        .save_with_format(&disguised, image::ImageFormat::Png)
        .unwrap();
    let text = dir.path().join("notes.png");
    fs::write(&text, "not an image").unwrap();
    let huge_path = huge_png_header(dir.path());

    let paths = [&disguised, &text, &huge_path, &disguised];
    let args: Vec<&str> = ["predict", "--model", &model]
        .into_iter()
        .chain(paths.iter().map(|p| p.to_str().unwrap()))
        .collect();
    let o = cli(&args);
    assert_eq!(o.status.code(), Some(1), "{}", common::stderr(&o));
    let out = stdout(&o);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines
            .iter()
            .all(|l| l.starts_with(&format!("{}: ", disguised.display()))),
        "{out}"
    );
    let err = common::stderr(&o);
    let errors: Vec<&str> = err.lines().collect();
    assert_eq!(errors.len(), 2, "{err}");
    assert!(
        errors[0].starts_with(&format!("error: {}: not a PNG or JPEG", text.display())),
        "{err}"
    );
    assert!(
        errors[1].contains("huge.png") && errors[1].ends_with("scale it down"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

/// `predict … | head -1`: the reader goes away after one line, the command ends quietly.
#[test]
fn predict_into_a_closed_pipe_ends_quietly() {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};
    let dir = tempfile::tempdir().unwrap();
    let model = small_model(dir.path());
    let digit = dir.path().join("digit.png");
    digit_png().save(&digit).unwrap();
    let digit = digit.to_str().unwrap().to_string();
    let mut child = Command::new(env!("CARGO_BIN_EXE_vgg-mnist"))
        .args(["predict", "--model", &model])
        .args(std::iter::repeat_n(&digit, 2000))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut first)
        .unwrap();
    // The reader is dropped here: the next writes meet a closed pipe.
    assert!(first.starts_with(&digit), "{first}");
    let o = child.wait_with_output().unwrap();
    let err = common::stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(err.is_empty(), "{err}");
}
