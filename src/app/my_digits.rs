//! "My digits": drawings the user labelled (by correcting a prediction, or by importing an IDX
//! pair), kept to measure and fine-tune a model on their handwriting.
//!
//! Contract: a sample is exactly the 28x28 input the model saw (bytes, the core's input quantised
//! to 1/255 steps), its label and when it was added; samples are only added or deleted, never
//! changed. As with the model list, storage follows this state: [`MyDigits::sync`] says what to
//! write and delete since the last write; stored records that cannot be read are skipped and
//! counted, never used.

use std::collections::HashSet;
use std::rc::Rc;

use crate::data::{Dataset, IMAGE_PIXELS, NUM_CLASSES};
use crate::preprocess::Digit;

/// The most samples kept: ample for teaching a handwriting (the recipe uses a few dozen), and a
/// bound on what an import or storage can make the page hold (80 kB per 100 samples).
pub const MAX_SAMPLES: usize = 5_000;

/// The largest file of a My-digits upload: two IDX files of [`MAX_SAMPLES`] samples are about
/// 4 MB raw; anything far larger is refused before it is read.
pub const MAX_UPLOAD_BYTES: usize = 16_000_000;

/// One labelled drawing.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub id: String,
    pub label: u8,
    /// 784 intensities, 0 = background, 255 = ink (row-major 28x28).
    pub pixels: Rc<Vec<u8>>,
    /// When it was added (ms since the Unix epoch).
    pub added_ms: f64,
}

impl Sample {
    /// A record read back from storage, checked.
    pub fn decode(id: &str, label: Option<f64>, pixels: Option<Vec<u8>>, added_ms: Option<f64>) -> Option<Self> {
        let label = label.filter(|l| l.fract() == 0.0 && (0.0..NUM_CLASSES as f64).contains(l))? as u8;
        let pixels = pixels.filter(|p| p.len() == IMAGE_PIXELS)?;
        Some(Self {
            id: id.to_string(),
            label,
            pixels: Rc::new(pixels),
            added_ms: added_ms.filter(|t| t.is_finite()).unwrap_or(0.0),
        })
    }
}

/// A 28x28 model input as the bytes a sample keeps (exact for the core's quantised input).
pub fn to_bytes(input: &Digit) -> Vec<u8> {
    input
        .iter()
        .map(|&v| (v.clamp(0.0, 1.0) * 255.0).round() as u8)
        .collect()
}

/// What storage must do to match the samples.
#[derive(Debug, Default, PartialEq)]
pub struct DigitsSync {
    pub put: Vec<Sample>,
    pub delete: Vec<String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct MyDigits {
    /// Oldest first.
    samples: Vec<Sample>,
    /// Bumped on every change, for the page's effects.
    generation: u64,
    /// Stored records that could not be read at load (skipped).
    pub unreadable: usize,
    /// Whether the stored samples have been read back (tests wait on it before they look).
    pub restored: bool,
}

impl MyDigits {
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    pub fn len(&self) -> usize {
        self.samples.len()
    }

