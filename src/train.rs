//! The one `Trainer`: `step()` runs exactly one batch (forward, loss, backward, AdamW step);
//! `evaluate()` scores a model on a dataset.
//!
//! Contract: every driver — the native CLI loop, the browser worker's ticks, the tests — trains
//! through this type, so training is written once. The trainer never reads a clock (wall time
//! differs between native and wasm, where `std::time::Instant` panics); drivers time it. A
//! non-finite loss stops training *before* the optimiser step, so the weights stay the last good
//! ones and [`TrainError::Diverged`] names the step and learning rate.
//!
//! Data-parallel training (the browser's helper workers) splits [`Trainer::step`] in three:
//! [`Trainer::plan_step`] draws the batch, each replica computes [`Trainer::gradients`] of its
//! slice, and [`Trainer::apply`] updates with their sum; replicas that only follow call
//! [`Trainer::apply_update`] with the same mean gradient, so every copy of the weights stays the
//! same. The result equals `step()` up to float rounding (the sum over images is split).

use candle_core::backprop::GradStore;
use candle_core::{DType, Device, Module, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::augment::Augment;
use crate::batches::Batches;
use crate::checkpoint;
use crate::data::Dataset;
use crate::model::{argmax_rows, init_params, param_specs, ModelConfig, Vgg};
use crate::schedule::OneCycle;

pub use crate::evaluation::{evaluate, evaluate_more, Evaluation, PartialEvaluation};

/// Hyperparameters of a training run. The default is the full native recipe.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    /// Peak learning rate of the one-cycle schedule.
    pub lr: f64,
    /// AdamW's decoupled weight decay.
    pub weight_decay: f64,
    /// Fraction of the run spent warming the learning rate up.
    pub warmup_fraction: f64,
    /// Seeds weight initialisation, shuffling and augmentation.
    pub seed: u64,
    /// Random affine augmentation of training images; `None` trains on the images as they are.
    pub augment: Option<Augment>,
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 12,
            batch_size: 128,
            lr: 3e-3,
            weight_decay: 0.05,
            warmup_fraction: 0.15,
            seed: 42,
            augment: Some(Augment::default()),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Candle(#[from] candle_core::Error),
    #[error("training diverged at step {step} (learning rate {lr:.3e}): loss is {loss}; try a lower --lr")]
    Diverged { step: usize, lr: f64, loss: f32 },
    #[error("invalid training setup: {0}")]
    Invalid(String),
}

/// What one `step()` did.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct StepStats {
    /// 0-based index of the step just run.
    pub step: usize,
    /// Epoch the batch belonged to (0-based).
    pub epoch: usize,
    pub loss: f32,
    /// Fraction of the batch classified correctly (before the update).
    pub accuracy: f32,
    pub lr: f64,
    pub batch_size: usize,
}

/// A batch drawn by [`Trainer::plan_step`], to be split among replicas.
#[derive(Clone, Debug, PartialEq)]
pub struct PlannedStep {
    pub epoch: usize,
    pub lr: f64,
    /// Training-set indices of the batch's images.
    pub indices: Vec<usize>,
}

/// The gradient of the summed loss over some images, flat in [`param_specs`] order, with what a
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

pub struct Trainer {
    model: Vgg,
    varmap: VarMap,
    /// The variables in `param_specs` order: the layout of flat gradients.
    params: Vec<Var>,
    opt: AdamW,
    schedule: OneCycle,
    batches: Batches,
    augment_rng: ChaCha8Rng,
    data: Dataset,
    config: TrainConfig,
    device: Device,
    step: usize,
}

impl Trainer {
    /// A fresh, seeded network of shape `model_config`, ready to train on `data`.
    pub fn new(
        model_config: &ModelConfig,
        config: TrainConfig,
        data: Dataset,
        device: &Device,
    ) -> Result<Self, TrainError> {
        model_config.validate().map_err(TrainError::Invalid)?;
        let varmap = init_params(model_config, config.seed, device)?;
        Self::with_varmap(model_config, varmap, config, data, device)
    }

