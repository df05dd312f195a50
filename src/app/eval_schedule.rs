//! When a training run in the browser evaluates: at every epoch end, and in between every few
//! seconds of training, as long as evaluations stay a small share of the time.
//!
//! Contract: pure bookkeeping of seconds the caller measured (no clock here), so the schedule is
//! tested natively; the worker's `TrainingRun` reports each step's and each evaluation's
//! duration and asks [`EvalSchedule::due`] after every step. The last step never evaluates
//! here: the run then scores the whole test set instead.

/// Training seconds between evaluations, at least.
pub const MIN_EVAL_INTERVAL_S: f64 = 4.0;
/// Evaluations may take at most this share of the time (they are skipped until enough training
/// time has passed), so a wide model, whose evaluations are slow, still trains mostly.
pub const MAX_EVAL_SHARE: f64 = 0.2;

/// Seconds trained since the last evaluation, and how long that evaluation took.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EvalSchedule {
    since_eval_s: f64,
    last_eval_s: f64,
}

impl EvalSchedule {
    /// A training step of `seconds` was run.
    pub fn trained(&mut self, seconds: f64) {
        self.since_eval_s += seconds;
    }

    /// An evaluation of `seconds` was run.
    pub fn evaluated(&mut self, seconds: f64) {
        self.last_eval_s = seconds;
        self.since_eval_s = 0.0;
    }

    /// Whether to evaluate after the step that made `steps_done` of `total_steps`
    /// (`steps_per_epoch` to an epoch).
    pub fn due(&self, steps_done: usize, steps_per_epoch: usize, total_steps: usize) -> bool {
        if steps_done >= total_steps {
            return false;
        }
        let epoch_ended = steps_per_epoch > 0 && steps_done.is_multiple_of(steps_per_epoch);
        let periodic =
            self.since_eval_s >= MIN_EVAL_INTERVAL_S && self.since_eval_s * MAX_EVAL_SHARE >= self.last_eval_s;
        epoch_ended || periodic
    }

    /// The time left for `steps_left` steps of `seconds_per_step`, evaluations included (on
    /// average they take half their allowed share).
    pub fn eta_seconds(seconds_per_step: f64, steps_left: usize) -> f64 {
        seconds_per_step * steps_left as f64 * (1.0 + MAX_EVAL_SHARE / 2.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evaluates_at_epoch_ends_and_every_few_seconds_but_not_at_the_end() {
        let mut s = EvalSchedule::default();
        s.trained(1.0);
        assert!(!s.due(1, 10, 30), "not after one second");
        assert!(s.due(10, 10, 30), "at an epoch end");
        assert!(!s.due(30, 10, 30), "the last step leaves it to the final scoring");
        s.trained(3.0);
        assert!(s.due(11, 10, 30), "after four seconds");
        s.evaluated(0.5);
        assert!(!s.due(12, 10, 30), "the clock restarts");
    }

    #[test]
    fn slow_evaluations_keep_their_share_of_the_time() {
        let mut s = EvalSchedule::default();
        s.evaluated(2.0); // 2 s may follow no less than 10 s of training
        s.trained(5.0);
        assert!(!s.due(3, 100, 300));
        s.trained(5.0);
        assert!(s.due(4, 100, 300));
        assert!((EvalSchedule::eta_seconds(0.1, 100) - 11.0).abs() < 1e-9);
    }
}