    pub fn is_empty(&self) -> bool {
        self.samples.is_empty()
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// How many samples of each digit.
    pub fn counts(&self) -> [usize; NUM_CLASSES] {
        let mut counts = [0; NUM_CLASSES];
        for s in &self.samples {
            counts[s.label as usize] += 1;
        }
        counts
    }

    /// Adds a sample made at `now_ms`; `None` when the collection is full or the input is not
    /// 28x28 bytes with a digit label.
    pub fn add(&mut self, label: u8, pixels: Vec<u8>, now_ms: f64) -> Option<String> {
        if self.samples.len() >= MAX_SAMPLES || label as usize >= NUM_CLASSES || pixels.len() != IMAGE_PIXELS {
            return None;
        }
        let base = format!("digit-{}", now_ms.max(0.0) as u64);
        let id = (0..)
            .map(|n| if n == 0 { base.clone() } else { format!("{base}-{n}") })
            .find(|id| self.samples.iter().all(|s| &s.id != id))
            .unwrap_or(base);
        self.samples.push(Sample {
            id: id.clone(),
            label,
            pixels: Rc::new(pixels),
            added_ms: now_ms,
        });
        self.generation += 1;
        Some(id)
    }

    /// Adds every image of `data` that is not already among the samples (same pixels and label:
    /// importing a download twice adds nothing); repeats within `data` are kept, as they were
    /// separate samples when it was exported. Returns how many were added (an import stops at
    /// [`MAX_SAMPLES`]).
    pub fn import(&mut self, data: &Dataset, now_ms: f64) -> usize {
        let known: HashSet<(u8, Vec<u8>)> = self.samples.iter().map(|s| (s.label, s.pixels.to_vec())).collect();
        let mut added = 0;
        for i in 0..data.len() {
            let key = (data.labels[i], data.image(i).to_vec());
            if known.contains(&key) {
                continue;
            }
            if self.add(key.0, key.1, now_ms).is_none() {
                break;
            }
            added += 1;
        }
        added
    }

    pub fn delete(&mut self, id: &str) -> bool {
        let before = self.samples.len();
        self.samples.retain(|s| s.id != id);
        self.generation += 1;
        before != self.samples.len()
    }

    pub fn clear(&mut self) {
        self.samples.clear();
        self.generation += 1;
    }

    /// Samples read from storage at page load (`None`: a record that could not be read).
    pub fn restore(&mut self, records: Vec<Option<Sample>>) {
        for r in records {
            match r {
                Some(s) if self.samples.len() < MAX_SAMPLES => self.samples.push(s),
                _ => self.unreadable += 1,
            }
        }
        self.samples.sort_by(|a, b| a.added_ms.total_cmp(&b.added_ms));
        self.generation += 1;
        self.restored = true;
    }

    /// The samples as a dataset, in order: for scoring, fine-tuning and export.
    pub fn dataset(&self) -> Dataset {
        Dataset {
            images: self.samples.iter().flat_map(|s| s.pixels.iter().copied()).collect(),
            labels: self.samples.iter().map(|s| s.label).collect(),
        }
    }

    /// What to write and delete so storage holds exactly these samples, given the ids it holds
    /// (`saved`, updated as if the plan succeeded; samples never change, so an id once written
    /// stays written).
    pub fn sync(&self, saved: &mut HashSet<String>) -> DigitsSync {
        let put: Vec<Sample> = self
            .samples
            .iter()
            .filter(|s| !saved.contains(&s.id))
            .cloned()
            .collect();
        let ids: HashSet<&String> = self.samples.iter().map(|s| &s.id).collect();
        let mut delete: Vec<String> = saved.iter().filter(|id| !ids.contains(id)).cloned().collect();
        delete.sort();
        saved.retain(|id| ids.contains(id));
        saved.extend(put.iter().map(|s| s.id.clone()));
        DigitsSync { put, delete }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pixels(v: u8) -> Vec<u8> {
        vec![v; IMAGE_PIXELS]
    }

    #[test]
    fn samples_are_added_counted_deleted_and_become_a_dataset() {
        let mut d = MyDigits::default();
        let a = d.add(7, pixels(1), 10.0).unwrap();
        let b = d.add(7, pixels(2), 10.0).unwrap();
        assert_ne!(a, b, "ids never collide");
        d.add(1, pixels(3), 11.0).unwrap();
        assert!(d.add(10, pixels(4), 12.0).is_none(), "labels are digits");
        assert!(d.add(3, vec![0; 10], 12.0).is_none(), "28x28 only");
        assert_eq!(d.counts()[7], 2);
        assert_eq!(d.counts()[1], 1);
        let data = d.dataset();
        assert_eq!((data.len(), data.labels.clone()), (3, vec![7, 7, 1]));
        assert_eq!(data.image(1), &pixels(2)[..]);
        assert!(d.delete(&a));
        assert!(!d.delete(&a));
        assert_eq!(d.len(), 2);
        let g = d.generation();
        d.clear();
        assert!(d.is_empty() && d.generation() > g);
    }

    #[test]
    fn import_skips_what_is_already_there() {
        let mut d = MyDigits::default();
        d.add(4, pixels(9), 1.0);
        let mut data = Dataset::default();
        for (label, v) in [(4, 9), (4, 8), (5, 9), (5, 9)] {
            data.images.extend(pixels(v));
            data.labels.push(label);
        }
        assert_eq!(
            d.import(&data, 2.0),
            3,
            "what is there is skipped; repeats in the file are kept"
        );
        assert_eq!(d.len(), 4);
        assert_eq!(d.import(&data, 3.0), 0, "importing the same file again adds nothing");
    }

    #[test]
    fn storage_follows_the_samples() {
        let mut d = MyDigits::default();
        let a = d.add(1, pixels(1), 1.0).unwrap();
        let mut saved = HashSet::from(["digit-gone".to_string()]);
        let plan = d.sync(&mut saved);
        assert_eq!(plan.put.len(), 1);
        assert_eq!(plan.delete, ["digit-gone"]);
        assert_eq!(d.sync(&mut saved), DigitsSync::default());
        d.delete(&a);
        assert_eq!(d.sync(&mut saved).delete, [a]);
        assert!(saved.is_empty());
    }

    #[test]
    fn damaged_records_are_skipped_and_counted() {
        let good = Sample::decode("digit-1", Some(3.0), Some(pixels(5)), Some(5.0)).unwrap();
        assert_eq!(good.label, 3);
        assert!(Sample::decode("x", Some(3.5), Some(pixels(5)), None).is_none());
        assert!(Sample::decode("x", Some(10.0), Some(pixels(5)), None).is_none());
        assert!(Sample::decode("x", Some(3.0), Some(vec![1; 783]), None).is_none());
        assert!(Sample::decode("x", None, Some(pixels(5)), None).is_none());
        let mut d = MyDigits::default();
        d.restore(vec![Some(good), None]);
        assert_eq!((d.len(), d.unreadable), (1, 1));
    }

    #[test]
    fn model_inputs_become_exact_bytes() {
        let mut input = [0f32; IMAGE_PIXELS];
        input[0] = 1.0;
        input[1] = 128.0 / 255.0;
        input[2] = 2.0; // never above full ink
        let bytes = to_bytes(&input);
        assert_eq!(&bytes[..3], [255, 128, 255]);
    }
}
