//! The model list: every model this browser has (shipped, trained, uploaded, fine-tuned), which one
//! predicts, and for each a way to use, download or delete it; plus uploading a `.safetensors` file.
//!
//! Contract (DOM): `[data-testid=model-history]` holds one `[data-testid=model-entry]` per model
//! (`data-id`, `data-kind` = pretrained/trained/uploaded/finetuned, `data-test-accuracy` (0..1,
//! empty while unknown), `data-test-images`, `data-selected` = true/false), each with
//! `button[data-testid=model-use]`, `button[data-testid=model-download]` and, except for the
//! pretrained model, `button[data-testid=model-delete]`; a stored record that could not be read is a
//! `[data-testid=model-broken]` (`data-id`) with its reason and a `model-delete` button.
//! `[data-testid=model-source]` carries `data-source` (the selected model's kind) and holds the
//! shortcuts `use-pretrained`, `use-trained`, `use-uploaded` (the newest of each kind); the file input
//! is `input[data-testid=upload]`. A file larger than any checkpoint may be is refused before it is
//! read; what is read goes up unvalidated: the reducer validates it with the core checkpoint loader
//! and reports a mismatch as a visible error.

use js_sys::{Array, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{Blob, BlobPropertyBag, HtmlAnchorElement, HtmlInputElement, Url};
use yew::prelude::*;

use crate::app::model_history::{BrokenEntry, ModelEntry, ModelKind};
use crate::checkpoint::MAX_CHECKPOINT_BYTES;

use super::fetch::describe;

#[derive(Properties, PartialEq)]
pub struct ModelPanelProps {
    /// Newest first, the pretrained model last.
    pub entries: Vec<ModelEntry>,
    pub broken: Vec<BrokenEntry>,
    pub selected: Option<String>,
    /// A short description of the model that predicts (widths, parameters).
    pub summary: AttrValue,
    pub on_use: Callback<String>,
    pub on_delete: Callback<String>,
    pub on_download: Callback<String>,
    /// `Ok((file name, bytes))` of a chosen file, or why it could not be read.
    pub on_upload: Callback<Result<(String, Vec<u8>), String>>,
}

#[component]
pub fn ModelPanel(props: &ModelPanelProps) -> Html {
    let onchange = {
        let on_upload = props.on_upload.clone();
        Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let Some(file) = input.files().and_then(|f| f.get(0)) else {
                return;
            };
            // Reset, so choosing the same file again fires `change` again.
            input.set_value("");
            let name = file.name();
            // Checked before reading: a multi-gigabyte file never reaches wasm memory.
            if file.size() > MAX_CHECKPOINT_BYTES as f64 {
                on_upload.emit(Err(format!(
                    "{name} is {:.0} MB; a vgg-mnist checkpoint is at most {:.1} MB",
                    file.size() / 1e6,
                    MAX_CHECKPOINT_BYTES as f64 / 1e6
                )));
                return;
            }
            let on_upload = on_upload.clone();
            spawn_local(async move {
                let bytes = JsFuture::from(file.array_buffer())
                    .await
                    .map(|buf| (name.clone(), Uint8Array::new(&buf).to_vec()))
                    .map_err(|e| format!("could not read {name}: {}", describe(&e)));
                on_upload.emit(bytes);
            });
        })
    };
    let selected_kind = (props.selected.as_ref())
        .and_then(|id| props.entries.iter().find(|e| &e.id == id))
        .map(|e| e.kind);
    let shortcuts = [ModelKind::Pretrained, ModelKind::Trained, ModelKind::Uploaded].map(|kind| {
        let newest = props.entries.iter().find(|e| e.kind == kind).map(|e| e.id.clone());
        let checked = selected_kind == Some(kind);
        let on_use = props.on_use.clone();
        let target = newest.clone();
        html! {
            <button role="radio" aria-checked={checked.to_string()}
                    class={classes!("seg", checked.then_some("on"))}
                    data-testid={format!("use-{}", kind.key())}
                    disabled={newest.is_none()}
                    onclick={Callback::from(move |_: MouseEvent| if let Some(id) = &target { on_use.emit(id.clone()) })}>
                { kind.label() }
            </button>
        }
    });
    html! {
        <section class="card model-panel">
            <h2>{ "Models" }</h2>
            <div class="segmented" data-testid="model-source"
                 data-source={selected_kind.map(|k| k.key()).unwrap_or_default()} role="radiogroup">
                { for shortcuts }
            </div>
            <p class="hint">{ props.summary.clone() }</p>
            <ul class="model-history" data-testid="model-history">
                { for props.entries.iter().map(|e| entry(props, e)) }
                { for props.broken.iter().map(|b| broken(props, b)) }
            </ul>
            <div class="buttons">
                <label class="button secondary upload">
                    { "Upload .safetensors" }
                    <input type="file" accept=".safetensors" data-testid="upload" {onchange} />
                </label>
            </div>
        </section>
    }
}

