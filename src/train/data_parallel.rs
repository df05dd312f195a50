//! Data-parallel training: one step split among replicas of the same model (the browser's
//! helper workers), each computing the gradient of its slice of the batch.
//!
//! Contract: [`Trainer::plan_step`] draws the batch, [`split`] cuts it into contiguous slices,
//! each replica computes [`Trainer::gradients`] of its slice, and [`Trainer::apply`] updates the
//! planning replica with their sum; the others call [`Trainer::apply_update`] with the same mean
//! gradient, so every copy of the weights stays the same. The result equals [`Trainer::step`] up
//! to float rounding (the sum over images is split); the forward pass and the divergence check
//! are `step`'s own.

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::{StepStats, TrainError, Trainer};

/// A batch drawn by [`Trainer::plan_step`], to be split among replicas.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedStep {
    pub epoch: usize,
    pub lr: f64,
    /// Training-set indices of the batch's images.
    pub indices: Vec<usize>,
}

/// The gradient of the summed loss over some images, flat in [`crate::model::param_specs`] order, with what a
/// step reports about them. Sums of several replicas' add up with [`Gradients::add`].
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Gradients {
    pub values: Vec<f32>,
    pub loss_sum: f64,
    pub correct: usize,
    pub images: usize,
}

impl Gradients {
    /// Adds another replica's sums to these.
    pub fn add(&mut self, other: &Gradients) -> Result<(), TrainError> {
        if self.values.len() != other.values.len() {
            return Err(TrainError::Invalid(format!(
                "gradients of {} and {} values cannot be added: the replicas train different models",
                self.values.len(),
                other.values.len()
            )));
        }
        self.values.iter_mut().zip(&other.values).for_each(|(a, b)| *a += b);
        self.loss_sum += other.loss_sum;
        self.correct += other.correct;
        self.images += other.images;
        Ok(())
    }
}

/// `indices` in `parts` contiguous slices whose sizes differ by at most one (the first ones get
/// the extra images).
pub fn split(indices: &[usize], parts: usize) -> Vec<&[usize]> {
    let parts = parts.max(1);
    let (base, extra) = (indices.len() / parts, indices.len() % parts);
    let mut out = Vec::with_capacity(parts);
    let mut rest = indices;
    for p in 0..parts {
        let (slice, after) = rest.split_at(base + usize::from(p < extra));
        out.push(slice);
        rest = after;
    }
    out
}

impl Trainer {
    /// Gives this replica its own stream of random augmentations (stream 0 is the one `new`
    /// starts with): data-parallel replicas augment their slices independently, as one trainer
    /// would augment a whole batch, instead of repeating each other's transforms.
    pub fn set_augment_stream(&mut self, stream: u64) {
        let seed = self.config.seed.wrapping_add(1);
        self.augment_rng = ChaCha8Rng::seed_from_u64(seed);
        self.augment_rng.set_stream(stream);
    }

    /// Floats in a flat gradient (every parameter of the model).
    fn num_parameters(&self) -> usize {
        self.params.iter().map(|p| p.elem_count()).sum()
    }

    /// Draws the next batch (advancing the batch order) for a data-parallel step.
    pub fn plan_step(&mut self) -> PlannedStep {
        PlannedStep {
            epoch: self.batches.epoch_of_next(),
            lr: self.schedule.lr(self.step),
            indices: self.batches.next_batch().to_vec(),
        }
    }

