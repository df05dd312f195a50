//! The prediction: the digit, a probability bar per digit and the 28x28 input the model saw.
//!
//! Contract (DOM): `[data-testid=prediction]` carries `data-digit` (empty when nothing is drawn)
//! and `data-latency-ms`; `[data-testid=prob-N]` carries `data-value` in 0..1;
//! `canvas[data-testid=model-input]` is always present (blank when nothing is drawn); with a
//! prediction, `button[data-testid=correct-0]` … `correct-9` say what the digit really was (the
//! drawing then joins My digits).

use std::rc::Rc;

use yew::prelude::*;

use crate::data::IMAGE_PIXELS;
use crate::predictor::Prediction;

use super::digit_image::DigitImage;

#[derive(Properties, PartialEq)]
pub struct PredictionViewProps {
    pub prediction: Option<Rc<Prediction>>,
    /// Shown instead of a digit when there is no prediction.
    pub placeholder: AttrValue,
    /// The user says which digit the drawing really is.
    #[prop_or_default]
    pub on_correct: Callback<u8>,
}

#[component]
pub fn PredictionView(props: &PredictionViewProps) -> Html {
    let p = props.prediction.as_deref();
    let input = use_memo(props.prediction.clone(), |p| match p {
        Some(p) => p.input.to_vec(),
        None => vec![0.0; IMAGE_PIXELS],
    });
    let digit = p.map(|p| p.digit.to_string()).unwrap_or_default();
    let latency = p.map(|p| format!("{:.2}", p.latency_ms)).unwrap_or_default();
    let bars = (0..10).map(|d| {
        let value = p.map_or(0.0, |p| p.probabilities.get(d).copied().unwrap_or(0.0));
        let best = p.is_some_and(|p| p.digit == d);
        html! {
            <div class={classes!("prob", best.then_some("best"))}
                 data-testid={format!("prob-{d}")} data-value={format!("{value:.4}")}>
                <span class="prob-digit">{ d }</span>
                <span class="prob-track">
                    <span class="prob-fill" style={format!("width: {:.1}%", value * 100.0)} />
                </span>
                <span class="prob-value">{ format!("{:.0}%", value * 100.0) }</span>
            </div>
        }
    });
    html! {
        <div class="prediction-view">
            <div class="prediction-head">
                <div class="prediction" data-testid="prediction"
                     data-digit={digit.clone()} data-latency-ms={latency.clone()}
                     aria-live="polite">
                    if let Some(p) = p {
                        <span class="prediction-digit">{ p.digit }</span>
                        <span class="prediction-meta">
                            { format!("{:.0}% sure · {latency} ms", p.probabilities[p.digit] * 100.0) }
                        </span>
                    } else {
                        <span class="prediction-empty">{ props.placeholder.clone() }</span>
                    }
                </div>
                <figure class="model-input">
                    <DigitImage pixels={input} testid="model-input" title="What the model sees (28x28)" />
                    <figcaption>{ "model input" }</figcaption>
                </figure>
            </div>
            <div class="probs">{ for bars }</div>
            if let Some(p) = p {
                <div class="correct" role="group" aria-label="What the digit really is">
                    <span class="hint">{ "It is a… (or press 0–9 on the pad)" }</span>
                    <div class="correct-buttons">
                        { for (0..10u8).map(|d| {
                            let on_correct = props.on_correct.clone();
                            html! {
                                <button class={classes!("secondary", "small", (p.digit == d as usize).then_some("predicted"))}
                                        data-testid={format!("correct-{d}")}
                                        title={format!("It is a {d}: add it to My digits")}
                                        onclick={Callback::from(move |_: MouseEvent| on_correct.emit(d))}>
                                    { d }
                                </button>
                            }
                        }) }
                    </div>
                </div>
            }
        </div>
    }
}