    /// Continues training from existing weights (e.g. a checkpoint's), with a fresh optimiser.
    pub fn with_varmap(
        model_config: &ModelConfig,
        varmap: VarMap,
        config: TrainConfig,
        data: Dataset,
        device: &Device,
    ) -> Result<Self, TrainError> {
        if data.is_empty() {
            return Err(TrainError::Invalid("the training set is empty".into()));
        }
        if config.batch_size == 0 || config.epochs == 0 {
            return Err(TrainError::Invalid("epochs and batch size must be at least 1".into()));
        }
        let valid_lr = config.lr.is_finite() && config.lr > 0.0;
        let valid_wd = config.weight_decay.is_finite() && config.weight_decay >= 0.0;
        if !(valid_lr && valid_wd) {
            return Err(TrainError::Invalid(format!(
                "learning rate must be > 0 and weight decay >= 0 (got {} and {})",
                config.lr, config.weight_decay
            )));
        }
        let model = Vgg::new(model_config, VarBuilder::from_varmap(&varmap, DType::F32, device))?;
        let params = ParamsAdamW {
            lr: config.lr,
            weight_decay: config.weight_decay,
            ..Default::default()
        };
        let opt = AdamW::new(varmap.all_vars(), params)?;
        let params = {
            let data = varmap.data().lock().expect("VarMap lock");
            let get = |name: &str| data.get(name).cloned();
            (param_specs(model_config).iter())
                .map(|p| get(&p.name).ok_or_else(|| TrainError::Invalid(format!("missing parameter {}", p.name))))
                .collect::<Result<Vec<_>, _>>()?
        };
        let batches = Batches::new(data.len(), config.batch_size, config.seed);
        let schedule = OneCycle::new(config.lr, batches.per_epoch() * config.epochs, config.warmup_fraction);
        Ok(Self {
            model,
            varmap,
            params,
            opt,
            schedule,
            batches,
            augment_rng: ChaCha8Rng::seed_from_u64(config.seed.wrapping_add(1)),
            data,
            config,
            device: device.clone(),
            step: 0,
        })
    }

