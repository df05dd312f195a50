//! The page: owns the [`AppState`] reducer, lays out the panels and wires them to the training
//! controller (`controller.rs`) and the predictor.
//!
//! Contract: panels get plain props and report through callbacks that only dispatch actions or
//! message the worker. Prediction runs here, on the main thread, with the current
//! [`crate::predictor::Predictor`]; training never does.

use std::rc::Rc;

use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;

use crate::app::model_source::ModelSource;
use crate::app::settings::TrainSettings;
use crate::app::state::{Action, AppState, ErrorKind, RunState};
use crate::predictor::{PredictError, Predictor};

use super::confusion_view::ConfusionView;
use super::controller::use_training_controller;
use super::draw_pad::{DrawPad, Drawing};
use super::env::{query_string, worker_budget};
use super::error_banner::ErrorBanner;
use super::hooks::{load_pretrained, restore_trained, use_worker_crash_listener};
use super::model_panel::ModelPanel;
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
    let state = use_reducer(|| AppState {
        settings: TrainSettings::from_query_on(&query_string(), worker_budget()),
        ..AppState::default()
    });
    let dispatch = state.dispatcher();
    let last_drawing = use_mut_ref(|| None::<Drawing>);
    let controller = use_training_controller(dispatch.clone(), state.settings.clone(), props.build);
    use_worker_crash_listener(dispatch.clone());

    {
        let dispatch = dispatch.clone();
        use_effect_with((), move |_| {
            spawn_local(async move {
                load_pretrained(dispatch.clone()).await;
                restore_trained(dispatch).await;
            });
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
        Callback::from(move |result: Result<Vec<u8>, String>| match result {
            Ok(bytes) => dispatch.dispatch(Action::ModelBytes {
                source: ModelSource::Uploaded,
                bytes: Rc::new(bytes),
                activate: true,
            }),
            Err(e) => dispatch.dispatch(Action::Failed(ErrorKind::Upload, e)),
        })
    };

    let s = &*state;
    let available: Vec<ModelSource> = ModelSource::ALL
        .into_iter()
        .filter(|&m| s.models.get(m).is_some())
        .collect();
    let current = s.source.and_then(|m| s.models.get(m));
    let summary = s
        .predictor
        .as_ref()
        .map_or_else(|| "Loading the pretrained model…".to_string(), |p| describe_model(p));
    let placeholder = if s.predictor.is_some() {
        "draw a digit"
    } else {
        "loading the model…"
    };
    let test_accuracy = (s.last_eval.as_ref()).map(|r| (r.evaluation.accuracy, r.evaluation.predictions.len()));
    let training_live = matches!(s.run_state(), RunState::Training | RunState::Loading);

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
                    <button class="link" onclick={dispatch.to_callback().reform(|_| Action::Notice(None))}>{ "×" }</button>
                </div>
            }
            <main class="layout">
                <div class="column">
                    <section class="card draw-card">
                        <h2>{ "Draw" }
                            if training_live && s.source == Some(ModelSource::Trained) {
                                <span class="badge">{ "live weights" }</span>
                            }
                        </h2>
                        <div class="draw-row">
                            <DrawPad {on_drawing} />
                            <PredictionView prediction={s.prediction.clone()} placeholder={placeholder} />
                        </div>
                    </section>
                    <ModelPanel source={s.source} {available} {current} summary={summary}
                        on_select={dispatch.to_callback().reform(Action::UseModel)} {on_upload} />
                </div>
                <div class="column">
                    <TrainPanel settings={s.settings.clone()} state={s.run_state()}
                        progress={s.progress.clone()} {test_accuracy} on_command={controller.command.clone()}
                        build={props.build}
                        on_settings={dispatch.to_callback().reform(Action::SetSettings)} />
                    <section class="card chart-card">
                        <h2>{ "Progress" }</h2>
                        <ProgressChart loss={s.progress.loss_history.clone()}
                            accuracy={s.progress.accuracy_history.clone()}
                            total_steps={s.progress.total_steps} />
                    </section>
                </div>
                <ConfusionView report={s.last_eval.clone()} eval_set={s.eval_set.clone()}
                    selected={s.selected_cell} on_select={dispatch.to_callback().reform(Action::SelectCell)} />
            </main>
            <footer>
                { "MNIST by Yann LeCun, Corinna Cortes and Christopher J.C. Burges (CC BY-SA 3.0). Built with candle, Yew and Trunk." }
            </footer>
        </>
    }
}

fn predict(predictor: &Predictor, d: &Drawing) -> Action {
    match predictor.predict_rgba(&d.rgba, d.width, d.height) {
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
