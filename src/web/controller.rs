//! The training controller: the bridge to the training worker and everything the page asks of it
//! (start, pause/resume/stop/reset, the retry that fits a failure), as one hook.
//!
//! Contract: the worker's messages become [`Action::Worker`]s (the reducer files each snapshot
//! under its run's model entry; `hooks::use_model_storage` saves it); the callbacks only message
//! the worker or dispatch actions. `?autostart=1` starts a run once, when the page mounts.

use wasm_bindgen_futures::spawn_local;
use yew::prelude::*;
use yew_agent::reactor::{use_reactor_bridge, ReactorEvent, UseReactorBridgeHandle};

use crate::app::protocol::{FailureKind, WorkerInput};
use crate::app::settings::TrainSettings;
use crate::app::state::{Action, AppState, ErrorKind};
use crate::data::Dataset;

use super::env::absolute_url;
use super::hooks::{load_pretrained, now_ms, DATA_DIR};
use super::train_panel::TrainCommand;
use super::worker::TrainerReactor;
use super::worker_build::WorkerBuild;

/// What the page's panels call.
#[derive(Clone, PartialEq)]
pub struct TrainingController {
    /// Start a run with these settings.
    pub start: Callback<TrainSettings>,
    /// A training button.
    pub command: Callback<TrainCommand>,
    /// The error banner's retry for this kind of failure.
    pub retry: Callback<ErrorKind>,
    /// Score model `id` (these weights) on the whole test set.
    pub evaluate: Callback<(String, Vec<u8>)>,
    /// Fine-tune model `id` (these weights) on these digits.
    pub finetune: Callback<(String, Vec<u8>, Dataset)>,
}

#[hook]
pub fn use_training_controller(
    dispatch: UseReducerDispatcher<AppState>,
    settings: TrainSettings,
    build: WorkerBuild,
) -> TrainingController {
    let bridge: UseReactorBridgeHandle<TrainerReactor> = {
        let dispatch = dispatch.clone();
        use_reactor_bridge(move |event: ReactorEvent<TrainerReactor>| {
            if let ReactorEvent::Output(output) = event {
                dispatch.dispatch(Action::Worker(output));
            }
        })
    };

    let start = {
        let (bridge, dispatch) = (bridge.clone(), dispatch.clone());
        Callback::from(move |settings: TrainSettings| {
            dispatch.dispatch(Action::SetSettings(settings.clone()));
            dispatch.dispatch(Action::StartRequested { now_ms: now_ms() });
            bridge.send(WorkerInput::Start {
                settings: settings.clamped(),
                data_url: absolute_url(DATA_DIR),
                worker_url: absolute_url(build.script()),
            });
        })
    };

    {
        let (start, settings) = (start.clone(), settings.clone());
        use_effect_with((), move |_| {
            if settings.autostart {
                start.emit(settings);
            }
        });
    }

    let command = {
        let (bridge, dispatch, start, settings) = (bridge.clone(), dispatch.clone(), start.clone(), settings.clone());
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

    let retry = {
        let (bridge, dispatch, start) = (bridge.clone(), dispatch.clone(), start.clone());
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
                ErrorKind::Upload | ErrorKind::Storage | ErrorKind::Model | ErrorKind::Digits => {}
            }
        })
    };

    let evaluate = {
        let bridge = bridge.clone();
        Callback::from(move |(id, weights): (String, Vec<u8>)| {
            bridge.send(WorkerInput::Evaluate {
                id,
                weights,
                data_url: absolute_url(DATA_DIR),
            })
        })
    };

    let finetune = {
        let bridge = bridge.clone();
        Callback::from(move |(base_id, weights, samples): (String, Vec<u8>, Dataset)| {
            bridge.send(WorkerInput::Finetune {
                base_id,
                weights,
                images: samples.images,
                labels: samples.labels,
                data_url: absolute_url(DATA_DIR),
            })
        })
    };

    TrainingController {
        start,
        command,
        retry,
        evaluate,
        finetune,
    }
}
