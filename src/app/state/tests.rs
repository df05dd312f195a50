use candle_core::Device;

use super::*;
use crate::app::protocol::EvalReport;
use crate::checkpoint;
use crate::metrics::ConfusionMatrix;
use crate::model::{init_params, ModelConfig};

fn weights(seed: u64) -> Rc<Vec<u8>> {
    let config = ModelConfig::small();
    let varmap = init_params(&config, seed, &Device::Cpu).expect("init");
    Rc::new(checkpoint::to_bytes(&varmap, &config).expect("serialise"))
}

fn evaluation(images: usize, accuracy: f64) -> Evaluation {
    Evaluation {
        accuracy,
        loss: 1.0,
        confusion: ConfusionMatrix::default(),
        predictions: vec![0; images],
    }
}

fn with_pretrained() -> AppState {
    let mut state = AppState::default();
    state.apply(Action::PretrainedLoaded {
        bytes: weights(7),
        evaluation: Some(Rc::new(evaluation(10_000, 0.99))),
    });
    state
}

fn snapshot(step: usize, images: usize) -> Action {
    Action::Worker(WorkerOutput::Evaluated(EvalReport {
        step,
        evaluation: evaluation(images, 0.5 + step as f64 / 1000.0),
        weights: weights(step as u64).to_vec(),
    }))
}

/// The pretrained model, then an upload (`uploaded-5`) in use.
fn with_upload() -> AppState {
    let mut state = with_pretrained();
    state.apply(Action::Uploaded {
        name: "mine.safetensors".into(),
        bytes: weights(3),
        now_ms: 5.0,
    });
    state
}

/// Two samples of every digit: enough to fine-tune.
fn two_of_each() -> crate::data::Dataset {
    crate::data::Dataset {
        images: (0..20u8).flat_map(|i| vec![i; 784]).collect(),
        labels: (0..20).map(|i| i % 10).collect(),
    }
}

fn report() -> crate::finetune::FinetuneReport {
    crate::finetune::FinetuneReport {
        held_out: 10,
        before: 0.4,
        after: 0.8,
        mnist_images: 1000,
        mnist_before: 0.99,
        mnist_after: 0.988,
    }
}

fn ids(state: &AppState) -> Vec<String> {
    state.models.entries().map(|e| e.id.clone()).collect()
}

#[test]
fn the_pretrained_model_predicts_at_once_with_its_recorded_matrix() {
    let state = with_pretrained();
    assert_eq!(state.selected.as_deref(), Some(PRETRAINED_ID));
    assert!(state.predictor.is_some());
    assert_eq!(state.evaluation().unwrap().predictions.len(), 10_000);
    assert_eq!(
        state.evaluation_needed(10_000),
        None,
        "the recorded matrix covers the test set"
    );
    let caption = state.evaluation_caption().unwrap();
    assert!(
        caption.starts_with("Pretrained") && caption.ends_with("10,000 test images"),
        "{caption}"
    );
}

#[test]
fn a_bad_upload_is_an_error_and_keeps_the_model() {
    let mut state = with_pretrained();
    state.apply(Action::Uploaded {
        name: "bad.safetensors".into(),
        bytes: Rc::new(b"not a model".to_vec()),
        now_ms: 5.0,
    });
    let error = state.error.as_ref().expect("an error is shown");
    assert_eq!(error.kind, ErrorKind::Upload);
    assert!(
        error.message.contains("bad.safetensors") && error.message.contains("safetensors"),
        "{}",
        error.message
    );
    assert_eq!(state.selected.as_deref(), Some(PRETRAINED_ID));
    assert_eq!(ids(&state), [PRETRAINED_ID]);
}

#[test]
fn an_upload_is_a_new_entry_that_predicts_and_gets_scored() {
    let mut state = with_upload();
    assert_eq!(ids(&state), ["uploaded-5", PRETRAINED_ID]);
    assert_eq!(state.selected.as_deref(), Some("uploaded-5"));
    assert_eq!(state.evaluation_needed(10_000).as_deref(), Some("uploaded-5"));
    state.apply(Action::ScoringRequested {
        id: "uploaded-5".into(),
        total: 10_000,
    });
    state.apply(Action::Worker(WorkerOutput::ModelScoring {
        id: "uploaded-5".into(),
        scored: 500,
        total: 10_000,
    }));
    assert_eq!(state.evaluation_needed(10_000), None, "already being scored");
    state.apply(Action::Worker(WorkerOutput::ModelEvaluated {
        id: "uploaded-5".into(),
        evaluation: evaluation(10_000, 0.9),
    }));
    assert_eq!(state.scoring, None);
    assert_eq!(state.selected_entry().unwrap().test_accuracy, Some(0.9));
    assert_eq!(state.evaluation_needed(10_000), None);
}

