//! How the page's actions change "My digits": a correction adds the drawing with its true label,
//! samples are deleted one by one or all at once, imported from an IDX pair, restored from
//! storage; and the current model's score on them.

use crate::data::Dataset;

use super::super::my_digits::{to_bytes, Sample, MAX_SAMPLES};
use super::{AppState, ErrorKind};

/// The model that predicts, scored on My digits.
#[derive(Clone, Debug, PartialEq)]
pub struct DigitsScore {
    /// Which model and which samples (`MyDigits::generation`) the score is of.
    pub model_id: String,
    pub generation: u64,
    pub correct: usize,
    pub total: usize,
}

impl AppState {
    /// The user says the drawing on the pad is `label`: it joins My digits as the model saw it.
    pub(super) fn correct(&mut self, label: u8, now_ms: f64) {
        let Some(prediction) = self.prediction.clone() else {
            return;
        };
        let was = prediction.digit;
        match self.my_digits.add(label, to_bytes(&prediction.input), now_ms) {
            Some(_) => {
                let n = self.my_digits.counts()[label as usize];
                let verdict = if was == label as usize {
                    "confirmed".to_string()
                } else {
                    format!("read as {was}")
                };
                self.notice = Some(format!(
                    "Added to My digits as a {label} ({verdict}); you have {n} of that digit, {} in all.",
                    self.my_digits.len()
                ));
                // Ready for the next one.
                self.pad_clears += 1;
                self.prediction = None;
            }
            None => self.fail(
                ErrorKind::Digits,
                format!("My digits holds at most {MAX_SAMPLES} samples; delete some first."),
            ),
        }
    }

    pub(super) fn imported_digits(&mut self, result: Result<Dataset, String>, now_ms: f64) {
        match result {
            Ok(data) => {
                let added = self.my_digits.import(&data, now_ms);
                let skipped = data.len() - added;
                self.notice = Some(format!(
                    "Imported {added} of {} digits into My digits{}.",
                    data.len(),
                    if skipped > 0 {
                        " (the others were already there, or it is full)"
                    } else {
                        ""
                    }
                ));
            }
            Err(why) => self.fail(ErrorKind::Digits, why),
        }
    }

    pub(super) fn digits_restored(&mut self, records: Vec<Option<Sample>>) {
        self.my_digits.restore(records);
        if self.my_digits.unreadable > 0 {
            self.notice = Some(format!(
                "Skipped {} saved digit(s) that could not be read.",
                self.my_digits.unreadable
            ));
        }
    }

    /// What is still to be scored on My digits: the selected model and the current samples, if
    /// the known score is of another model or other samples.
    pub fn digits_score_needed(&self) -> Option<(String, u64)> {
        let id = self.selected.clone()?;
        let generation = self.my_digits.generation();
        let known = self
            .digits_score
            .as_ref()
            .is_some_and(|s| s.model_id == id && s.generation == generation);
        (!known && !self.my_digits.is_empty()).then_some((id, generation))
    }
}
