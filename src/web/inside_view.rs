//! "Look inside": for the drawing being predicted, every conv layer's activations after its ReLU
//! and every pool's output as heat-map tiles grouped by block, the first layer's 3x3 filters, a
//! saliency map over the 28x28 input, and the ten logits and probabilities beside the head's
//! input size.
//!
//! Contract: the numbers are the core's (`Predictor::explain`, which runs `Vgg::explain`); the
//! pictures are `app::heatmap`'s; this file schedules and draws. The explanation is computed
//! after the prediction has been shown (a zero-delay timer, the newest drawing only), so a
//! prediction never waits for it; the panel may lag a frame behind the pen.
//!
//! DOM contract: `[data-testid=feature-maps]` holds one `[data-testid=layer]` per conv layer and
//! pool (`data-layer` = the conv's parameter name such as `block1.conv1`, or `pool1`, `pool2`;
//! `data-channels`, `data-height`, `data-width`); `canvas[data-testid=filters]`,
//! `canvas[data-testid=saliency]`; `[data-testid=inside]` carries `data-explain-ms` (the time
//! of the last explanation) and `data-digit` (the digit it explains).

use std::rc::Rc;

use gloo_timers::callback::Timeout;
use wasm_bindgen::{Clamped, JsCast};
use web_sys::{CanvasRenderingContext2d, HtmlCanvasElement, ImageData};
use yew::prelude::*;

use crate::app::heatmap::{filter_tiles, saliency_overlay, tiles, Picture};
use crate::data::IMAGE_SIDE;
use crate::explain::{Explanation, LayerMap};
use crate::predictor::{Prediction, Predictor};

#[derive(Properties)]
pub struct InsideViewProps {
    pub predictor: Option<Rc<Predictor>>,
    pub prediction: Option<Rc<Prediction>>,
}

impl PartialEq for InsideViewProps {
    fn eq(&self, other: &Self) -> bool {
        let same = |a: Option<*const ()>, b: Option<*const ()>| a == b;
        same(
            self.predictor.as_ref().map(|p| Rc::as_ptr(p).cast()),
            other.predictor.as_ref().map(|p| Rc::as_ptr(p).cast()),
        ) && same(
            self.prediction.as_ref().map(|p| Rc::as_ptr(p).cast()),
            other.prediction.as_ref().map(|p| Rc::as_ptr(p).cast()),
        )
    }
}

/// An explanation and what it took.
#[derive(Clone, PartialEq)]
struct Shown {
    explanation: Rc<Explanation>,
    input: Rc<Vec<f32>>,
    millis: f64,
}

#[component]
pub fn InsideView(props: &InsideViewProps) -> Html {
    let shown = use_state(|| None::<Shown>);
    let pending = use_mut_ref(|| None::<Timeout>);
    {
        let (shown, pending) = (shown.clone(), pending.clone());
        let (predictor, prediction) = (props.predictor.clone(), props.prediction.clone());
        let key = (
            predictor.as_ref().map(|p| Rc::as_ptr(p) as usize),
            prediction.as_ref().map(|p| Rc::as_ptr(p) as usize),
        );
        use_effect_with(key, move |_| {
            // Only the newest drawing matters: dropping a pending timer cancels it.
            *pending.borrow_mut() = None;
            match (predictor, prediction) {
                (Some(predictor), Some(prediction)) => {
                    *pending.borrow_mut() = Some(Timeout::new(0, move || {
                        let started = web_time::Instant::now();
                        if let Ok(e) = predictor.explain(&prediction.input) {
                            shown.set(Some(Shown {
                                explanation: Rc::new(e),
                                input: Rc::new(prediction.input.to_vec()),
                                millis: started.elapsed().as_secs_f64() * 1e3,
                            }));
                        }
                    }));
                }
                _ => shown.set(None),
            }
        });
    }
    let shown = (*shown).clone();
    let e = shown.as_ref().map(|s| s.explanation.clone());
    let millis = shown.as_ref().map(|s| format!("{:.2}", s.millis)).unwrap_or_default();
    let digit = e.as_ref().map(|e| e.target.to_string()).unwrap_or_default();
    let saliency = shown
        .as_ref()
        .map(|s| saliency_overlay(&s.input, &s.explanation.saliency, IMAGE_SIDE));
    let filters = e.as_ref().map(|e| filter_tiles(&e.filters));
    html! {
        <section class="card inside-card" data-testid="inside" data-explain-ms={millis} data-digit={digit}>
            <h2>{ "Look inside the network" }</h2>
            <p class="hint">
                { "What the network computes for your drawing: the input and which pixels raise the digit's score, the first layer's learned filters, each layer's outputs, and the ten scores it ends with." }
            </p>
            <div class="inside-top">
                <figure>
                    <PictureCanvas picture={saliency} testid="saliency" class="saliency" />
                    <figcaption>{ match &e {
                        Some(e) => format!("Saliency for {}: red pixels raise its score, blue ones lower it", e.target),
                        None => "Saliency (draw a digit)".into(),
                    } }</figcaption>
                </figure>
                <figure>
                    <PictureCanvas picture={filters} testid="filters" class="filters" />
                    <figcaption>{ match &e {
                        Some(e) => format!("First layer: {} filters of 3×3 (red +, blue −)", e.filters.channels),
                        None => "First layer's filters".into(),
                    } }</figcaption>
                </figure>
                if let Some(e) = &e {
                    { logits(e) }
                }
            </div>
            <div class="feature-maps" data-testid="feature-maps">
                if let Some(e) = &e {
                    { for blocks(&e.layers).into_iter().map(|(title, layers)| html! {
                        <div class="block-maps">
                            <h3>{ title }</h3>
                            { for layers.into_iter().map(layer) }
                        </div>
                    }) }
                }
            </div>
        </section>
    }
}

