//! The one `Trainer`: `step()` runs exactly one batch (forward, loss, backward, AdamW step);
//! `evaluate()` scores a model on a dataset.
//!
//! Contract: every driver — the native CLI loop, the browser worker's ticks, the tests — trains
//! through this type, so training is written once. The trainer never reads a clock (wall time
//! differs between native and wasm, where `std::time::Instant` panics); drivers time it. A
//! non-finite loss stops training *before* the optimiser step and [`TrainError::Diverged`] names
//! the step and learning rate. That loss is already the spoilt weights' (the previous update made
//! them), so each step keeps a copy of the weights that gave its finite loss:
//! [`Trainer::last_good_checkpoint`] (in [`last_good`](self::last_good)). What a run may ask for
//! is checked by [`TrainConfig::validate`] (in [`limits`](self::limits)).
//!
//! Data-parallel training (the browser's helper workers) splits [`Trainer::step`] in three, in
//! [`data_parallel`](self::data_parallel): [`Trainer::plan_step`] draws the batch, each replica
//! computes [`Trainer::gradients`] of its slice, and [`Trainer::apply`] updates with their sum;
//! replicas that only follow call [`Trainer::apply_update`] with the same mean gradient.

mod adamw;
mod data_parallel;
mod last_good;
mod limits;

use candle_core::{DType, Device, Module, Tensor, Var};
use candle_nn::{ParamsAdamW, VarBuilder, VarMap};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::augment::Augment;
use crate::batches::{batch_tensors, Batches};
use crate::checkpoint;
use crate::data::Dataset;
use crate::model::{argmax_rows, init_params, param_specs, ModelConfig, Vgg};
use crate::schedule::OneCycle;

pub use self::data_parallel::{split, Gradients, PlannedStep};
pub use self::last_good::LastGood;
pub use self::limits::{training_bytes, MAX_EPOCHS, MAX_TRAINING_BYTES};
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

/// What the forward pass over a batch gave.
struct Pass {
    logits: Tensor, // (B, 10)
    labels: Tensor, // (B,)
    /// Images whose largest logit is their label.
    correct: usize,
}

pub struct Trainer {
    model: Vgg,
    varmap: VarMap,
    /// The variables in `param_specs` order: the layout of flat gradients.
    params: Vec<Var>,
    opt: adamw::AdamW,
    schedule: OneCycle,
    batches: Batches,
    augment_rng: ChaCha8Rng,
    data: Dataset,
    config: TrainConfig,
    device: Device,
    step: usize,
    /// The weights that gave the last finite loss (see [`Trainer::last_good_checkpoint`]).
    last_good: Option<last_good::Snapshot>,
}

