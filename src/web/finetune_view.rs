//! "Teach it my handwriting": the button that fine-tunes the model in use on My digits (in the
//! worker, with the core recipe) and what came of it.
//!
//! Contract (DOM): `button[data-testid=finetune-start]`; `[data-testid=finetune-status]` carries
//! `data-state` (idle, training, done, error) and, once done, `data-before`, `data-after` (accuracy
//! on the held-out samples of My digits, 0..1, never tuned on), `data-mnist-before`,
//! `data-mnist-after` (on the first MNIST test images, `data-mnist-images` of them).

use yew::prelude::*;

use crate::app::state::{count, Finetuning};

#[derive(Properties, PartialEq)]
pub struct FinetuneViewProps {
    pub finetuning: Finetuning,
    /// Why it cannot run now (too few samples, a run training, …), said before the click.
    pub blocker: Option<String>,
    /// The model it would start from.
    pub base: Option<String>,
    pub on_start: Callback<()>,
}

#[component]
pub fn FinetuneView(props: &FinetuneViewProps) -> Html {
    let f = &props.finetuning;
    let fmt = |v: f64| format!("{v:.4}");
    let (before, after, mnist_before, mnist_after, mnist_images) = match f {
        Finetuning::Done { report: r, .. } => (
            fmt(r.before),
            fmt(r.after),
            fmt(r.mnist_before),
            fmt(r.mnist_after),
            r.mnist_images.to_string(),
        ),
        _ => Default::default(),
    };
    let running = matches!(f, Finetuning::Training { .. });
    let text = match f {
        Finetuning::Idle => props.blocker.clone().unwrap_or_else(|| {
            format!(
                "Fine-tunes {} on your digits in the background (a few seconds): a fifth of each digit is held out to measure it; MNIST images are mixed in so it keeps what it knows. The result is a new model; this one stays.",
                props.base.as_deref().unwrap_or("the model in use")
            )
        }),
        Finetuning::Training { total: 0, .. } => "Loading MNIST for the replay…".into(),
        Finetuning::Training { step, total } => format!("Fine-tuning… step {step} of {total}"),
        Finetuning::Done { report: r, .. } => {
            let n = |a: f64| (a * r.held_out as f64).round() as usize;
            format!(
                "Held-out digits (never tuned on): {} → {} of {} right ({:.0} % → {:.0} %). MNIST, first {} test images: {:.1} % → {:.1} %. The tuned model is in use now; the one it started from is kept in the list.",
                n(r.before),
                n(r.after),
                r.held_out,
                100.0 * r.before,
                100.0 * r.after,
                count(r.mnist_images),
                100.0 * r.mnist_before,
                100.0 * r.mnist_after
            )
        }
        Finetuning::Error(why) => why.clone(),
    };
    html! {
        <div class="finetune" data-testid="finetune-status" data-state={f.key()}
             data-before={before} data-after={after} data-mnist-before={mnist_before}
             data-mnist-after={mnist_after} data-mnist-images={mnist_images}>
            <button data-testid="finetune-start" disabled={running}
                    onclick={props.on_start.reform(|_: MouseEvent| ())}>{ "Teach it my handwriting" }</button>
            if let Finetuning::Training { step, total } = f {
                <progress max={(*total).max(1).to_string()} value={step.to_string()} />
            }
            <p class={classes!("hint", matches!(f, Finetuning::Error(_)).then_some("bad"))}>{ text }</p>
        </div>
    }
}
