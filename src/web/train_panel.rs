//! Training controls: the settings form, Start / Pause-Resume / Stop / Reset, and live status.
//!
//! Contract (DOM): `button[data-testid=train-start|train-pause|train-stop]`;
//! `[data-testid=train-status]` carries `data-state`, `data-epoch` (1-based), `data-step`,
//! `data-images-per-second`, `data-test-accuracy` (latest evaluation, empty before one) and
//! `data-test-images` (how many test images it scored: 1,000 during a run, all at its end).
//! `[data-testid=worker-build]` carries `data-build` (`relaxed-simd` or `simd128`) and `data-workers` (workers of the run, 0 before one starts).
//! Settings are locked while a run exists, so what the status shows is what runs.

use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use crate::app::settings::{TrainSettings, WidthPreset};
use crate::app::state::{RunProgress, RunState};

use super::worker_build::WorkerBuild;

/// What the buttons ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TrainCommand {
    Start,
    Pause,
    Resume,
    Stop,
    Reset,
}

#[derive(Properties, PartialEq)]
pub struct TrainPanelProps {
    pub settings: TrainSettings,
    pub state: RunState,
    pub progress: RunProgress,
    /// The latest evaluation: accuracy and the number of test images it scored.
    pub test_accuracy: Option<(f64, usize)>,
    pub on_command: Callback<TrainCommand>,
    /// Which worker build trains (named under the buttons).
    pub build: WorkerBuild,
    pub on_settings: Callback<TrainSettings>,
}

#[component]
pub fn TrainPanel(props: &TrainPanelProps) -> Html {
    let s = &props.settings;
    let p = &props.progress;
    let active = props.state.is_active();
    let cmd = |c: TrainCommand| props.on_command.reform(move |_: MouseEvent| c);
    let (pause_label, pause_cmd) = match props.state {
        RunState::Paused => ("Resume", TrainCommand::Resume),
        _ => ("Pause", TrainCommand::Pause),
    };
    let number = |label: &'static str,
                  value: String,
                  step: &'static str,
                  min: &'static str,
                  set: fn(&mut TrainSettings, &str)| {
        let (settings, on_settings) = (s.clone(), props.on_settings.clone());
        let onchange = Callback::from(move |e: Event| {
            let input: HtmlInputElement = e.target_unchecked_into();
            let mut next = settings.clone();
            set(&mut next, &input.value());
            on_settings.emit(next);
        });
        html! {
            <label>{ label }
                <input type="number" {value} {step} {min} disabled={active} {onchange} />
            </label>
        }
    };
    let on_width = {
        let (settings, on_settings) = (s.clone(), props.on_settings.clone());
        Callback::from(move |e: Event| {
            let select: HtmlSelectElement = e.target_unchecked_into();
            if let Some(width) = WidthPreset::from_key(&select.value()) {
                on_settings.emit(TrainSettings {
                    width,
                    ..settings.clone()
                });
            }
        })
    };
    let epoch = if p.total_steps > 0 { p.epoch + 1 } else { 0 };
    let accuracy = props.test_accuracy.map(|(a, _)| format!("{a:.4}")).unwrap_or_default();
    let scored = props.test_accuracy.map(|(_, n)| n.to_string()).unwrap_or_default();
    let status_text = match (props.state, p.scoring) {
        (RunState::Idle, _) => "Ready to train".to_string(),
        (RunState::Loading, _) => format!("Loading MNIST… {}", p.loading),
        (RunState::Error, _) => "Training failed (see the message above)".to_string(),
        (RunState::Training, Some((scored, total))) => {
            format!("scoring the trained model on the test set · {scored}/{total} images")
        }
        _ => format!(
            "{} · epoch {epoch}/{} · step {}/{} · {:.0} img/s{}",
            props.state.key(),
            s.epochs,
            p.step,
            p.total_steps,
            p.images_per_second,
            if props.state == RunState::Training {
                format!(" · ETA {}", eta(p.eta_seconds))
            } else {
                String::new()
            },
        ),
    };
    html! {
        <section class="card train-panel">
            <h2>{ "Train in your browser" }</h2>
            <div class="settings">
                { number("Epochs", s.epochs.to_string(), "1", "1", |s, v| if let Ok(x) = v.parse() { s.epochs = x }) }
                { number("Batch size", s.batch_size.to_string(), "1", "1", |s, v| if let Ok(x) = v.parse() { s.batch_size = x }) }
                { number("Learning rate", s.lr.to_string(), "0.0005", "0", |s, v| if let Ok(x) = v.parse() { s.lr = x }) }
                { number("Training images", s.train_size.to_string(), "1000", "100", |s, v| if let Ok(x) = v.parse() { s.train_size = x }) }
                { number("Workers", s.workers.to_string(), "1", "1", |s, v| if let Ok(x) = v.parse() { s.workers = x }) }
                <label>{ "Model width" }
                    <select disabled={active} onchange={on_width}>
                        { for WidthPreset::ALL.iter().map(|w| html! {
                            <option value={w.key()} selected={*w == s.width}>{ w.label() }</option>
                        }) }
                    </select>
                </label>
            </div>
            <div class="buttons">
                <button data-testid="train-start" disabled={active} onclick={cmd(TrainCommand::Start)}>
                    { if props.state == RunState::Done { "Train again" } else { "Start" } }
                </button>
                <button data-testid="train-pause" class="secondary"
                        disabled={!matches!(props.state, RunState::Training | RunState::Paused)}
                        onclick={cmd(pause_cmd)}>{ pause_label }</button>
                <button data-testid="train-stop" class="secondary" disabled={!active}
                        onclick={cmd(TrainCommand::Stop)}>{ "Stop" }</button>
                <button class="secondary" data-testid="train-reset" onclick={cmd(TrainCommand::Reset)}>{ "Reset" }</button>
            </div>
            <div class="train-status" data-testid="train-status" role="status"
                 data-state={props.state.key()} data-epoch={epoch.to_string()}
                 data-step={p.step.to_string()}
                 data-images-per-second={format!("{:.1}", p.images_per_second)}
                 data-test-accuracy={accuracy.clone()} data-test-images={scored}>
                <span>{ status_text }</span>
                if let Some((a, n)) = props.test_accuracy {
                    <span class="accuracy">{ format!("test accuracy {:.2}% ({})", a * 100.0, scored_label(n)) }</span>
                }
                <progress max={p.total_steps.max(1).to_string()} value={p.step.to_string()} />
            </div>
            <p class="hint" data-testid="worker-build" data-build={props.build.key()}
               data-workers={p.workers.to_string()}>
                { workers_text(p.workers, s.workers, props.build) }
            </p>
        </section>
    }
}

/// Where training runs: the workers of the current run once it has started, else those asked for.
fn workers_text(running: usize, asked: usize, build: WorkerBuild) -> String {
    let n = if running > 0 { running } else { asked };
    let simd = build.label();
    if n <= 1 {
        format!("Trains in a Web Worker on one core, {simd}.")
    } else {
        format!("Trains in {n} Web Workers, one core each, each on a slice of every batch (data-parallel), {simd}.")
    }
}

fn eta(seconds: f64) -> String {
    let s = seconds.max(0.0).round() as u64;
    if s >= 60 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// "10,000 test images": how many images an accuracy was measured on (the first 1,000 during a
/// run, all of them at its end).
fn scored_label(n: usize) -> String {
    let count = if n >= 1000 {
        format!("{},{:03}", n / 1000, n % 1000)
    } else {
        n.to_string()
    };
    format!("{count} test images")
}
