//! Live chart of the run: smoothed training loss (left axis) and held-out test accuracy (right
//! axis) against the step, drawn as SVG so it scales with the layout and stays sharp.
//!
//! Contract: pure rendering of the histories; at most [`MAX_POINTS`] points per line are drawn
//! (evenly thinned), so long runs cost no more to render than short ones.

use yew::prelude::*;

const W: f64 = 400.0;
const H: f64 = 180.0;
const PAD: f64 = 28.0;
const MAX_POINTS: usize = 300;
/// The accuracy axis spans this range: the interesting part of an MNIST run is above 80%.
const ACC_MIN: f64 = 0.8;

#[derive(Properties, PartialEq)]
pub struct ProgressChartProps {
    pub loss: Vec<(usize, f32)>,
    pub accuracy: Vec<(usize, f64)>,
    pub total_steps: usize,
}

#[component]
pub fn ProgressChart(props: &ProgressChartProps) -> Html {
    let total = props.total_steps.max(1) as f64;
    let max_loss = props
        .loss
        .iter()
        .map(|&(_, l)| l as f64)
        .filter(|l| l.is_finite())
        .fold(0.1f64, f64::max);
    let x = |step: usize| PAD + (W - 2.0 * PAD) * (step as f64 / total).min(1.0);
    let y = |v: f64| H - PAD + (2.0 * PAD - H) * v.clamp(0.0, 1.0); // v in 0..1 -> bottom..top
    let loss_points = polyline(&thin(&props.loss), |&(s, l)| (x(s), y(l as f64 / max_loss)));
    let acc_points = polyline(&thin(&props.accuracy), |&(s, a)| {
        (x(s), y((a - ACC_MIN) / (1.0 - ACC_MIN)))
    });
    // The smoothed loss at both ends, for tests to check that it falls.
    let fmt = |l: Option<&(usize, f32)>| l.map(|&(_, l)| format!("{l:.4}")).unwrap_or_default();
    let (first_loss, end_loss) = (fmt(props.loss.first()), fmt(props.loss.last()));
    let last_loss = props.loss.last().map(|&(_, l)| format!("loss {l:.3}"));
    let last_acc = props
        .accuracy
        .last()
        .map(|&(_, a)| format!("test acc {:.1}%", a * 100.0));
    html! {
        <figure class="chart" data-testid="progress-chart" data-points={props.loss.len().to_string()}
                data-first-loss={first_loss} data-last-loss={end_loss}>
            <svg viewBox={format!("0 0 {W} {H}")} role="img"
                 aria-label="Training loss and test accuracy over the steps">
                <line class="axis" x1={PAD.to_string()} y1={(H - PAD).to_string()}
                      x2={(W - PAD).to_string()} y2={(H - PAD).to_string()} />
                <line class="axis" x1={PAD.to_string()} y1={PAD.to_string()}
                      x2={PAD.to_string()} y2={(H - PAD).to_string()} />
                <line class="axis" x1={(W - PAD).to_string()} y1={PAD.to_string()}
                      x2={(W - PAD).to_string()} y2={(H - PAD).to_string()} />
                <text class="tick loss-tick" x="2" y={(PAD + 4.0).to_string()}>{ format!("{max_loss:.1}") }</text>
                <text class="tick loss-tick" x="2" y={(H - PAD).to_string()}>{ "0" }</text>
                <text class="tick acc-tick" x={(W - PAD + 3.0).to_string()} y={(PAD + 4.0).to_string()}>{ "100%" }</text>
                <text class="tick acc-tick" x={(W - PAD + 3.0).to_string()} y={(H - PAD).to_string()}>{ "80%" }</text>
                <text class="tick" x={(W / 2.0).to_string()} y={(H - 8.0).to_string()} text-anchor="middle">
                    { format!("step (of {})", props.total_steps) }
                </text>
                <polyline class="loss-line" points={loss_points} />
                <polyline class="acc-line" points={acc_points} />
                { for props.accuracy.last().map(|&(s, a)| html! {
                    <circle class="acc-dot" cx={x(s).to_string()}
                            cy={y((a - ACC_MIN) / (1.0 - ACC_MIN)).to_string()} r="3" />
                }) }
            </svg>
            <figcaption>
                <span class="legend loss">{ last_loss.unwrap_or_else(|| "training loss (smoothed)".into()) }</span>
                <span class="legend acc">{ last_acc.unwrap_or_else(|| "test accuracy".into()) }</span>
            </figcaption>
        </figure>
    }
}

/// Every k-th point so at most `MAX_POINTS` remain, always keeping the last.
fn thin<T: Copy>(points: &[T]) -> Vec<T> {
    let k = points.len().div_ceil(MAX_POINTS).max(1);
    let mut out: Vec<T> = points.iter().step_by(k).copied().collect();
    if let Some(&last) = points.last() {
        if !(points.len() - 1).is_multiple_of(k) {
            out.push(last);
        }
    }
    out
}

fn polyline<T>(points: &[T], f: impl Fn(&T) -> (f64, f64)) -> String {
    points
        .iter()
        .map(|p| {
            let (x, y) = f(p);
            format!("{x:.1},{y:.1}")
        })
        .collect::<Vec<_>>()
        .join(" ")
}
