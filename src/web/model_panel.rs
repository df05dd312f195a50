//! Which model predicts: switch between pretrained, browser-trained and uploaded weights;
//! download the current weights; upload a `.safetensors` file.
//!
//! Contract (DOM): `[data-testid=model-source]` carries `data-source` (pretrained, trained,
//! uploaded; empty while none is loaded); the file input is `input[data-testid=upload]`.
//! Uploaded bytes go up unvalidated: the reducer validates them with the core checkpoint loader
//! and reports a mismatch as a visible error.

use std::rc::Rc;

use js_sys::{Array, Uint8Array};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::{spawn_local, JsFuture};
use web_sys::{Blob, BlobPropertyBag, HtmlAnchorElement, HtmlInputElement, Url};
use yew::prelude::*;

use crate::app::model_source::ModelSource;

use super::fetch::describe;

#[derive(Properties, PartialEq)]
pub struct ModelPanelProps {
    pub source: Option<ModelSource>,
    /// Sources whose weights are available.
    pub available: Vec<ModelSource>,
    /// Bytes of the current model, for the download.
    pub current: Option<Rc<Vec<u8>>>,
    /// A short description of the current model (widths, parameters).
    pub summary: AttrValue,
    pub on_select: Callback<ModelSource>,
    /// `Ok(bytes)` of a chosen file, or why it could not be read.
    pub on_upload: Callback<Result<Vec<u8>, String>>,
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
            let on_upload = on_upload.clone();
            spawn_local(async move {
                let bytes = JsFuture::from(file.array_buffer())
                    .await
                    .map(|buf| Uint8Array::new(&buf).to_vec())
                    .map_err(|e| format!("could not read {}: {}", file.name(), describe(&e)));
                on_upload.emit(bytes);
            });
        })
    };
    let ondownload = {
        let (bytes, source) = (props.current.clone(), props.source);
        Callback::from(move |_: MouseEvent| {
            if let (Some(bytes), Some(source)) = (&bytes, source) {
                download(bytes, source.file_name());
            }
        })
    };
    let source_key = props.source.map(|s| s.key()).unwrap_or_default();
    html! {
        <section class="card model-panel">
            <h2>{ "Model" }</h2>
            <div class="segmented" data-testid="model-source" data-source={source_key} role="radiogroup">
                { for ModelSource::ALL.iter().map(|&s| {
                    let on_select = props.on_select.clone();
                    let checked = props.source == Some(s);
                    html! {
                        <button role="radio" aria-checked={checked.to_string()}
                                class={classes!("seg", checked.then_some("on"))}
                                data-testid={format!("use-{}", s.key())}
                                disabled={!props.available.contains(&s)}
                                onclick={Callback::from(move |_: MouseEvent| on_select.emit(s))}>
                            { s.label() }
                        </button>
                    }
                }) }
            </div>
            <p class="hint">{ props.summary.clone() }</p>
            <div class="buttons">
                <button class="secondary" data-testid="download" disabled={props.current.is_none()}
                        onclick={ondownload}>{ "Download .safetensors" }</button>
                <label class="button secondary upload">
                    { "Upload .safetensors" }
                    <input type="file" accept=".safetensors" data-testid="upload" {onchange} />
                </label>
            </div>
        </section>
    }
}

/// Saves `bytes` as a file through a temporary object URL.
fn download(bytes: &[u8], file_name: &str) {
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