fn entry(props: &ModelPanelProps, e: &ModelEntry) -> Html {
    let selected = props.selected.as_ref() == Some(&e.id);
    let click = |cb: &Callback<String>| {
        let (cb, id) = (cb.clone(), e.id.clone());
        Callback::from(move |_: MouseEvent| cb.emit(id.clone()))
    };
    let accuracy = e.test_accuracy.map(|a| format!("{a:.4}")).unwrap_or_default();
    let score = match e.test_accuracy {
        Some(a) => format!(
            "{:.2} % on {} test images",
            a * 100.0,
            crate::app::state::count(e.test_images)
        ),
        None => "not scored yet".into(),
    };
    let widths = format!("{}/{}", e.config.widths[0], e.config.widths[1]);
    let mut details = vec![
        when(e.created_ms),
        widths,
        format!("{} kB", e.bytes.div_ceil(1000)),
        score,
    ];
    details.extend(e.note.clone());
    html! {
        <li class={classes!("model-entry", selected.then_some("selected"))} data-testid="model-entry"
            data-id={e.id.clone()} data-kind={e.kind.key()} data-test-accuracy={accuracy}
            data-test-images={e.test_images.to_string()} data-selected={selected.to_string()}>
            <div class="model-entry-main">
                <span class="badge">{ e.kind.label() }</span>
                <span class="model-name">{ e.name.clone() }</span>
                <span class="model-meta">{ details.join(" · ") }</span>
            </div>
            <div class="model-entry-actions">
                <button class="secondary small" data-testid="model-use" disabled={selected}
                        onclick={click(&props.on_use)}>{ if selected { "In use" } else { "Use" } }</button>
                <button class="secondary small" data-testid="model-download" title="Download .safetensors"
                        onclick={click(&props.on_download)}>{ "Download" }</button>
                if e.kind != ModelKind::Pretrained {
                    <button class="secondary small danger" data-testid="model-delete"
                            onclick={click(&props.on_delete)}>{ "Delete" }</button>
                }
            </div>
        </li>
    }
}

fn broken(props: &ModelPanelProps, b: &BrokenEntry) -> Html {
    let (on_delete, id) = (props.on_delete.clone(), b.id.clone());
    html! {
        <li class="model-entry broken" data-testid="model-broken" data-id={b.id.clone()}>
            <div class="model-entry-main">
                <span class="badge bad">{ "Unreadable" }</span>
                <span class="model-name">{ b.id.clone() }</span>
                <span class="model-meta">{ b.reason.clone() }</span>
            </div>
            <div class="model-entry-actions">
                <button class="secondary small danger" data-testid="model-delete"
                        onclick={Callback::from(move |_: MouseEvent| on_delete.emit(id.clone()))}>{ "Delete" }</button>
            </div>
        </li>
    }
}

/// When a model was made, in the user's locale ("shipped" for the pretrained one).
fn when(created_ms: f64) -> String {
    if created_ms <= 0.0 {
        return "shipped with the app".into();
    }
    let date = js_sys::Date::new(&created_ms.into());
    let locale = wasm_bindgen::JsValue::UNDEFINED;
    format!(
        "{} {}",
        String::from(date.to_locale_date_string("default", &locale)),
        String::from(date.to_locale_time_string("default"))
    )
}

/// Saves `bytes` as a file through a temporary object URL.
pub fn download(bytes: &[u8], file_name: &str) {
    let parts = Array::of1(&Uint8Array::from(bytes));
    let options = BlobPropertyBag::new();
    options.set_type("application/octet-stream");
    let Ok(blob) = Blob::new_with_u8_array_sequence_and_options(&parts, &options) else {
        return;
    };
    let Ok(url) = Url::create_object_url_with_blob(&blob) else {
        return;
    };
    let anchor = web_sys::window()
        .and_then(|w| w.document())
        .and_then(|d| d.create_element("a").ok())
        .and_then(|a| a.dyn_into::<HtmlAnchorElement>().ok());
    if let Some(a) = anchor {
        a.set_href(&url);
        a.set_download(file_name);
        a.click();
    }
    let _ = Url::revoke_object_url(&url);
}

/// A file name for a model's download: its id, which names the kind and when it was made.
pub fn file_name(e: &ModelEntry) -> String {
    format!("vgg-mnist-{}.safetensors", e.id)
}

/// The model list, for the panel's props.
pub fn entries(history: &crate::app::model_history::ModelHistory) -> Vec<ModelEntry> {
    history.entries().cloned().collect()
}
