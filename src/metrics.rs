//! Classification metrics: confusion matrix, accuracy, per-class precision/recall/F1, and the
//! most-confused pairs. Plain Rust (no candle), serde-serialisable, shared by CLI and browser.
//!
//! Convention: `counts[t][p]` counts examples whose true digit is `t` and predicted digit is `p`
//! (rows = true, columns = predicted).

use serde::{Deserialize, Serialize};

use crate::data::NUM_CLASSES;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfusionMatrix {
    pub counts: [[u64; NUM_CLASSES]; NUM_CLASSES],
}

/// Precision, recall, F1 and support of one digit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ClassMetrics {
    pub digit: usize,
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    /// Number of examples whose true label is this digit.
    pub support: u64,
}

/// One off-diagonal cell: how often `truth` was predicted as `predicted`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Confusion {
    pub truth: usize,
    pub predicted: usize,
    pub count: u64,
}

impl ConfusionMatrix {
    /// Records one example. Labels must be digits 0-9.
    pub fn add(&mut self, truth: usize, predicted: usize) {
        self.counts[truth][predicted] += 1;
    }

    /// Records a batch of (truth, prediction) pairs.
    pub fn extend(&mut self, truths: &[u8], predictions: &[u32]) {
        for (&t, &p) in truths.iter().zip(predictions) {
            self.add(t as usize, p as usize);
        }
    }

    pub fn total(&self) -> u64 {
        self.counts.iter().flatten().sum()
    }

    pub fn correct(&self) -> u64 {
        (0..NUM_CLASSES).map(|i| self.counts[i][i]).sum()
    }

    /// Fraction classified correctly (0 when empty).
    pub fn accuracy(&self) -> f64 {
        ratio(self.correct(), self.total())
    }

    /// Per-digit precision (of the predictions of that digit, how many were right), recall (of
    /// the examples of that digit, how many were found), F1 and support. 0 where undefined.
    pub fn per_class(&self) -> Vec<ClassMetrics> {
        (0..NUM_CLASSES)
            .map(|d| {
                let tp = self.counts[d][d];
                let predicted: u64 = (0..NUM_CLASSES).map(|t| self.counts[t][d]).sum();
                let support: u64 = self.counts[d].iter().sum();
                let precision = ratio(tp, predicted);
                let recall = ratio(tp, support);
                let f1 = if precision + recall > 0.0 {
                    2.0 * precision * recall / (precision + recall)
                } else {
                    0.0
                };
                ClassMetrics {
                    digit: d,
                    precision,
                    recall,
                    f1,
                    support,
                }
            })
            .collect()
    }

    /// The `k` largest off-diagonal cells, largest first (ties: lower true digit first).
    pub fn most_confused(&self, k: usize) -> Vec<Confusion> {
        let mut cells: Vec<Confusion> = (0..NUM_CLASSES)
            .flat_map(|t| (0..NUM_CLASSES).map(move |p| (t, p)))
            .filter(|&(t, p)| t != p && self.counts[t][p] > 0)
            .map(|(t, p)| Confusion {
                truth: t,
                predicted: p,
                count: self.counts[t][p],
            })
            .collect();
        cells.sort_by(|a, b| {
            b.count
                .cmp(&a.count)
                .then(a.truth.cmp(&b.truth))
                .then(a.predicted.cmp(&b.predicted))
        });
        cells.truncate(k);
        cells
    }

    /// A fixed-width text table (rows = true digit), for terminals.
    pub fn to_table(&self) -> String {
        let mut s = String::from("true\\pred");
        for p in 0..NUM_CLASSES {
            s += &format!("{p:>6}");
        }
        s.push('\n');
        for (t, row) in self.counts.iter().enumerate() {
            s += &format!("{t:>9}");
            for c in row {
                s += &format!("{c:>6}");
            }
            s.push('\n');
        }
        s
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_on_a_small_example() {
        let mut cm = ConfusionMatrix::default();
        // Truth 1: 3 right, 1 called 7. Truth 7: 2 right. Truth 4: 1 called 9.
        cm.extend(&[1, 1, 1, 1, 7, 7, 4], &[1, 1, 1, 7, 7, 7, 9]);
        assert_eq!(cm.total(), 7);
        assert!((cm.accuracy() - 5.0 / 7.0).abs() < 1e-12);
        let pc = cm.per_class();
        assert_eq!(pc[1].support, 4);
        assert!((pc[1].recall - 0.75).abs() < 1e-12);
        assert!((pc[1].precision - 1.0).abs() < 1e-12);
        assert!((pc[7].precision - 2.0 / 3.0).abs() < 1e-12);
        assert!((pc[7].f1 - 0.8).abs() < 1e-12);
        assert_eq!(pc[4].f1, 0.0);
        assert_eq!(pc[0].support, 0);
        let top = cm.most_confused(5);
        assert_eq!(top.len(), 2);
        assert_eq!((top[0].truth, top[0].predicted, top[0].count), (1, 7, 1));
        let json = serde_json::to_string(&cm).unwrap();
        assert_eq!(serde_json::from_str::<ConfusionMatrix>(&json).unwrap(), cm);
        assert!(cm.to_table().lines().nth(2).unwrap().contains("     3"));
    }

    #[test]
    fn empty_matrix_is_zero_not_nan() {
        let cm = ConfusionMatrix::default();
        assert_eq!(cm.accuracy(), 0.0);
        assert!(cm.per_class().iter().all(|c| c.f1 == 0.0));
    }
}
