//! The page: owns the [`AppState`] reducer, lays out the panels and wires them to the training
//! controller (`controller.rs`) and the predictor.
//!
//! Contract: panels get plain props and report through callbacks that only dispatch actions or
//! message the worker. Prediction runs here, on the main thread, with the current
//! [`crate::predictor::Predictor`]; training never does.

use std::rc::Rc;

use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::app::settings::TrainSettings;
use crate::app::state::{Action, AppState, DigitsScore, ErrorKind, RunState};
use crate::data::Dataset;
use crate::predictor::{PredictError, Predictor};

/// Images in the MNIST test set: a model's evaluation is complete when it covers them all.
const MNIST_TEST_SIZE: usize = 10_000;

use super::confusion_view::ConfusionView;
use super::controller::use_training_controller;
use super::draw_pad::{DrawPad, Drawing};
use super::env::{query_string, worker_budget};
use super::error_banner::ErrorBanner;
use super::finetune_view::FinetuneView;
use super::hooks::{
    load_pretrained, load_test_set, now_ms, use_digits_storage, use_model_storage, use_worker_crash_listener,
};
use super::inside_view::InsideView;
use super::model_panel::{download, entries, file_name, ModelPanel};
use super::my_digits_panel::MyDigitsPanel;
use super::prediction_view::PredictionView;
use super::progress_chart::ProgressChart;
use super::train_panel::TrainPanel;
use super::worker_build::WorkerBuild;

/// Yew's view of the reducer: every transition is [`AppState::apply`], tested natively.
impl Reducible for AppState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut next = (*self).clone();
        next.apply(action);
        Rc::new(next)
    }
}

#[derive(Properties, PartialEq)]
pub struct PageProps {
    /// The worker build the page runs (shown under the training controls).
    pub build: WorkerBuild,
}

