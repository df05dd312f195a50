//! The page: owns the [`AppState`] reducer and the bridge to the training worker, and lays out
//! the panels.
//!
//! Contract: panels get plain props and report through callbacks that only dispatch actions or
//! message the worker. Prediction runs here, on the main thread, with the current
//! [`super::predictor::Predictor`]; training never does.

use std::rc::Rc;

use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;
use yew_agent::reactor::{use_reactor_bridge, ReactorEvent, UseReactorBridgeHandle};

use super::confusion_view::ConfusionView;
use super::draw_pad::{DrawPad, Drawing};
use super::error_banner::ErrorBanner;
use super::hooks::{load_pretrained, restore_trained, use_worker_crash_listener};
use super::model_panel::ModelPanel;
use super::model_source::ModelSource;
use super::prediction_view::PredictionView;
use super::predictor::{PredictError, Predictor};
use super::progress_chart::ProgressChart;
use super::protocol::{FailureKind, WorkerInput, WorkerOutput};
use super::settings::TrainSettings;
use super::state::{Action, AppState, ErrorKind, RunState};
use super::storage;
use super::train_panel::{TrainCommand, TrainPanel};
use super::worker::TrainerReactor;
use super::worker_build::WorkerBuild;

/// Where Trunk puts the MNIST files (copied from `www/data/`), relative to the page.
const DATA_DIR: &str = "data/";

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

    let bridge: UseReactorBridgeHandle<TrainerReactor> = {
        let dispatch = dispatch.clone();
        use_reactor_bridge(move |event: ReactorEvent<TrainerReactor>| {
            if let ReactorEvent::Output(output) = event {
                if let WorkerOutput::Evaluated(report) = &output {
                    // Every snapshot is saved, so a reload restores the latest weights.
                    let weights = report.weights.clone();
                    spawn_local(async move {
                        let _ = storage::save_trained(&weights).await;
                    });
                }
                dispatch.dispatch(Action::Worker(output));
            }
        })
    };
    use_worker_crash_listener(dispatch.clone());

    let start = {
        let (bridge, dispatch, build) = (bridge.clone(), dispatch.clone(), props.build);
        Callback::from(move |settings: TrainSettings| {
            dispatch.dispatch(Action::SetSettings(settings.clone()));
            dispatch.dispatch(Action::StartRequested);
            bridge.send(WorkerInput::Start {
                settings: settings.clamped(),
                data_url: absolute_url(DATA_DIR),
                worker_url: absolute_url(build.script()),
            });
        })
    };

    {
        let (dispatch, start, settings) = (dispatch.clone(), start.clone(), state.settings.clone());
        use_effect_with((), move |_| {
            spawn_local(async move {
                load_pretrained(dispatch.clone()).await;
                restore_trained(dispatch).await;
            });
            if settings.autostart {
                start.emit(settings);
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

    let on_command = {
        let (bridge, dispatch, start, settings) =
            (bridge.clone(), dispatch.clone(), start.clone(), state.settings.clone());
        Callback::from(move |c: TrainCommand| match c {
            TrainCommand::Start => start.emit(settings.clone()),
            TrainCommand::Pause => bridge.send(WorkerInput::Pause),
            TrainCommand::Resume => bridge.send(WorkerInput::Resume),
            TrainCommand::Stop => bridge.send(WorkerInput::Stop),
            TrainCommand::Reset => {
                // A fresh worker: the old one is told to close when its bridge is dropped.
                bridge.reset();
                dispatch.dispatch(Action::ResetTraining);
            }
        })
    };

    let on_retry = {
        let (bridge, dispatch, start, settings) =
            (bridge.clone(), dispatch.clone(), start.clone(), state.settings.clone());
        Callback::from(move |kind: ErrorKind| {
            dispatch.dispatch(Action::DismissError);
            match kind {
                ErrorKind::Pretrained => spawn_local(load_pretrained(dispatch.clone())),
                ErrorKind::Training(FailureKind::Diverged) => start.emit(TrainSettings {
                    lr: settings.lr / 2.0,
                    ..settings.clone()
                }),
                ErrorKind::Training(_) => start.emit(settings.clone()),
                ErrorKind::WorkerCrash => {
                    bridge.reset();
                    dispatch.dispatch(Action::ResetTraining);
                    start.emit(settings.clone());
                }
                ErrorKind::Upload => {}
            }
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
    let test_accuracy = s.last_eval.as_ref().map(|r| (r.accuracy, r.predictions.len()));
    let training_live = matches!(s.run_state(), RunState::Training | RunState::Loading);

    html! {
        <>
            <header class="top">
                <h1>{ "VGG on MNIST, in your browser" }</h1>
                <p>{ "Draw a digit and a small convolutional network reads it — then train your own, right here. Everything runs locally in WebAssembly." }</p>
            </header>
            if let Some(error) = s.error.clone() {
                <ErrorBanner {error} {on_retry}
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
                        progress={s.progress.clone()} {test_accuracy} {on_command}
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

/// `relative` resolved against the page's URL (unchanged if that fails).
fn absolute_url(relative: &str) -> String {
    web_sys::window()
        .and_then(|w| w.location().href().ok())
        .and_then(|href| web_sys::Url::new_with_base(relative, &href).ok())
        .map_or_else(|| relative.to_string(), |u| u.href())
}

/// How many workers this device can run well: its logical cores (`navigator.hardwareConcurrency`,
/// 1 if unknown), but no more than one per 2 GB of memory where the browser says
/// (`navigator.deviceMemory`, Chromium): each worker holds its own copy of the training set
/// (47 MB) and of the model, which a phone with little memory should not multiply.
fn worker_budget() -> usize {
    let Some(navigator) = web_sys::window().map(|w| w.navigator()) else {
        return 1;
    };
    let cores = navigator.hardware_concurrency() as usize;
    let memory_gb = js_sys::Reflect::get(&navigator, &"deviceMemory".into())
        .ok()
        .and_then(|v| v.as_f64());
    match memory_gb {
        Some(gb) if gb.is_finite() && gb > 0.0 => cores.min(((gb / 2.0) as usize).max(1)),
        _ => cores,
    }
}

/// The page URL's query string (`?a=1&b=2`), empty if unavailable.
pub(super) fn query_string() -> String {
    web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default()
}
