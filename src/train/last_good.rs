//! The last good weights: a copy of the weights that gave the last finite loss, kept so that a
//! run that diverges can still hand over what it had learnt.
//!
//! Contract: a step's loss is that of the weights the previous step produced, so by the time a
//! loss is non-finite the weights have already been spoilt by the update before. Each step that
//! sees a finite loss therefore copies the weights before updating them
//! ([`Trainer::keep_as_last_good`]); after [`TrainError::Diverged`](super::TrainError::Diverged),
//! [`Trainer::last_good_checkpoint`] returns that copy with the step and epoch whose loss it gave.
//! The copy reads the weights and changes no arithmetic (a seeded run's losses stay
//! bit-identical); it costs one copy of the parameters per step (96,362 floats for the seed
//! model, against ~110 MFLOP per image of the step itself).

use candle_core::Tensor;

use super::{TrainError, Trainer};
use crate::checkpoint::{self, CheckpointError};
use crate::model::param_specs;

/// A copy of the weights, in [`param_specs`] order, and the step whose finite loss they gave.
pub(super) struct Snapshot {
    weights: Vec<Tensor>,
    step: usize,
    epoch: usize,
}

/// The last weights that gave a finite training loss, as a checkpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct LastGood {
    /// safetensors bytes, as [`Trainer::checkpoint`] writes them.
    pub bytes: Vec<u8>,
    /// The 0-based step whose loss these weights gave (they are the weights before its update).
    pub step: usize,
    /// The 0-based epoch of that step.
    pub epoch: usize,
}

impl Trainer {
    /// Copies the current weights as the last good ones: they have just given a finite loss at
    /// the current step, of `epoch`.
    pub(super) fn keep_as_last_good(&mut self, epoch: usize) -> Result<(), TrainError> {
        // `detach` first, so the copy is a plain tensor with no link to the variable's graph.
        let weights = self
            .params
            .iter()
            .map(|p| p.as_tensor().detach().copy())
            .collect::<candle_core::Result<Vec<_>>>()?;
        self.last_good = Some(Snapshot {
            weights,
            step: self.step,
            epoch,
        });
        Ok(())
    }

    /// The weights that gave the last finite loss (before that step's update), as checkpoint
    /// bytes with their step and epoch; `None` before the first step.
    pub fn last_good_checkpoint(&self) -> Result<Option<LastGood>, CheckpointError> {
        let Some(snapshot) = &self.last_good else {
            return Ok(None);
        };
        let config = self.model.config();
        let named = param_specs(config)
            .into_iter()
            .map(|s| s.name)
            .zip(snapshot.weights.iter().cloned())
            .collect();
        Ok(Some(LastGood {
            bytes: checkpoint::tensors_to_bytes(named, config)?,
            step: snapshot.step,
            epoch: snapshot.epoch,
        }))
    }
}