#[component]
pub fn Page(props: &PageProps) -> Html {
    let state = use_reducer(|| {
        let budget = worker_budget();
        AppState {
            settings: TrainSettings::from_query_on(&query_string(), budget),
            worker_cap: budget.memory_cap,
            ..AppState::default()
        }
    });
    let dispatch = state.dispatcher();
    let last_drawing = use_mut_ref(|| None::<Drawing>);
    let controller = use_training_controller(dispatch.clone(), state.settings.clone(), props.build);
    use_worker_crash_listener(dispatch.clone());

    use_model_storage(&state);
    use_digits_storage(&state);
    {
        let dispatch = dispatch.clone();
        use_effect_with((), move |_| {
            spawn_local(async move {
                load_pretrained(dispatch.clone()).await;
                // After the model: the first prediction must not wait for the test set.
                load_test_set(dispatch).await;
            });
        });
    }

    // A model whose evaluation on the whole test set is unknown is scored by the worker.
    {
        let needed = state.evaluation_needed(MNIST_TEST_SIZE);
        let weights = (needed.as_deref())
            .and_then(|id| state.models.get(id))
            .map(|m| m.weights.clone());
        let (evaluate, dispatch) = (controller.evaluate.clone(), dispatch.clone());
        use_effect_with(needed, move |needed| {
            if let (Some(id), Some(weights)) = (needed, weights) {
                evaluate.emit((id.clone(), weights.to_vec()));
                // The progress line shows at once, not after the first slice.
                dispatch.dispatch(Action::ScoringRequested {
                    id: id.clone(),
                    total: MNIST_TEST_SIZE,
                });
            }
        });
    }

    // A new model re-predicts what is on the canvas.
    {
        let (predictor, last_drawing, dispatch) = (state.predictor.clone(), last_drawing.clone(), dispatch.clone());
        let key = predictor.as_ref().map(|p| Rc::as_ptr(p) as usize);
        use_effect_with(key, move |_| {
            if let (Some(p), Some(d)) = (&predictor, last_drawing.borrow().as_ref()) {
                dispatch.dispatch(predict(p, d));
            }
        });
    }

    // The current model's score on My digits, whenever the model or the samples change: usually
    // a few dozen images, but an import can bring 5,000 (seconds of work), so they are scored on
    // this thread in slices of 100 with a turn of the event loop between, and a newer model or
    // set of samples cancels the old scoring.
    {
        let needed = state.digits_score_needed();
        let (handle, dispatch) = (state.clone(), dispatch.clone());
        use_effect_with(needed, move |needed| {
            let cancelled = Rc::new(std::cell::Cell::new(false));
            if let (Some((model_id, generation)), Some(p)) = (needed.clone(), handle.predictor.clone()) {
                // Built here, when a score is needed, not at every render (up to 3.9 MB).
                let data = handle.my_digits.dataset();
                let cancelled = cancelled.clone();
                spawn_local(async move {
                    let device = candle_core::Device::Cpu;
                    let mut partial = crate::evaluation::PartialEvaluation::default();
                    while partial.scored() < data.len() {
                        let slice = crate::evaluation::evaluate_more(p.model(), &data, &device, &mut partial, 100);
                        if slice.is_err() {
                            return;
                        }
                        gloo_timers::future::TimeoutFuture::new(0).await;
                        if cancelled.get() {
                            return;
                        }
                    }
                    let e = partial.finish();
                    dispatch.dispatch(Action::DigitsScored(DigitsScore {
                        model_id,
                        generation,
                        correct: e.confusion.correct() as usize,
                        total: data.len(),
                    }));
                });
            }
            move || cancelled.set(true)
        });
    }
    // A cleared pad leaves nothing to re-predict when the model changes.
    {
        let last_drawing = last_drawing.clone();
        use_effect_with(state.pad_clears, move |_| *last_drawing.borrow_mut() = None);
    }
    let on_correct = dispatch.to_callback().reform(|label: u8| Action::Correct {
        label,
        now_ms: now_ms(),
    });
    let on_import = (dispatch.to_callback()).reform(|result: Result<Dataset, String>| Action::ImportedDigits {
        result,
        now_ms: now_ms(),
    });

    let on_finetune = {
        let (state, dispatch, finetune) = (state.clone(), dispatch.clone(), controller.finetune.clone());
        Callback::from(move |_| {
            let now = now_ms();
            let base = state.selected.as_deref().and_then(|id| state.models.get(id));
            if let (None, Some(base)) = (state.finetune_blocker(), base) {
                finetune.emit((base.entry.id.clone(), base.weights.to_vec(), state.my_digits.dataset()));
            }
            dispatch.dispatch(Action::FinetuneRequested { now_ms: now });
        })
    };

    let on_drawing = {
        let (predictor, dispatch) = (state.predictor.clone(), dispatch.clone());
        Callback::from(move |drawing: Option<Drawing>| {
            let action = match (&predictor, &drawing) {
                (Some(p), Some(d)) => predict(p, d),
                _ => Action::Predicted(None),
            };
            *last_drawing.borrow_mut() = drawing;
            dispatch.dispatch(action);
        })
    };

    let on_upload = {
        let dispatch = dispatch.clone();
        Callback::from(move |result: Result<(String, Vec<u8>), String>| match result {
            Ok((name, bytes)) => dispatch.dispatch(Action::Uploaded {
                name,
                bytes: Rc::new(bytes),
                now_ms: now_ms(),
            }),
            Err(e) => dispatch.dispatch(Action::Failed(ErrorKind::Upload, e)),
        })
    };
    let on_download = {
        let state = state.clone();
        Callback::from(move |id: String| {
            if let Some(m) = state.models.get(&id) {
                download(&m.weights, &file_name(&m.entry));
            }
        })
    };

    let s = &*state;
    let summary = s
        .predictor
        .as_ref()
        .map_or_else(|| "Loading the pretrained model…".to_string(), |p| describe_model(p));
    let placeholder = if s.predictor.is_some() {
        "draw a digit"
    } else {
        "loading the model…"
    };
    let training_live = matches!(s.run_state(), RunState::Training | RunState::Loading);
    let live_weights = training_live && s.selected.is_some() && s.selected == s.run_id;

    html! {
        <>
            <header class="top">
                <h1>{ "VGG on MNIST, in your browser" }</h1>
                <p>{ "Draw a digit and a small convolutional network reads it — then train your own, right here. Everything runs locally in WebAssembly." }</p>
            </header>
            if let Some(error) = s.error.clone() {
                <ErrorBanner {error} on_retry={controller.retry.clone()}
                    on_dismiss={dispatch.to_callback().reform(|_| Action::DismissError)} />
            }
            if let Some(notice) = s.notice.clone() {
                <div class="notice" data-testid="notice">
                    <span>{ notice }</span>
                    if s.offers_undo() {
                        <button class="secondary small" data-testid="model-undo"
                                onclick={dispatch.to_callback().reform(|_| Action::UndoDelete)}>{ "Undo" }</button>
                    }
                    <button class="link" aria-label="Dismiss" onclick={dispatch.to_callback().reform(|_| Action::Notice(None))}>{ "×" }</button>
                </div>
            }
            <main class="layout">
                <div class="column">
                    <section class="card draw-card">
                        <h2>{ "Draw" }
                            if live_weights {
                                <span class="badge">{ "live weights" }</span>
                            }
                        </h2>
                        <div class="draw-row">
                            <DrawPad {on_drawing} clear_signal={s.pad_clears} on_key={on_correct.clone()} />
                            <PredictionView prediction={s.prediction.clone()} placeholder={placeholder} {on_correct} />
                        </div>
                    </section>
                    <MyDigitsPanel samples={s.my_digits.samples().to_vec()} restored={s.my_digits.restored}
                        score={s.digits_score.clone()}
                        on_delete={dispatch.to_callback().reform(Action::DeleteDigit)}
                        on_clear={dispatch.to_callback().reform(|_| Action::ClearDigits)} {on_import}>
                        <FinetuneView finetuning={s.finetuning.clone()} blocker={s.finetune_blocker()}
                            base={s.selected_entry().map(|e| e.name.clone())} on_start={on_finetune} />
                    </MyDigitsPanel>
                    <ModelPanel entries={entries(&s.models)} broken={s.models.broken().to_vec()}
                        selected={s.selected.clone()} {summary}
                        on_use={dispatch.to_callback().reform(Action::UseModel)}
                        on_delete={dispatch.to_callback().reform(Action::DeleteModel)}
                        {on_download} {on_upload} />
                </div>
                <div class="column">
                    <TrainPanel settings={s.settings.clone()} state={s.run_state()}
                        progress={s.progress.clone()} test_accuracy={s.run_accuracy}
                        on_command={controller.command.clone()}
                        build={props.build}
                        on_settings={dispatch.to_callback().reform(Action::SetSettings)} />
                    <section class="card chart-card">
                        <h2>{ "Progress" }</h2>
                        <ProgressChart loss={s.progress.loss_history.clone()}
                            accuracy={s.progress.accuracy_history.clone()}
                            total_steps={s.progress.total_steps} />
                    </section>
                </div>
                <InsideView predictor={s.predictor.clone()} prediction={s.prediction.clone()} />
                <ConfusionView evaluation={s.evaluation()} test_set={s.test_set.clone()}
                    kind={s.selected_entry().map(|e| e.kind)} caption={s.evaluation_caption()}
                    scoring={s.scoring.clone().filter(|sc| s.selected.as_ref() == Some(&sc.id))}
                    busy={s.run_state().is_active() && s.selected != s.run_id}
                    selected={s.selected_cell} on_select={dispatch.to_callback().reform(Action::SelectCell)} />
            </main>
            <footer>
                { "MNIST by Yann LeCun, Corinna Cortes and Christopher J.C. Burges (CC BY-SA 3.0). Built with candle, Yew and Trunk." }
            </footer>
        </>
    }
}

fn predict(predictor: &Predictor, d: &Drawing) -> Action {
    match predictor.predict_strokes(&d.strokes) {
        Ok(p) => Action::Predicted(Some(Rc::new(p))),
        Err(PredictError::Empty) => Action::Predicted(None),
        Err(e) => Action::Notice(Some(e.to_string())),
    }
}

fn describe_model(p: &Predictor) -> String {
    let c = p.config();
    format!(
        "VGG, widths {}/{}, {} convs per block, {} parameters",
        c.widths[0],
        c.widths[1],
        c.convs_per_block,
        c.num_params()
    )
}
