//! The stored forms and evaluations, and what tests read or change of them behind the API's back.

use std::collections::HashMap;

use genesys::models::{Evaluation, EvaluationForm};
use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use super::{EmulatorState, Store};

/// A form version.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FormVersion {
    pub(crate) form: EvaluationForm,
    pub(crate) published: bool,
    pub(crate) seq: u64,
}

/// A stored evaluation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct StoredEvaluation {
    /// When it was stored, on the emulator's clock (the query shows it `query_lag_ms` later).
    #[serde(default)]
    pub(crate) stored_at: Option<Timestamp>,
    pub(crate) conversation_id: String,
    pub(crate) agent_id: String,
    pub(crate) evaluator_id: String,
    pub(crate) evaluation: Evaluation,
    /// Earlier versions, oldest first (each update keeps the version it replaced).
    #[serde(default)]
    pub(crate) versions: Vec<Evaluation>,
}

impl EmulatorState {
    /// Removes a stored evaluation behind the API's back (tests that tamper with the org).
    pub fn tamper_remove_evaluation(&self, id: &str) -> bool {
        let mut store = self.store();
        let before = store.evaluations.len();
        store.evaluations.retain(|e| e.evaluation.id != id);
        store.evaluations.len() != before
    }

    /// Changes a stored evaluation's total score behind the API's back (tests).
    pub fn tamper_set_total(&self, id: &str, total: f64) -> bool {
        let mut store = self.store();
        match store.evaluations.iter_mut().find(|e| e.evaluation.id == id) {
            Some(e) => {
                if let Some(a) = e.evaluation.answers.as_mut() {
                    a.total_score = Some(total);
                }
                true
            }
            None => false,
        }
    }

    /// The published versions of the forms named `name`, oldest first: (version id, context id).
    pub fn published_versions(&self, name: &str) -> Vec<(String, String)> {
        let store = self.store();
        let mut v: Vec<&FormVersion> = store
            .forms
            .values()
            .filter(|v| v.published && v.form.name == name)
            .collect();
        v.sort_by_key(|v| v.seq);
        v.into_iter()
            .map(|v| {
                (
                    v.form.id.clone().unwrap_or_default(),
                    v.form.context_id.clone().unwrap_or_default(),
                )
            })
            .collect()
    }

    /// Every evaluation currently stored (deleted ones are gone), for tests and demo summaries.
    pub fn evaluations(&self) -> Vec<Evaluation> {
        self.store()
            .evaluations
            .iter()
            .map(|e| e.evaluation.clone())
            .collect()
    }

    /// Evaluations stored per agent.
    pub fn evaluations_per_agent(&self) -> HashMap<String, usize> {
        let mut out = HashMap::new();
        for e in &self.store().evaluations {
            *out.entry(e.agent_id.clone()).or_insert(0) += 1;
        }
        out
    }

    /// Evaluations stored by evaluator.
    pub fn evaluator_of(&self, evaluation_id: &str) -> Option<String> {
        self.store()
            .evaluations
            .iter()
            .find(|e| e.evaluation.id == evaluation_id)
            .map(|e| e.evaluator_id.clone())
    }

    /// Whether a create with `key` is answered from the idempotency store (replay on, and the key
    /// first used within the replay window).
    pub(crate) fn replays(&self, key: &str) -> bool {
        self.replays_in(&self.store(), key)
    }

    /// [`EmulatorState::replays`] with the store already locked.
    pub(crate) fn replays_in(&self, store: &Store, key: &str) -> bool {
        let s = &self.inner.settings;
        if !s.idempotency_replay {
            return false;
        }
        if s.idempotency_window_s == 0 {
            return true;
        }
        store.idempotency_at.get(key).is_none_or(|first| {
            let window = SignedDuration::from_secs(
                i64::try_from(s.idempotency_window_s).unwrap_or(i64::MAX),
            );
            first
                .checked_add(window)
                .is_ok_and(|end| self.inner.clock.now() <= end)
        })
    }

    /// How many versions evaluation `id` has had (1: never updated); `None` when it does not exist.
    pub fn evaluation_versions(&self, id: &str) -> Option<usize> {
        self.store()
            .evaluations
            .iter()
            .find(|e| e.evaluation.id == id)
            .map(|e| e.versions.len() + 1)
    }
}
