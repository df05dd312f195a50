use candle_core::Device;

use super::*;
use crate::metrics::ConfusionMatrix;
use crate::model::init_params;

fn weights(seed: u64) -> Rc<Vec<u8>> {
    let config = ModelConfig::small();
    let varmap = init_params(&config, seed, &Device::Cpu).unwrap();
    Rc::new(checkpoint::to_bytes(&varmap, &config).unwrap())
}

fn model(id: &str, kind: ModelKind, created_ms: f64) -> StoredModel {
    let weights = weights(created_ms as u64);
    StoredModel {
        entry: ModelEntry {
            id: id.into(),
            kind,
            name: id.into(),
            created_ms,
            config: ModelConfig::small(),
            bytes: weights.len(),
            test_accuracy: None,
            test_images: 0,
            settings: None,
            note: None,
        },
        weights,
        evaluation: None,
    }
}

fn evaluation(images: usize, accuracy: f64) -> Rc<Evaluation> {
    Rc::new(Evaluation {
        accuracy,
        loss: 0.1,
        confusion: ConfusionMatrix::default(),
        predictions: vec![0; images],
    })
}

fn ids(h: &ModelHistory) -> Vec<String> {
    h.entries().map(|e| e.id.clone()).collect()
}

#[test]
fn newest_first_pretrained_last_and_a_put_replaces_only_its_own_entry() {
    let mut h = ModelHistory::default();
    h.put(model(PRETRAINED_ID, ModelKind::Pretrained, 0.0));
    h.put(model("trained-1", ModelKind::Trained, 1.0));
    h.put(model("uploaded-3", ModelKind::Uploaded, 3.0));
    h.put(model("trained-2", ModelKind::Trained, 2.0));
    assert_eq!(ids(&h), ["uploaded-3", "trained-2", "trained-1", "pretrained"]);
    // A later snapshot of run 1 changes run 1 only.
    let mut snapshot = model("trained-1", ModelKind::Trained, 1.0);
    snapshot.entry.name = "run one, later".into();
    h.put(snapshot);
    assert_eq!(ids(&h), ["uploaded-3", "trained-2", "trained-1", "pretrained"]);
    assert_eq!(h.get("trained-1").unwrap().entry.name, "run one, later");
    assert_eq!(h.get("trained-2").unwrap().entry.name, "trained-2");
    assert_eq!(h.newest(ModelKind::Trained).unwrap().id, "trained-2");
}

#[test]
fn evaluations_keep_the_one_on_more_images() {
    let mut h = ModelHistory::default();
    h.put(model("trained-1", ModelKind::Trained, 1.0));
    assert!(h.set_evaluation("trained-1", evaluation(1000, 0.9)));
    assert!(h.set_evaluation("trained-1", evaluation(10_000, 0.95)));
    assert!(
        !h.set_evaluation("trained-1", evaluation(1000, 0.5)),
        "a quick score does not replace a full one"
    );
    let e = &h.get("trained-1").unwrap().entry;
    assert_eq!((e.test_accuracy, e.test_images), (Some(0.95), 10_000));
    assert!(!h.set_evaluation("nope", evaluation(1, 1.0)));
}

#[test]
fn delete_can_be_undone_and_spares_the_pretrained_model() {
    let mut h = ModelHistory::default();
    h.put(model(PRETRAINED_ID, ModelKind::Pretrained, 0.0));
    h.put(model("trained-1", ModelKind::Trained, 1.0));
    assert!(!h.delete(PRETRAINED_ID));
    assert!(h.delete("trained-1"));
    assert_eq!(ids(&h), ["pretrained"]);
    assert_eq!(h.deleted().unwrap().id, "trained-1");
    assert_eq!(h.undo_delete().as_deref(), Some("trained-1"));
    assert_eq!(ids(&h), ["trained-1", "pretrained"]);
    assert!(h.undo_delete().is_none());
}

