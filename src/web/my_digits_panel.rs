//! "My digits": the drawings the user labelled, grouped by digit, with the current model's score
//! on them; delete one or all; download them as an MNIST IDX pair and upload such a pair; and
//! (the `finetune` slot) teaching the model this handwriting.
//!
//! Contract (DOM): `[data-testid=my-digits]` (`data-count`, `data-restored` once storage has
//! been read, and `data-accuracy` in 0..1 once the
//! current model is scored on them) holds one `[data-testid=my-digit]` per sample (`data-label`,
//! `data-id`) with a `button[data-testid=my-digit-delete]`; `button[data-testid=my-digits-clear]`,
//! `button[data-testid=my-digits-download]` (two files: the IDX images and labels, gzip, as in
//! `www/data/`) and `input[data-testid=my-digits-upload]` (choose both files of a pair). Uploads
//! are size-checked before they are read and parsed by the core IDX parser; the page only moves
//! bytes.

use std::rc::Rc;

use js_sys::Uint8Array;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::app::my_digits::{self, Sample};
use crate::app::state::DigitsScore;
use crate::data::{self, Dataset};

use super::digit_image::DigitImage;
use super::fetch::describe;
use super::model_panel::download;

#[derive(Properties, PartialEq)]
pub struct MyDigitsPanelProps {
    pub samples: Vec<Sample>,
    /// Whether storage has been read (`data-restored`).
    pub restored: bool,
    pub score: Option<DigitsScore>,
    pub on_delete: Callback<String>,
    pub on_clear: Callback<()>,
    /// An IDX pair read and parsed, or why not.
    pub on_import: Callback<Result<Dataset, String>>,
    /// What sits under the gallery (the fine-tuning controls).
    #[prop_or_default]
    pub children: Html,
}

#[component]
pub fn MyDigitsPanel(props: &MyDigitsPanelProps) -> Html {
    let n = props.samples.len();
    let ondownload = {
        let samples = props.samples.clone();
        Callback::from(move |_: MouseEvent| {
            let data = Dataset {
                images: samples.iter().flat_map(|s| s.pixels.iter().copied()).collect(),
                labels: samples.iter().map(|s| s.label).collect(),
            };
            if let Ok((images, labels)) = data::to_idx_gz(&data) {
                download(&images, data::MY_DIGITS_IMAGES);
                download(&labels, data::MY_DIGITS_LABELS);
            }
        })
    };
    let onchange = {
        let on_import = props.on_import.clone();
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let files: Vec<web_sys::File> = (0..input.files().map_or(0, |f| f.length()))
                .filter_map(|i| input.files().and_then(|f| f.get(i)))
                .collect();
            input.set_value("");
            let on_import = on_import.clone();
            spawn_local(async move { on_import.emit(read_pair(files).await) });
        })
    };
    let accuracy = props.score.as_ref().map(|s| s.correct as f64 / s.total.max(1) as f64);
    let groups = (0..10u8).map(|d| {
        let mine: Vec<&Sample> = props.samples.iter().filter(|s| s.label == d).collect();
        html! {
            <div class="digit-group">
                <span class="digit-group-label">{ format!("{d} ({})", mine.len()) }</span>
                { for mine.iter().map(|s| {
                    let pixels = Rc::new(s.pixels.iter().map(|&v| v as f32 / 255.0).collect::<Vec<_>>());
                    let (on_delete, id) = (props.on_delete.clone(), s.id.clone());
                    html! {
                        <span class="my-digit" data-testid="my-digit" data-label={d.to_string()} data-id={s.id.clone()}>
                            <DigitImage {pixels} class="thumb" title={format!("a {d}")} />
                            <button class="link delete" data-testid="my-digit-delete" aria-label={format!("Delete this {d}")}
                                    onclick={Callback::from(move |_: MouseEvent| on_delete.emit(id.clone()))}>{ "×" }</button>
                        </span>
                    }
                }) }
            </div>
        }
    });
    html! {
        <section class="card my-digits-card">
            <h2>{ "My digits" }</h2>
            <p class="hint">
                { if n == 0 {
                    "Draw a digit, then tell the model what it is (the buttons under the prediction, or its key while the pad has focus): it joins My digits, to measure the model on your handwriting and teach it.".to_string()
                } else {
                    match (&props.score, accuracy) {
                        (Some(s), Some(a)) => format!("The current model reads {} of your {} digits right ({:.0} %).", s.correct, s.total, a * 100.0),
                        _ => format!("{n} digits; scoring the current model on them…"),
                    }
                } }
            </p>
            <div class="my-digits" data-testid="my-digits" data-count={n.to_string()}
                 data-restored={props.restored.to_string()}
                 data-accuracy={accuracy.map(|a| format!("{a:.4}")).unwrap_or_default()}>
                if n > 0 { { for groups } }
            </div>
            <div class="buttons">
                <button class="secondary small" data-testid="my-digits-download" disabled={n == 0}
                        onclick={ondownload}>{ "Download (MNIST IDX)" }</button>
                <label class="button secondary small upload">
                    { "Upload IDX pair" }
                    <input type="file" multiple=true accept=".gz,.idx,application/gzip" data-testid="my-digits-upload" {onchange} />
                </label>
                <button class="secondary small danger" data-testid="my-digits-clear" disabled={n == 0}
                        onclick={props.on_clear.reform(|_: MouseEvent| ())}>{ "Delete all" }</button>
            </div>
            { props.children.clone() }
        </section>
    }
}

/// Reads the two files of an IDX pair (either order) and parses them with the core parser.
async fn read_pair(files: Vec<web_sys::File>) -> Result<Dataset, String> {
    let [a, b] = &files[..] else {
        return Err(format!(
            "choose the two files of a pair ({} and {}), {} chosen",
            data::MY_DIGITS_IMAGES,
            data::MY_DIGITS_LABELS,
            files.len()
        ));
    };
    let mut read = Vec::new();
    for f in [a, b] {
        if f.size() > my_digits::MAX_UPLOAD_BYTES as f64 {
            return Err(format!(
                "{} is {:.0} MB, more than a set of digits can be",
                f.name(),
                f.size() / 1e6
            ));
        }
        let buf = JsFuture::from(f.array_buffer())
            .await
            .map_err(|e| format!("could not read {}: {}", f.name(), describe(&e)))?;
        read.push((f.name(), Uint8Array::new(&buf).to_vec()));
    }
    // Which is which: by name (`…labels-idx1…`), else whichever order parses.
    let is_labels = |name: &str| name.contains("label") || name.contains("idx1");
    if is_labels(&read[0].0) && !is_labels(&read[1].0) {
        read.swap(0, 1);
    }
    let (images, labels) = (&read[0], &read[1]);
    // No more images than My digits keeps: a small gzip pair announcing a million is refused
    // from its header, not decompressed into 784 MB on the page's thread.
    let parse = |(i_name, i): &(String, Vec<u8>), (l_name, l): &(String, Vec<u8>)| {
        Dataset::from_idx_at_most(i_name, i, l_name, l, my_digits::MAX_SAMPLES)
    };
    parse(images, labels).or_else(|e| {
        let named = is_labels(&labels.0);
        (!named)
            .then(|| parse(labels, images).ok())
            .flatten()
            .ok_or_else(|| e.to_string())
    })
}