    /// The gradient of the summed cross-entropy over the images `indices` (a replica's slice of
    /// a [`PlannedStep`]), without updating anything. Indices come from another worker's message,
    /// so one past the training set is an error, not a panic.
    pub fn gradients(&mut self, indices: &[usize]) -> Result<Gradients, TrainError> {
        if let Some(&bad) = indices.iter().find(|&&i| i >= self.data.len()) {
            return Err(TrainError::Invalid(format!(
                "image {bad} asked for, but the training set has {}",
                self.data.len()
            )));
        }
        if indices.is_empty() {
            return Ok(Gradients {
                values: vec![0.0; self.num_parameters()],
                ..Gradients::default()
            });
        }
        let pass = self.forward(indices)?;
        let n = indices.len();
        // The sum, not the mean: slices of different sizes then add up to the batch's sum.
        let loss = (candle_nn::loss::cross_entropy(&pass.logits, &pass.labels)? * n as f64)?;
        let grads = loss.backward()?;
        let mut values = Vec::with_capacity(self.num_parameters());
        for p in &self.params {
            match grads.get(p.as_tensor()) {
                Some(g) => values.extend(g.flatten_all()?.to_vec1::<f32>()?),
                None => values.extend(std::iter::repeat_n(0.0, p.elem_count())),
            }
        }
        Ok(Gradients {
            values,
            loss_sum: loss.to_scalar::<f32>()? as f64,
            correct: pass.correct,
            images: n,
        })
    }

    /// Ends a data-parallel step: `total`, the sum of every replica's [`Gradients`] for
    /// `planned`, is averaged and applied. Returns the step's stats and the mean gradient, which
    /// the other replicas pass to [`Trainer::apply_update`]. A non-finite loss is an error and
    /// changes nothing, as in [`Trainer::step`].
    pub fn apply(&mut self, planned: &PlannedStep, total: &Gradients) -> Result<(StepStats, Vec<f32>), TrainError> {
        if total.images != planned.indices.len() {
            return Err(TrainError::Invalid(format!(
                "gradients of {} images for a batch of {}",
                total.images,
                planned.indices.len()
            )));
        }
        if total.values.len() != self.num_parameters() {
            return Err(TrainError::Invalid(format!(
                "gradients of {} values for a model of {} parameters",
                total.values.len(),
                self.num_parameters()
            )));
        }
        let loss = (total.loss_sum / total.images.max(1) as f64) as f32;
        self.check_finite(loss, planned.lr)?;
        self.keep_as_last_good(planned.epoch)?;
        let scale = 1.0 / total.images.max(1) as f32;
        let mean: Vec<f32> = total.values.iter().map(|v| v * scale).collect();
        self.apply_update(planned.lr, &mean)?;
        let stats = StepStats {
            step: self.step - 1,
            epoch: planned.epoch,
            loss,
            accuracy: total.correct as f32 / total.images.max(1) as f32,
            lr: planned.lr,
            batch_size: total.images,
        };
        Ok((stats, mean))
    }