#[test]
fn each_run_updates_only_its_own_entry_and_is_followed_until_the_user_picks_another() {
    let mut state = with_pretrained();
    state.apply(Action::StartRequested { now_ms: 100.0 });
    assert_eq!(state.run_state(), RunState::Loading);
    state.apply(snapshot(10, 1000));
    assert_eq!(state.selected.as_deref(), Some("trained-100"));
    assert_eq!(state.progress.accuracy_history, [(10, 0.51)]);
    state.apply(snapshot(20, 1000));
    assert_eq!(ids(&state), ["trained-100", PRETRAINED_ID], "one entry per run");
    state.apply(Action::Worker(WorkerOutput::Finished { stopped: true }));

    // A second run: the first run's model is untouched by its snapshots.
    state.apply(Action::StartRequested { now_ms: 200.0 });
    state.apply(snapshot(5, 1000));
    assert_eq!(ids(&state), ["trained-200", "trained-100", PRETRAINED_ID]);
    let first = &state.models.get("trained-100").unwrap().entry;
    assert_eq!(first.test_accuracy, Some(0.52));
    assert_eq!(first.note.as_deref(), Some("after 20 steps"));

    state.apply(Action::UseModel(PRETRAINED_ID.into()));
    state.apply(snapshot(15, 1000));
    assert_eq!(
        state.selected.as_deref(),
        Some(PRETRAINED_ID),
        "the user's choice stays"
    );
    state.apply(Action::Worker(WorkerOutput::Failed {
        kind: FailureKind::Diverged,
        message: "diverged".into(),
    }));
    assert_eq!(state.run_state(), RunState::Error);
    assert_eq!(
        state.error.as_ref().map(|e| e.kind),
        Some(ErrorKind::Training(FailureKind::Diverged))
    );
    assert_eq!(
        state.models.get("trained-200").unwrap().entry.note.as_deref(),
        Some("after 15 steps")
    );
}

#[test]
fn storage_restores_the_list_and_the_selection_and_names_what_it_skipped() {
    let mut state = with_pretrained();
    let stored = |id: &str, created_ms: f64| {
        let w = weights(created_ms as u64);
        StoredModel {
            entry: ModelEntry {
                id: id.into(),
                kind: ModelKind::Trained,
                name: id.into(),
                created_ms,
                config: ModelConfig::small(),
                bytes: w.len(),
                test_accuracy: Some(0.99),
                test_images: 10_000,
                settings: None,
                note: None,
            },
            weights: w,
            evaluation: None,
        }
    };
    state.apply(Action::Restored {
        models: vec![
            Ok(stored("trained-1", 1.0)),
            Ok(stored("trained-2", 2.0)),
            Err(BrokenEntry {
                id: "trained-9".into(),
                reason: "no weights".into(),
            }),
        ],
        legacy: vec![weights(4).to_vec()],
        selected: Some("trained-1".into()),
        now_ms: 50.0,
    });
    assert_eq!(ids(&state), ["trained-50", "trained-2", "trained-1", PRETRAINED_ID]);
    assert_eq!(state.selected.as_deref(), Some("trained-1"));
    let notice = state.notice.clone().unwrap();
    assert!(notice.contains("Restored 3 models"), "{notice}");
    assert!(notice.contains("\"trained-9\" (no weights)"), "{notice}");
    // The broken record can be deleted from the list.
    state.apply(Action::DeleteModel("trained-9".into()));
    assert!(state.models.broken().is_empty());
}

#[test]
fn deleting_the_model_in_use_falls_back_to_the_pretrained_one_and_can_be_undone() {
    let mut state = with_upload();
    state.apply(Action::DeleteModel("uploaded-5".into()));
    assert_eq!(state.selected.as_deref(), Some(PRETRAINED_ID));
    assert_eq!(ids(&state), [PRETRAINED_ID]);
    assert!(state.notice.as_deref().unwrap().contains("mine.safetensors"));
    assert!(state.offers_undo());
    state.apply(Action::DeleteModel(PRETRAINED_ID.into()));
    assert_eq!(ids(&state), [PRETRAINED_ID], "the shipped model cannot be deleted");
    // Another notice replaces the deletion's: it offers no Undo; the deletion's comes back with it.
    state.apply(Action::Notice(Some("Training goes on with 1 worker.".into())));
    assert!(!state.offers_undo());
    state.apply(Action::Notice(Some("Deleted \"mine.safetensors\".".into())));
    assert!(state.offers_undo());
    state.apply(Action::UndoDelete);
    assert_eq!(ids(&state), ["uploaded-5", PRETRAINED_ID]);
    assert_eq!(state.selected.as_deref(), Some("uploaded-5"));
}