    /// Runs one batch: forward, cross-entropy, backward, AdamW update.
    pub fn step(&mut self) -> Result<StepStats, TrainError> {
        let lr = self.schedule.lr(self.step);
        self.opt.set_learning_rate(lr);
        let epoch = self.batches.epoch_of_next();
        let indices = self.batches.next_batch().to_vec();
        let augment = self.config.augment.as_ref().map(|a| (a, &mut self.augment_rng));
        let (xs, ys) = self.data.batch(&indices, augment, &self.device)?; // (B,1,28,28), (B,)
        let logits = self.model.forward(&xs)?; // (B, 10)
        let loss = candle_nn::loss::cross_entropy(&logits, &ys)?;
        let loss_value = loss.to_scalar::<f32>()?;
        if !loss_value.is_finite() {
            return Err(TrainError::Diverged {
                step: self.step,
                lr,
                loss: loss_value,
            });
        }
        let predicted = argmax_rows(&logits)?;
        let truth = ys.to_vec1::<u32>()?;
        let correct = predicted.iter().zip(&truth).filter(|(p, t)| p == t).count();
        self.opt.backward_step(&loss)?;
        let stats = StepStats {
            step: self.step,
            epoch,
            loss: loss_value,
            accuracy: correct as f32 / indices.len() as f32,
            lr,
            batch_size: indices.len(),
        };
        self.step += 1;
        Ok(stats)
    }

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
    /// a [`PlannedStep`]), without updating anything.
    pub fn gradients(&mut self, indices: &[usize]) -> Result<Gradients, TrainError> {
        if indices.is_empty() {
            return Ok(Gradients {
                values: vec![0.0; self.num_parameters()],
                ..Gradients::default()
            });
        }
        let augment = self.config.augment.as_ref().map(|a| (a, &mut self.augment_rng));
        let (xs, ys) = self.data.batch(indices, augment, &self.device)?; // (n,1,28,28), (n,)
        let logits = self.model.forward(&xs)?; // (n, 10)
        let n = indices.len();
        // The sum, not the mean: slices of different sizes then add up to the batch's sum.
        let loss = (candle_nn::loss::cross_entropy(&logits, &ys)? * n as f64)?;
        let predicted = argmax_rows(&logits)?;
        let truth = ys.to_vec1::<u32>()?;
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
            correct: predicted.iter().zip(&truth).filter(|(p, t)| p == t).count(),
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
        let loss = (total.loss_sum / total.images.max(1) as f64) as f32;
        if !loss.is_finite() {
            return Err(TrainError::Diverged {
                step: self.step,
                lr: planned.lr,
                loss,
            });
        }
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
    /// [`param_specs`] order): what [`Trainer::apply`] did on the replica that planned the step.
    pub fn apply_update(&mut self, lr: f64, mean: &[f32]) -> Result<(), TrainError> {
        let expected = self.num_parameters();
        if mean.len() != expected {
            return Err(TrainError::Invalid(format!(
                "an update of {} values for a model of {expected} parameters",
                mean.len()
            )));
        }
        let mut grads = GradStore::default();
        let mut rest = mean;
        for p in &self.params {
            let (mine, after) = rest.split_at(p.elem_count());
            rest = after;
            grads.insert(p.as_tensor(), Tensor::from_slice(mine, p.shape(), &self.device)?);
        }
        self.opt.set_learning_rate(lr);
        self.opt.step(&grads)?;
        self.step += 1;
        Ok(())
    }

    /// Steps run so far.
    pub fn steps_done(&self) -> usize {
        self.step
    }

    /// Steps of the whole run (`epochs * batches per epoch`).
    pub fn total_steps(&self) -> usize {
        self.schedule.total_steps
    }

    pub fn steps_per_epoch(&self) -> usize {
        self.batches.per_epoch()
    }

    pub fn is_done(&self) -> bool {
        self.step >= self.total_steps()
    }

    pub fn model(&self) -> &Vgg {
        &self.model
    }

    pub fn config(&self) -> &TrainConfig {
        &self.config
    }

    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Scores the current weights on `data`.
    pub fn evaluate(&self, data: &Dataset) -> Result<Evaluation, TrainError> {
        Ok(evaluate(&self.model, data, &self.device)?)
    }

    /// Scores the next (at most) `n` examples of `data` after those `partial` holds.
    pub fn evaluate_more(&self, data: &Dataset, partial: &mut PartialEvaluation, n: usize) -> Result<(), TrainError> {
        Ok(evaluate_more(&self.model, data, &self.device, partial, n)?)
    }

    /// The current weights as safetensors bytes, with the model config in the metadata.
    pub fn checkpoint(&self) -> Result<Vec<u8>, checkpoint::CheckpointError> {
        checkpoint::to_bytes(&self.varmap, self.model.config())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::IMAGE_PIXELS;

    /// A learnable toy set: digit `d` is a bright horizontal bar at row `4 + 2d`, with noise.
    fn bars(n: usize) -> Dataset {
        let mut images = vec![0u8; n * IMAGE_PIXELS];
        let labels: Vec<u8> = (0..n).map(|i| (i * 7 % 10) as u8).collect();
        for (i, &d) in labels.iter().enumerate() {
            let row = 4 + 2 * d as usize;
            for x in 6..22 {
                images[i * IMAGE_PIXELS + row * 28 + x] = 255;
            }
            images[i * IMAGE_PIXELS + (i * 13) % IMAGE_PIXELS] = 200;
        }
        Dataset { images, labels }
    }

    /// A network small enough for fast tests.
    fn tiny() -> ModelConfig {
        ModelConfig {
            widths: [4, 8],
            ..Default::default()
        }
    }

    fn config(seed: u64, lr: f64) -> TrainConfig {
        TrainConfig {
            epochs: 3,
            batch_size: 16,
            lr,
            seed,
            augment: None,
            ..TrainConfig::default()
        }
    }

    fn losses(seed: u64, steps: usize) -> Vec<f32> {
        let mut t = Trainer::new(&tiny(), config(seed, 3e-3), bars(64), &Device::Cpu).unwrap();
        (0..steps).map(|_| t.step().unwrap().loss).collect()
    }

    #[test]
    fn evaluating_in_slices_equals_evaluating_at_once() {
        let mut t = Trainer::new(&tiny(), config(3, 3e-3), bars(64), &Device::Cpu).unwrap();
        for _ in 0..3 {
            t.step().unwrap();
        }
        let data = bars(53);
        let whole = t.evaluate(&data).unwrap();
        let mut partial = PartialEvaluation::default();
        let mut slices = 0;
        while partial.scored() < data.len() {
            t.evaluate_more(&data, &mut partial, 7).unwrap();
            slices += 1;
        }
        assert_eq!(slices, 8); // 7 x 7 + 4
        let sliced = partial.finish();
        assert_eq!(sliced.predictions, whole.predictions);
        assert_eq!(sliced.confusion, whole.confusion);
        assert_eq!(sliced.accuracy, whole.accuracy);
        assert!(
            (sliced.loss - whole.loss).abs() < 1e-6,
            "{} vs {}",
            sliced.loss,
            whole.loss
        );
    }

    #[test]
    fn same_seed_gives_the_same_losses() {
        let a = losses(11, 4);
        assert_eq!(a, losses(11, 4));
        assert_ne!(a, losses(12, 4));
    }

    #[test]
    fn learns_the_toy_set_and_evaluates_every_example() {
        let data = bars(160);
        let model = tiny();
        let mut t = Trainer::new(
            &model,
            TrainConfig {
                epochs: 6,
                ..config(1, 1e-2)
            },
            data.clone(),
            &Device::Cpu,
        )
        .unwrap();
        assert_eq!(t.total_steps(), 60);
        let first = t.step().unwrap();
        while !t.is_done() {
            t.step().unwrap();
        }
        let eval = t.evaluate(&data).unwrap();
        assert_eq!(eval.confusion.total(), 160);
        assert_eq!(eval.predictions.len(), 160);
        assert!(
            eval.loss < first.loss as f64 / 4.0,
            "loss {} -> {}",
            first.loss,
            eval.loss
        );
        assert!(eval.accuracy > 0.9, "accuracy {}", eval.accuracy);
    }

    #[test]
    fn divergence_is_an_error_naming_step_and_lr() {
        let model = tiny();
        let mut t = Trainer::new(
            &model,
            TrainConfig {
                warmup_fraction: 0.0,
                ..config(1, 1e12)
            },
            bars(64),
            &Device::Cpu,
        )
        .unwrap();
        let err = (0..20)
            .find_map(|_| t.step().err())
            .expect("an absurd learning rate diverges");
        let msg = err.to_string();
        assert!(matches!(err, TrainError::Diverged { .. }), "{msg}");
        assert!(
            msg.contains("diverged at step") && msg.contains("learning rate"),
            "{msg}"
        );
    }

    #[test]
    fn rejects_empty_data_and_bad_settings() {
        let m = ModelConfig::small();
        assert!(matches!(
            Trainer::new(&m, config(1, 1e-3), Dataset::default(), &Device::Cpu),
            Err(TrainError::Invalid(_))
        ));
        assert!(Trainer::new(
            &m,
            TrainConfig {
                batch_size: 0,
                ..config(1, 1e-3)
            },
            bars(8),
            &Device::Cpu
        )
        .is_err());
        assert!(Trainer::new(&m, config(1, f64::NAN), bars(8), &Device::Cpu).is_err());
    }
}

#[cfg(test)]
mod data_parallel_tests {
    use super::*;
    use crate::data::IMAGE_PIXELS;

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

    #[test]
    fn mismatched_replicas_and_non_finite_losses_are_errors() {
        let mut t = trainer();
        let planned = t.plan_step();
        let before = weights(&t);
        let mut total = t.gradients(&planned.indices).unwrap();
        assert!(t.apply_update(0.1, &total.values[1..]).is_err());
        assert!(total.add(&Gradients::default()).is_err());
        let short = Gradients {
            images: 3,
            ..total.clone()
        };
        assert!(t.apply(&planned, &short).is_err());
        total.loss_sum = f64::NAN;
        assert!(matches!(t.apply(&planned, &total), Err(TrainError::Diverged { .. })));
        assert_eq!(weights(&t), before, "a failed step changes nothing");
    }
}