    /// One AdamW update with the learning rate `lr` and the mean gradient `mean` (flat, in
    /// [`crate::model::param_specs`] order): what [`Trainer::apply`] did on the replica that planned the step.
    pub fn apply_update(&mut self, lr: f64, mean: &[f32]) -> Result<(), TrainError> {
        let expected = self.num_parameters();
        if mean.len() != expected {
            return Err(TrainError::Invalid(format!(
                "an update of {} values for a model of {expected} parameters",
                mean.len()
            )));
        }
        self.opt.step_flat(&self.params, lr, mean)?;
        self.step += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::{Dataset, IMAGE_PIXELS};
    use crate::model::ModelConfig;
    use crate::train::TrainConfig;
    use candle_core::Device;

    fn noise(n: usize) -> Dataset {
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        use rand::Rng;
        Dataset {
            images: (0..n * IMAGE_PIXELS).map(|_| rng.random_range(0..=255u8)).collect(),
            labels: (0..n).map(|i| (i % 10) as u8).collect(),
        }
    }

    fn trainer() -> Trainer {
        let model = ModelConfig {
            widths: [4, 8],
            ..Default::default()
        };
        let config = TrainConfig {
            epochs: 1,
            batch_size: 10,
            lr: 1e-2,
            augment: None,
            seed: 3,
            ..TrainConfig::default()
        };
        Trainer::new(&model, config, noise(50), &Device::Cpu).unwrap()
    }

    fn weights(t: &Trainer) -> Vec<f32> {
        let mut v = Vec::new();
        for p in &t.params {
            v.extend(p.as_tensor().flatten_all().unwrap().to_vec1::<f32>().unwrap());
        }
        v
    }

    /// Three replicas (a leader and two followers) over uneven slices (4 + 3 + 3 images) train
    /// like one trainer, to float rounding; the followers' weights equal the leader's exactly.
    #[test]
    fn split_steps_match_whole_steps_and_replicas_stay_identical() {
        let mut single = trainer();
        let (mut leader, mut a, mut b) = (trainer(), trainer(), trainer());
        for _ in 0..5 {
            let whole = single.step().unwrap();
            let planned = leader.plan_step();
            let (s0, rest) = planned.indices.split_at(4);
            let (s1, s2) = rest.split_at(3);
            let mut total = leader.gradients(s0).unwrap();
            total.add(&a.gradients(s1).unwrap()).unwrap();
            total.add(&b.gradients(s2).unwrap()).unwrap();
            let (stats, mean) = leader.apply(&planned, &total).unwrap();
            a.apply_update(planned.lr, &mean).unwrap();
            b.apply_update(planned.lr, &mean).unwrap();
            assert_eq!(
                (stats.step, stats.epoch, stats.batch_size),
                (whole.step, whole.epoch, whole.batch_size)
            );
            assert!(
                (stats.loss - whole.loss).abs() < 1e-4,
                "{} vs {}",
                stats.loss,
                whole.loss
            );
            assert_eq!(stats.accuracy, whole.accuracy);
        }
        let (w, l) = (weights(&single), weights(&leader));
        let diff = w.iter().zip(&l).fold(0f32, |m, (x, y)| m.max((x - y).abs()));
        assert!(diff < 1e-4, "weights differ by {diff}");
        assert_eq!(weights(&a), l);
        assert_eq!(weights(&b), l);
        assert_eq!(leader.steps_done(), 5);
    }

    /// The browser's leader plans the next step right after `apply` (and sends it to its
    /// helpers at once); it must be the step it would have planned later, after the evaluation
    /// and snapshot a worker may run between steps.
    #[test]
    fn planning_early_plans_the_same_step() {
        let (mut early, mut late) = (trainer(), trainer());
        let test = noise(20);
        let mut next = early.plan_step();
        for _ in 0..4 {
            let planned = next;
            let total = early.gradients(&planned.indices).unwrap();
            early.apply(&planned, &total).unwrap();
            next = early.plan_step();

            let planned_late = late.plan_step();
            assert_eq!(planned_late, planned);
            let total = late.gradients(&planned_late.indices).unwrap();
            late.apply(&planned_late, &total).unwrap();
            late.evaluate(&test).unwrap();
            late.checkpoint().unwrap();
        }
        assert_eq!(late.plan_step(), next);
        assert_eq!(weights(&early), weights(&late));
    }

    #[test]
    fn mismatched_replicas_and_non_finite_losses_are_errors() {
        let mut t = trainer();
        let planned = t.plan_step();
        let before = weights(&t);
        let mut total = t.gradients(&planned.indices).unwrap();
        assert!(t.apply_update(0.1, &total.values[1..]).is_err());
        assert!(total.add(&Gradients::default()).is_err());
        let err = t.gradients(&[0, 50]).unwrap_err().to_string();
        assert!(err.contains("image 50 asked for, but the training set has 50"), "{err}");
        let short = Gradients {
            images: 3,
            ..total.clone()
        };
        assert!(t.apply(&planned, &short).is_err());
        total.loss_sum = f64::NAN;
        assert!(matches!(t.apply(&planned, &total), Err(TrainError::Diverged { .. })));
        assert_eq!(weights(&t), before, "a failed step changes nothing");
    }

    #[test]
    fn split_is_contiguous_and_even() {
        let v: Vec<usize> = (0..10).collect();
        let parts = split(&v, 3);
        assert_eq!(parts.iter().map(|p| p.len()).collect::<Vec<_>>(), [4, 3, 3]);
        assert_eq!(parts.concat(), v);
        assert_eq!(split(&v[..2], 3).iter().map(|p| p.len()).collect::<Vec<_>>(), [1, 1, 0]);
        assert_eq!(split(&v, 0), [&v[..]], "no parts means one");
    }
}
