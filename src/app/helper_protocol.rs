//! Messages between the training worker (the leader of a data-parallel run) and its helper
//! workers: [`ToHelper`] and [`FromHelper`], one typed enum each way.
//!
//! Contract: the wire form (`web::parallel::codec`) is one `postMessage` object per message with
//! a `kind` string and typed arrays for the bulk data (training set, indices, gradients), which
//! are transferred rather than copied again; these enums are what both sides match on, so a field
//! name or a message is written in one place. The sequence, data flow and failure handling are
//! described in `web::parallel`.

use std::borrow::Cow;

use crate::train::Gradients;

use super::settings::TrainSettings;

/// From the leader to a helper.
#[derive(Clone, Debug, PartialEq)]
pub enum ToHelper<'a> {
    /// Build the replica: the run's settings (model and seed: every replica starts from the same
    /// weights), the training set, and the helper's own augmentation stream.
    Init {
        settings: TrainSettings,
        images: Cow<'a, [u8]>,
        labels: Cow<'a, [u8]>,
        stream: u64,
    },
    /// Apply the previous step's update (none before the first step), then compute the
    /// gradients of the training images `indices`.
    Step {
        update: Option<Update<'a>>,
        indices: Cow<'a, [u32]>,
    },
}

/// The mean gradient of a step and its learning rate, as [`crate::train::Trainer::apply`]
/// returned them to the leader.
#[derive(Clone, Debug, PartialEq)]
pub struct Update<'a> {
    pub lr: f64,
    pub mean: Cow<'a, [f32]>,
}

/// From a helper to the leader.
#[derive(Clone, Debug, PartialEq)]
pub enum FromHelper {
    /// Its message handler is installed (messages sent before would be lost).
    Ready,
    /// The gradients of the step's slice.
    Grads(Gradients),
    /// It cannot go on (its module failed to load, or a message failed); it will be dropped.
    Failed(String),
}

impl ToHelper<'_> {
    /// The `kind` of the wire form.
    pub fn kind(&self) -> &'static str {
        match self {
            ToHelper::Init { .. } => "init",
            ToHelper::Step { .. } => "step",
        }
    }
}

impl FromHelper {
    /// The `kind` of the wire form. The helper's loader script (plain JavaScript, see
    /// `web::parallel::leader`) sends `failed` too.
    pub fn kind(&self) -> &'static str {
        match self {
            FromHelper::Ready => "ready",
            FromHelper::Grads(_) => "grads",
            FromHelper::Failed(_) => "failed",
        }
    }
}