#[test]
fn sync_writes_changes_once_and_deletes_what_is_gone() {
    let mut h = ModelHistory::default();
    h.put(model(PRETRAINED_ID, ModelKind::Pretrained, 0.0));
    h.put(model("trained-1", ModelKind::Trained, 1.0));
    // Storage held a record the page no longer has, a broken one and a good one.
    let mut saved = HashMap::from([
        ("trained-old".to_string(), 0),
        ("broken-1".to_string(), 0),
        ("trained-0".to_string(), 0),
    ]);
    h.restore(vec![
        Err(BrokenEntry {
            id: "broken-1".into(),
            reason: "unreadable description".into(),
        }),
        Ok(model("trained-0", ModelKind::Trained, 0.5)),
    ]);
    let plan = h.sync(&mut saved);
    assert_eq!(
        plan.put.iter().map(|m| m.entry.id.as_str()).collect::<Vec<_>>(),
        ["trained-1"],
        "what storage already holds is not written again"
    );
    assert_eq!(
        plan.delete,
        ["trained-old"],
        "broken records stay until the user deletes them"
    );
    assert_eq!(h.sync(&mut saved), SyncPlan::default(), "nothing changed since");
    h.set_evaluation("trained-1", evaluation(1000, 0.9));
    assert_eq!(h.sync(&mut saved).put.len(), 1);
    let generation = h.generation();
    assert!(h.delete("broken-1"));
    assert!(h.delete("trained-1"));
    assert!(h.generation() > generation);
    assert_eq!(h.sync(&mut saved).delete, ["broken-1", "trained-1"]);
    assert_eq!(saved.keys().collect::<Vec<_>>(), ["trained-0"]);
}

#[test]
fn stored_records_round_trip_and_damaged_ones_name_the_reason() {
    let mut m = model("trained-5", ModelKind::Trained, 5.0);
    m.evaluation = Some(evaluation(1000, 0.91));
    let meta = m.meta_json();
    let back = StoredModel::decode("trained-5", Some(&meta), Some(m.weights.to_vec())).unwrap();
    assert_eq!(back, m);

    let reason = |r: Result<StoredModel, BrokenEntry>| r.unwrap_err().reason;
    assert_eq!(
        reason(StoredModel::decode("trained-5", None, Some(vec![]))),
        "no description"
    );
    assert!(reason(StoredModel::decode("trained-5", Some("{"), None)).starts_with("unreadable description"));
    assert!(reason(StoredModel::decode("other", Some(&meta), Some(m.weights.to_vec()))).contains("stored under"));
    assert_eq!(
        reason(StoredModel::decode("trained-5", Some(&meta), None)),
        "no weights"
    );
    let junk = reason(StoredModel::decode("trained-5", Some(&meta), Some(b"junk".to_vec())));
    assert!(junk.contains("safetensors"), "{junk}");
    // Weights of another architecture than the description says.
    let seed_model = {
        let config = ModelConfig::default();
        checkpoint::to_bytes(&init_params(&config, 1, &Device::Cpu).unwrap(), &config).unwrap()
    };
    let mismatch = reason(StoredModel::decode("trained-5", Some(&meta), Some(seed_model)));
    assert!(mismatch.contains("does not match"), "{mismatch}");
}

#[test]
fn new_ids_never_collide() {
    let mut h = ModelHistory::default();
    let id = h.new_id(ModelKind::Trained, 1234.0);
    assert_eq!(id, "trained-1234");
    h.put(model(&id, ModelKind::Trained, 1234.0));
    h.restore(vec![Err(BrokenEntry {
        id: "trained-1234-1".into(),
        reason: "x".into(),
    })]);
    assert_eq!(h.new_id(ModelKind::Trained, 1234.0), "trained-1234-2");
}

#[test]
fn an_evaluation_that_does_not_read_back_is_dropped_not_the_model() {
    // A model whose weights overflow scores a NaN loss; JSON writes it as null.
    let mut m = model("uploaded-7", ModelKind::Uploaded, 7.0);
    m.evaluation = Some(Rc::new(Evaluation {
        loss: f64::NAN,
        ..(*evaluation(10, 0.1)).clone()
    }));
    let json = m.meta_json();
    assert!(json.contains("\"loss\":null"), "{json}");
    let back = StoredModel::decode("uploaded-7", Some(&json), Some(m.weights.to_vec())).unwrap();
    assert_eq!(back.entry, m.entry);
    assert_eq!(back.evaluation, None, "scored again later");
    // A finite one comes back as it was.
    m.evaluation = Some(evaluation(10, 0.1));
    let back = StoredModel::decode("uploaded-7", Some(&m.meta_json()), Some(m.weights.to_vec())).unwrap();
    assert_eq!(back.evaluation, m.evaluation);
}
