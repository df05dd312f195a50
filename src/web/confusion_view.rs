//! The confusion matrix as a heat-map, per-class precision/recall, and the held-out images of a
//! clicked cell.
//!
//! It shows the evaluation of the model that predicts: from page load for the shipped model (its
//! recorded evaluation), a run's latest snapshot while it trains, and for any other model what the
//! worker computed (with a progress line while it scores).
//!
//! Contract (DOM): `[data-testid=confusion-matrix]` always holds 100 `[data-testid=cm-cell]`
//! with `data-true`, `data-pred`, `data-count` (zeros while no evaluation is known), and carries
//! `data-model` (the model's kind: pretrained, trained, uploaded, finetuned) and `data-images` (how
//! many test images the counts cover). Rows are the true digit, columns the predicted one, as in
//! [`crate::metrics::ConfusionMatrix`]. Colour intensity is the share of the row, so rare and
//! frequent digits read alike. `[data-testid=matrix-scoring]` is the progress line.

use std::rc::Rc;

use yew::prelude::*;

use crate::app::model_history::ModelKind;
use crate::app::state::{EvalSet, Scoring};
use crate::data::IMAGE_PIXELS;
use crate::evaluation::Evaluation;
use crate::metrics::ConfusionMatrix;

use super::digit_image::DigitImage;

/// At most this many examples are shown for a cell.
const MAX_EXAMPLES: usize = 40;

#[derive(Properties, PartialEq)]
pub struct ConfusionViewProps {
    /// The evaluation shown: of the first `predictions.len()` test images.
    pub evaluation: Option<Rc<Evaluation>>,
    pub test_set: Option<Rc<EvalSet>>,
    /// The kind of the model it belongs to.
    pub kind: Option<ModelKind>,
    /// Which model, and how many images (the heading).
    pub caption: Option<String>,
    /// The worker scoring this model.
    pub scoring: Option<Scoring>,
    /// A run keeps the worker busy: an unknown evaluation waits for it.
    pub busy: bool,
    pub selected: Option<(usize, usize)>,
    pub on_select: Callback<Option<(usize, usize)>>,
}

#[component]
pub fn ConfusionView(props: &ConfusionViewProps) -> Html {
    let empty = ConfusionMatrix::default();
    let cm = props.evaluation.as_ref().map_or(&empty, |e| &e.confusion);
    let images = props.evaluation.as_ref().map_or(0, |e| e.predictions.len());
    let rows = (0..10).map(|t| {
        let row_total: u64 = cm.counts[t].iter().sum();
        let cells = (0..10).map(|p| {
            let count = cm.counts[t][p];
            let share = if row_total > 0 {
                count as f64 / row_total as f64
            } else {
                0.0
            };
            // Correct cells in blue, errors in red; errors are rare, so they are boosted.
            let (hue, alpha) = if t == p {
                (215, share)
            } else {
                (5, (share * 6.0).min(1.0))
            };
            let selected = props.selected == Some((t, p));
            let onclick = props
                .on_select
                .reform(move |_: MouseEvent| if selected { None } else { Some((t, p)) });
            html! {
                <button class={classes!("cm-cell", selected.then_some("selected"), (t == p).then_some("diag"))}
                        data-testid="cm-cell" data-true={t.to_string()} data-pred={p.to_string()}
                        data-count={count.to_string()}
                        title={format!("true {t}, predicted {p}: {count}")}
                        style={format!("background: hsla({hue}, 75%, 50%, {alpha:.3})")}
                        {onclick}>
                    { if count > 0 { count.to_string() } else { String::new() } }
                </button>
            }
        });
        html! {
            <>
                <span class="cm-label">{ t }</span>
                { for cells }
            </>
        }
    });
    let per_class = cm.per_class();
    html! {
        <section class="card confusion">
            <h2>{ "Confusion matrix" }</h2>
            <p class="hint" data-testid="matrix-caption">
                { props.caption.clone().unwrap_or_else(|| "Waiting for a model…".into()) }
            </p>
            if let Some(sc) = &props.scoring {
                <p class="hint" data-testid="matrix-scoring">
                    { format!("Scoring this model on the MNIST test set… {}/{} images", sc.scored, sc.total) }
                    <progress max={sc.total.to_string()} value={sc.scored.to_string()} />
                </p>
            } else if props.busy && images < 10_000 {
                <p class="hint">{ "This model is scored on the whole test set once the training run ends." }</p>
            }
            <p class="hint">
                { if images > 0 {
                    "Rows: true digit · columns: predicted. Click a cell to see its test images."
                } else {
                    "Fills in as soon as this model's evaluation is known."
                } }
            </p>
            <div class="cm-grid" data-testid="confusion-matrix"
                 data-model={props.kind.map(|k| k.key()).unwrap_or_default()} data-images={images.to_string()}>
                <span class="cm-corner">{ "t\\p" }</span>
                { for (0..10).map(|p| html! { <span class="cm-label">{ p }</span> }) }
                { for rows }
            </div>
            <table class="per-class">
                <tr><th>{ "digit" }</th>{ for (0..10).map(|d| html! { <th>{ d }</th> }) }</tr>
                <tr><th>{ "precision" }</th>{ for per_class.iter().map(|c| html! { <td>{ pct(c.precision, c.support) }</td> }) }</tr>
                <tr><th>{ "recall" }</th>{ for per_class.iter().map(|c| html! { <td>{ pct(c.recall, c.support) }</td> }) }</tr>
            </table>
            { examples(props) }
        </section>
    }
}

fn pct(v: f64, support: u64) -> String {
    if support == 0 {
        "–".into()
    } else {
        format!("{:.0}", v * 100.0)
    }
}

/// The held-out images of the selected cell.
fn examples(props: &ConfusionViewProps) -> Html {
    let (Some((t, p)), Some(evaluation), Some(set)) = (props.selected, &props.evaluation, &props.test_set) else {
        return html! {};
    };
    let hits: Vec<usize> = evaluation
        .predictions
        .iter()
        .zip(&set.labels)
        .enumerate()
        .filter(|(_, (&pred, &truth))| truth as usize == t && pred as usize == p)
        .map(|(i, _)| i)
        .collect();
    let what = if t == p {
        "correctly classified"
    } else {
        "misclassified"
    };
    html! {
        <div class="examples" data-testid="cell-examples">
            <h3>{ format!("True {t}, predicted {p}: {} {what} test images", hits.len()) }</h3>
            <div class="example-grid">
                { for hits.iter().take(MAX_EXAMPLES).filter_map(|&i| {
                    let img = set.images.get(i * IMAGE_PIXELS..(i + 1) * IMAGE_PIXELS)?;
                    let pixels = Rc::new(img.iter().map(|&v| v as f32 / 255.0).collect::<Vec<_>>());
                    Some(html! { <DigitImage {pixels} class="example" title={format!("test image #{i}")} /> })
                }) }
            </div>
        </div>
    }
}
