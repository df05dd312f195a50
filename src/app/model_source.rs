//! Which weights predict: the shipped pretrained model, the one trained in this browser, or an
//! uploaded file — and the bytes of each, kept so switching back and forth is instant.

use std::rc::Rc;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ModelSource {
    Pretrained,
    Trained,
    Uploaded,
}

impl ModelSource {
    pub const ALL: [ModelSource; 3] = [ModelSource::Pretrained, ModelSource::Trained, ModelSource::Uploaded];

    /// The `data-source` value.
    pub fn key(self) -> &'static str {
        match self {
            ModelSource::Pretrained => "pretrained",
            ModelSource::Trained => "trained",
            ModelSource::Uploaded => "uploaded",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            ModelSource::Pretrained => "Pretrained",
            ModelSource::Trained => "Trained here",
            ModelSource::Uploaded => "Uploaded",
        }
    }

    /// How error messages name the weights.
    pub fn describe(self) -> &'static str {
        match self {
            ModelSource::Pretrained => "the pretrained model",
            ModelSource::Trained => "the browser-trained model",
            ModelSource::Uploaded => "the uploaded file does not fit this app",
        }
    }

    /// Name of the file the Download button saves.
    pub fn file_name(self) -> &'static str {
        match self {
            ModelSource::Pretrained => "vgg-mnist-pretrained.safetensors",
            ModelSource::Trained => "vgg-mnist-browser-trained.safetensors",
            ModelSource::Uploaded => "vgg-mnist-uploaded.safetensors",
        }
    }
}

/// The safetensors bytes of each source that is available.
#[derive(Clone, Debug, Default)]
pub struct Models {
    pretrained: Option<Rc<Vec<u8>>>,
    trained: Option<Rc<Vec<u8>>>,
    uploaded: Option<Rc<Vec<u8>>>,
}

impl Models {
    pub fn get(&self, source: ModelSource) -> Option<Rc<Vec<u8>>> {
        self.slot(source).clone()
    }

    pub fn set(&mut self, source: ModelSource, bytes: Option<Rc<Vec<u8>>>) {
        *self.slot_mut(source) = bytes;
    }

    fn slot(&self, source: ModelSource) -> &Option<Rc<Vec<u8>>> {
        match source {
            ModelSource::Pretrained => &self.pretrained,
            ModelSource::Trained => &self.trained,
            ModelSource::Uploaded => &self.uploaded,
        }
    }

    fn slot_mut(&mut self, source: ModelSource) -> &mut Option<Rc<Vec<u8>>> {
        match source {
            ModelSource::Pretrained => &mut self.pretrained,
            ModelSource::Trained => &mut self.trained,
            ModelSource::Uploaded => &mut self.uploaded,
        }
    }
}