impl Trainer {
    /// A fresh, seeded network of shape `model_config`, ready to train on `data`.
    pub fn new(
        model_config: &ModelConfig,
        config: TrainConfig,
        data: Dataset,
        device: &Device,
    ) -> Result<Self, TrainError> {
        config.validate(model_config)?;
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
        // The fields are public: images that do not match their labels, or a label past 9, are an
        // error here rather than a panic in a batch later.
        data.check()
            .map_err(|e| TrainError::Invalid(format!("the training set: {e}")))?;
        config.validate(model_config)?;
        let model = Vgg::new(model_config, VarBuilder::from_varmap(&varmap, DType::F32, device))?;
        let params = {
            let data = varmap.data().lock().expect("VarMap lock");
            let get = |name: &str| data.get(name).cloned();
            (param_specs(model_config).iter())
                .map(|p| get(&p.name).ok_or_else(|| TrainError::Invalid(format!("missing parameter {}", p.name))))
                .collect::<Result<Vec<_>, _>>()?
        };
        let adam = ParamsAdamW {
            lr: config.lr,
            weight_decay: config.weight_decay,
            ..Default::default()
        };
        let opt = adamw::AdamW::new(&params, adam, device)?;
        let batches = Batches::new(data.len(), config.batch_size, config.seed);
        let total_steps = limits::total_steps(batches.per_epoch(), config.epochs)?;
        let schedule = OneCycle::new(config.lr, total_steps, config.warmup_fraction);
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
            last_good: None,
        })
    }

    /// Runs one batch: forward, cross-entropy, backward, AdamW update.
    pub fn step(&mut self) -> Result<StepStats, TrainError> {
        let lr = self.schedule.lr(self.step);
        let epoch = self.batches.epoch_of_next();
        let indices = self.batches.next_batch().to_vec();
        let pass = self.forward(&indices)?;
        let loss = candle_nn::loss::cross_entropy(&pass.logits, &pass.labels)?; // mean over the batch
        let loss_value = loss.to_scalar::<f32>()?;
        self.check_finite(loss_value, lr)?;
        self.keep_as_last_good(epoch)?;
        let grads = loss.backward()?;
        self.opt.step(&self.params, lr, &grads)?;
        let stats = StepStats {
            step: self.step,
            epoch,
            loss: loss_value,
            accuracy: pass.correct as f32 / indices.len() as f32,
            lr,
            batch_size: indices.len(),
        };
        self.step += 1;
        Ok(stats)
    }

    /// The forward pass over the training images `indices` (augmented when the config says so),
    /// shared by [`Trainer::step`] and [`Trainer::gradients`].
    fn forward(&mut self, indices: &[usize]) -> Result<Pass, TrainError> {
        let augment = self.config.augment.as_ref().map(|a| (a, &mut self.augment_rng));
        let (xs, labels) = batch_tensors(&self.data, indices, augment, &self.device)?; // (B,1,28,28), (B,)
        let logits = self.model.forward(&xs)?; // (B, 10)
        let predicted = argmax_rows(&logits)?;
        let truth = labels.to_vec1::<u32>()?;
        let correct = predicted.iter().zip(&truth).filter(|(p, t)| p == t).count();
        Ok(Pass {
            logits,
            labels,
            correct,
        })
    }

    /// The divergence check, before any update: a non-finite mean loss at learning rate `lr`
    /// stops training with the weights unchanged.
    fn check_finite(&self, loss: f32, lr: f64) -> Result<(), TrainError> {
        if loss.is_finite() {
            return Ok(());
        }
        Err(TrainError::Diverged {
            step: self.step,
            lr,
            loss,
        })
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

    /// The issue: the file saved after divergence held the weights that gave the non-finite
    /// loss. Now it holds those before the last update, which a seeded replay stopped there has.
    #[test]
    fn after_divergence_the_last_good_weights_gave_the_last_finite_loss() {
        let settings = TrainConfig {
            warmup_fraction: 0.0,
            ..config(1, 1e12)
        };
        let mut t = Trainer::new(&tiny(), settings.clone(), bars(64), &Device::Cpu).unwrap();
        assert!(
            t.last_good_checkpoint().unwrap().is_none(),
            "nothing before the first step"
        );
        let mut finite = Vec::new();
        let err = (0..20)
            .find_map(|_| match t.step() {
                Ok(stats) => {
                    finite.push(stats);
                    None
                }
                Err(e) => Some(e),
            })
            .expect("an absurd learning rate diverges");
        let TrainError::Diverged { step, .. } = err else {
            panic!("{err}")
        };
        let good = t.last_good_checkpoint().unwrap().expect("a step before the divergence");
        let last = finite.last().expect("the first step's loss is finite");
        assert_eq!((good.step, good.epoch), (last.step, last.epoch));
        assert_eq!(good.step + 1, step);
        assert!(last.loss.is_finite());
        let mut replay = Trainer::new(&tiny(), settings, bars(64), &Device::Cpu).unwrap();
        for _ in 0..good.step {
            replay.step().unwrap();
        }
        // Compared as weights: the files' metadata order varies (safetensors writes a HashMap).
        let weights = |bytes: &[u8]| -> Vec<(String, Vec<u32>)> {
            let ck = checkpoint::from_bytes(bytes, &Device::Cpu).unwrap();
            let mut named: Vec<_> = (ck.tensors.iter())
                .map(|(k, t)| {
                    let bits = t.flatten_all().unwrap().to_vec1::<f32>().unwrap();
                    (k.clone(), bits.into_iter().map(f32::to_bits).collect())
                })
                .collect();
            named.sort();
            named
        };
        let good_weights = weights(&good.bytes);
        assert_eq!(good_weights, weights(&replay.checkpoint().unwrap()));
        assert!(t.checkpoint().map_or(true, |now| weights(&now) != good_weights));
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
