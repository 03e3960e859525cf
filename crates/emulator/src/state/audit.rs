//! The org's audit trail: every create, update and delete of an evaluation, by the OAuth client that
//! sent it or by a person (the edits and deletions tests stage as a supervisor's).

use genesys::models::Evaluation;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{EmulatorState, StoredEvaluation};

/// One write the org's audit trail records (Genesys keeps a year of them): who (the OAuth client,
/// or a person), what (`Create`, `Update`, `Delete`), which evaluation, when.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AuditEntry {
    /// Entry id.
    pub id: String,
    /// When, on the emulator's clock.
    pub at: Timestamp,
    /// `Create`, `Update` or `Delete`.
    pub action: String,
    /// The evaluation.
    pub evaluation_id: String,
    /// Its conversation.
    pub conversation_id: String,
    /// Its form version.
    pub form_id: String,
    /// The OAuth client that made the request (API writes).
    pub client_id: Option<String>,
    /// The person who made it (a supervisor's edit in the UI).
    pub user_id: Option<String>,
}

/// An asynchronous audit query: the request, when it was made, its id.
#[derive(Debug, Clone)]
pub(crate) struct AuditQuery {
    pub(crate) request: serde_json::Value,
    pub(crate) made_at: Timestamp,
}

impl EmulatorState {
    /// A supervisor's edit in Genesys: `edit` changes the evaluation, which becomes a new version
    /// with a new `changedDate`, and the audit trail records it as the fixture's supervisor's.
    /// Returns false when it does not exist.
    pub fn edit_evaluation(&self, id: &str, edit: impl FnOnce(&mut Evaluation)) -> bool {
        self.edit_evaluation_by(SUPERVISOR, id, edit)
    }

    /// [`EmulatorState::edit_evaluation`] by person `user_id`.
    pub fn edit_evaluation_by(
        &self,
        user_id: &str,
        id: &str,
        edit: impl FnOnce(&mut Evaluation),
    ) -> bool {
        let now = self.inner.clock.now();
        let mut store = self.store();
        let Some(e) = store.evaluations.iter_mut().find(|e| e.evaluation.id == id) else {
            return false;
        };
        e.versions.push(e.evaluation.clone());
        edit(&mut e.evaluation);
        e.evaluation.changed_date = Some(now.strftime("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
        let entry = audit_entry(now, "Update", e, None, Some(user_id));
        store.audit.push(entry);
        true
    }

    /// A person deletes evaluation `id` in Genesys (the audit trail records it). Returns false
    /// when it does not exist.
    pub fn delete_evaluation_by(&self, user_id: &str, id: &str) -> bool {
        let now = self.inner.clock.now();
        let mut store = self.store();
        let Some(pos) = store.evaluations.iter().position(|e| e.evaluation.id == id) else {
            return false;
        };
        let removed = store.evaluations.remove(pos);
        let entry = audit_entry(now, "Delete", &removed, None, Some(user_id));
        store.audit.push(entry);
        true
    }

    /// The audit trail so far.
    pub fn audit_trail(&self) -> Vec<AuditEntry> {
        self.store().audit.clone()
    }
}

/// The person the tests' staged edits are made by.
pub const SUPERVISOR: &str = "5e5e5e5e-0000-4000-8000-00000000beef";

/// An audit entry for `action` on `e` by a client or a person.
pub(crate) fn audit_entry(
    at: Timestamp,
    action: &str,
    e: &StoredEvaluation,
    client_id: Option<&str>,
    user_id: Option<&str>,
) -> AuditEntry {
    AuditEntry {
        id: uuid::Uuid::new_v4().to_string(),
        at,
        action: action.to_owned(),
        evaluation_id: e.evaluation.id.clone(),
        conversation_id: e.conversation_id.clone(),
        form_id: e
            .evaluation
            .evaluation_form
            .as_ref()
            .map(|f| f.id.clone())
            .unwrap_or_default(),
        client_id: client_id.map(str::to_owned),
        user_id: user_id.map(str::to_owned),
    }
}