#[test]
fn a_crashed_worker_ends_a_scoring_job_and_reset_clears_the_run() {
    let mut state = with_pretrained();
    state.scoring = Some(Scoring {
        id: PRETRAINED_ID.into(),
        scored: 1,
        total: 2,
    });
    state.apply(Action::WorkerCrashed("boom".into()));
    assert_eq!((state.run_state(), state.scoring.clone()), (RunState::Error, None));
    state.apply(Action::ResetTraining);
    assert_eq!((state.run_state(), state.error.clone()), (RunState::Idle, None));
}

fn predicted(digit: usize) -> Action {
    let mut input = [0f32; 784];
    input[14 * 28 + 14] = 1.0;
    Action::Predicted(Some(Rc::new(Prediction {
        digit,
        probabilities: vec![0.1; 10],
        input,
        latency_ms: 1.0,
    })))
}

#[test]
fn a_correction_adds_the_drawing_as_the_model_saw_it_and_clears_the_pad() {
    let mut state = with_pretrained();
    state.apply(Action::Correct { label: 7, now_ms: 1.0 });
    assert!(state.my_digits.is_empty(), "nothing drawn, nothing added");
    state.apply(predicted(1));
    state.apply(Action::Correct { label: 7, now_ms: 2.0 });
    assert_eq!(state.my_digits.len(), 1);
    let sample = &state.my_digits.samples()[0];
    assert_eq!(
        (sample.label, sample.pixels[14 * 28 + 14], sample.pixels[0]),
        (7, 255, 0)
    );
    assert!(state.notice.as_deref().unwrap().contains("as a 7 (read as 1)"));
    assert_eq!((state.pad_clears, state.prediction.clone()), (1, None));
    // Scoring: needed for this model and these samples, then known until either changes.
    let (id, generation) = state.digits_score_needed().unwrap();
    assert_eq!(id, PRETRAINED_ID);
    state.apply(Action::DigitsScored(DigitsScore {
        model_id: id,
        generation,
        correct: 0,
        total: 1,
    }));
    assert_eq!(state.digits_score_needed(), None);
    state.apply(predicted(7));
    state.apply(Action::Correct { label: 7, now_ms: 3.0 });
    assert!(state.digits_score_needed().is_some(), "new samples need a new score");
}

#[test]
fn an_import_adds_new_digits_and_a_bad_one_is_an_error() {
    let mut state = with_pretrained();
    let data = crate::data::Dataset {
        images: vec![3; 2 * 784],
        labels: vec![3, 4],
    };
    // (the same pixels with two labels: two samples)
    state.apply(Action::ImportedDigits {
        result: Ok(data.clone()),
        now_ms: 1.0,
    });
    state.apply(Action::ImportedDigits {
        result: Ok(data),
        now_ms: 2.0,
    });
    assert_eq!(state.my_digits.len(), 2);
    assert!(state.notice.as_deref().unwrap().starts_with("Imported 0 of 2"));
    state.apply(Action::ImportedDigits {
        result: Err("x.gz: wrong magic number".into()),
        now_ms: 3.0,
    });
    assert_eq!(state.error.as_ref().map(|e| e.kind), Some(ErrorKind::Digits));
    state.apply(Action::ClearDigits);
    assert!(state.my_digits.is_empty());
}

#[test]
fn finetuning_says_what_is_missing_and_files_the_tuned_model_as_a_new_entry() {
    let mut state = with_pretrained();
    assert!(!state.finetune_requested(1.0));
    assert_eq!(state.finetuning.key(), "error");
    let Finetuning::Error(why) = &state.finetuning else {
        unreachable!()
    };
    assert!(why.contains("only 0 of your digits"), "{why}");
    let data = two_of_each();
    state.apply(Action::ImportedDigits {
        result: Ok(data),
        now_ms: 2.0,
    });
    state.apply(Action::StartRequested { now_ms: 3.0 });
    assert!(!state.finetune_requested(4.0), "not while a run trains");
    state.apply(Action::ResetTraining);
    assert!(state.finetune_requested(5.0));
    state.apply(Action::Worker(WorkerOutput::FinetuneProgress { step: 3, total: 40 }));
    assert_eq!(state.finetuning, Finetuning::Training { step: 3, total: 40 });
    let report = report();
    state.apply(Action::Worker(WorkerOutput::Finetuned {
        base_id: PRETRAINED_ID.into(),
        report: report.clone(),
        weights: weights(9).to_vec(),
        samples: 20,
    }));
    assert_eq!(
        ids(&state),
        ["finetuned-5", PRETRAINED_ID],
        "a new entry; the base stays"
    );
    assert_eq!(state.selected.as_deref(), Some("finetuned-5"));
    let entry = state.selected_entry().unwrap();
    assert_eq!(entry.kind, ModelKind::Finetuned);
    assert_eq!(
        entry.note.as_deref(),
        Some("held-out digits 4 → 8 of 10; MNIST 99.0 → 98.8 % on 1,000")
    );
    assert_eq!(
        state.finetuning,
        Finetuning::Done {
            model_id: "finetuned-5".into(),
            report
        }
    );
    assert_eq!(state.evaluation_needed(10_000).as_deref(), Some("finetuned-5"));
}