/// The layers in blocks: each block's convs and the pool that ends it.
fn blocks(layers: &[LayerMap]) -> Vec<(String, Vec<&LayerMap>)> {
    let mut out: Vec<(String, Vec<&LayerMap>)> = Vec::new();
    let mut current = Vec::new();
    for l in layers {
        current.push(l);
        if let Some(n) = l.name.strip_prefix("pool") {
            out.push((format!("Block {n}"), std::mem::take(&mut current)));
        }
    }
    if !current.is_empty() {
        out.push(("Layers".into(), current));
    }
    out
}

fn layer(l: &LayerMap) -> Html {
    let caption = format!("{} · {} × {}×{}", l.name, l.channels, l.height, l.width);
    html! {
        <figure class="layer" data-testid="layer" data-layer={l.name.clone()}
                data-channels={l.channels.to_string()} data-height={l.height.to_string()}
                data-width={l.width.to_string()}>
            <PictureCanvas picture={Some(tiles(l))} class="maps" />
            <figcaption>{ caption }</figcaption>
        </figure>
    }
}

fn logits(e: &Explanation) -> Html {
    html! {
        <table class="logits" data-testid="logits">
            <caption>{ format!("Head: {} inputs → 10 logits → softmax", crate::app::state::count(e.head_inputs)) }</caption>
            <tr><th>{ "digit" }</th><th>{ "logit" }</th><th>{ "probability" }</th></tr>
            { for (0..e.logits.len()).map(|d| html! {
                <tr class={classes!((d == e.target).then_some("best"))}>
                    <td>{ d }</td>
                    <td>{ format!("{:.2}", e.logits[d]) }</td>
                    <td>{ format!("{:.1} %", 100.0 * e.probabilities.get(d).copied().unwrap_or(0.0)) }</td>
                </tr>
            }) }
        </table>
    }
}

#[derive(Properties, PartialEq)]
struct PictureCanvasProps {
    picture: Option<Picture>,
    #[prop_or_default]
    testid: Option<AttrValue>,
    #[prop_or_default]
    class: Classes,
}

/// A canvas of the picture's own size (CSS scales it, pixelated); blank without one.
#[component]
fn PictureCanvas(props: &PictureCanvasProps) -> Html {
    let canvas_ref = use_node_ref();
    {
        let canvas_ref = canvas_ref.clone();
        use_effect_with(props.picture.clone(), move |picture| {
            if let Some(canvas) = canvas_ref.cast::<HtmlCanvasElement>() {
                paint(&canvas, picture.as_ref());
            }
        });
    }
    let (w, h) = props
        .picture
        .as_ref()
        .map_or((IMAGE_SIDE, IMAGE_SIDE), |p| (p.width, p.height));
    html! {
        <canvas ref={canvas_ref} class={classes!("picture", props.class.clone())} data-testid={props.testid.clone()}
                width={w.to_string()} height={h.to_string()} />
    }
}

/// Puts the picture on the canvas, or clears it (nothing drawn: nothing to show).
fn paint(canvas: &HtmlCanvasElement, p: Option<&Picture>) {
    let Some(ctx) =
        (canvas.get_context("2d").ok().flatten()).and_then(|c| c.dyn_into::<CanvasRenderingContext2d>().ok())
    else {
        return;
    };
    let Some(p) = p else {
        ctx.clear_rect(0.0, 0.0, canvas.width() as f64, canvas.height() as f64);
        return;
    };
    if let Ok(image) = ImageData::new_with_u8_clamped_array_and_sh(Clamped(&p.rgba), p.width as u32, p.height as u32) {
        let _ = ctx.put_image_data(&image, 0.0, 0.0);
    }
}