#[test]
fn messages_of_a_job_the_page_dropped_change_nothing() {
    let mut state = with_upload();
    state.apply(Action::ScoringRequested {
        id: "uploaded-5".into(),
        total: 10_000,
    });
    // A run starts: the worker drops the scoring job, but a progress message was on its way.
    state.apply(Action::StartRequested { now_ms: 6.0 });
    state.apply(Action::Worker(WorkerOutput::ModelScoring {
        id: "uploaded-5".into(),
        scored: 500,
        total: 10_000,
    }));
    assert_eq!(state.scoring, None, "the dropped job does not come back");
    state.apply(Action::ResetTraining);
    // Scoring that fails ends the job with a notice, and the model can be asked for again.
    state.apply(Action::UseModel("uploaded-5".into()));
    assert_eq!(state.evaluation_needed(10_000).as_deref(), Some("uploaded-5"));
    state.apply(Action::ScoringRequested {
        id: "uploaded-5".into(),
        total: 10_000,
    });
    state.apply(Action::Worker(WorkerOutput::ScoringFailed {
        id: "other".into(),
        message: "not this one".into(),
    }));
    assert!(state.scoring.is_some(), "another job's failure is not this one's");
    state.apply(Action::Worker(WorkerOutput::ScoringFailed {
        id: "uploaded-5".into(),
        message: "Could not score this model on the test set: offline".into(),
    }));
    assert_eq!(state.scoring, None);
    assert!(state.notice.as_deref().unwrap().contains("offline"));
    assert_eq!(
        state.evaluation_needed(10_000),
        None,
        "a lasting failure is not retried in a loop"
    );
    state.apply(Action::UseModel("uploaded-5".into()));
    assert_eq!(
        state.evaluation_needed(10_000).as_deref(),
        Some("uploaded-5"),
        "picking the model asks again"
    );

    // Fine-tuning: Reset ends it; a progress message or a result that arrives later is ignored.
    let data = two_of_each();
    state.apply(Action::ImportedDigits {
        result: Ok(data),
        now_ms: 7.0,
    });
    assert!(state.finetune_requested(8.0));
    state.apply(Action::ResetTraining);
    assert_eq!(state.finetuning.key(), "error");
    assert!(state.finetune_blocker().is_none(), "the button works again");
    state.apply(Action::Worker(WorkerOutput::FinetuneProgress { step: 4, total: 40 }));
    assert_eq!(state.finetuning.key(), "error");
    // A run's Start stops one too, and its late result files no model.
    assert!(state.finetune_requested(9.0));
    state.apply(Action::StartRequested { now_ms: 10.0 });
    let models = ids(&state);
    state.apply(Action::Worker(WorkerOutput::Finetuned {
        base_id: PRETRAINED_ID.into(),
        report: report(),
        weights: weights(9).to_vec(),
        samples: 20,
    }));
    assert_eq!(ids(&state), models);
    assert_eq!(state.finetuning.key(), "error");
}

#[test]
fn deleting_the_running_runs_entry_is_not_undone_by_its_next_snapshot() {
    let mut state = with_pretrained();
    state.apply(Action::StartRequested { now_ms: 100.0 });
    state.apply(snapshot(10, 1000));
    assert_eq!(ids(&state), ["trained-100", PRETRAINED_ID]);
    state.apply(Action::DeleteModel("trained-100".into()));
    state.apply(snapshot(20, 1000));
    assert_eq!(
        ids(&state),
        [PRETRAINED_ID],
        "the run goes on, its snapshots are not stored"
    );
    assert!(state.run_state().is_active());
    state.apply(Action::UndoDelete);
    assert_eq!(ids(&state), ["trained-100", PRETRAINED_ID]);
}
