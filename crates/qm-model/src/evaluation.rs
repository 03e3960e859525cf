//! `CanonicalEvaluation`: one Calabrio evaluation, whatever format it came from.
//!
//! Field names follow `reference/calabrio.md` §8.1. Ids are strings. Times are UTC instants; the text
//! they were parsed from is kept beside them (`*_raw`) so that every derived value keeps its basis.
//! Unknown enum values are kept as text (`state_raw`), never guessed.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// Schema tag written into every canonical JSON record.
pub const SCHEMA: &str = "calabrio-qm-evaluation/v1";

/// One evaluation in canonical form.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CanonicalEvaluation {
    /// Always [`SCHEMA`].
    #[serde(default = "default_schema")]
    pub schema: String,
    /// Where the record came from.
    #[serde(default)]
    pub source: Source,
    /// Calabrio evaluation id.
    pub evaluation_id: String,
    /// The contact (recording) that was evaluated.
    #[serde(default)]
    pub contact: Contact,
    /// The Calabrio form.
    #[serde(default)]
    pub form: Form,
    /// The evaluated agent.
    pub agent: Person,
    /// The evaluator, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluator: Option<Person>,
    /// The approver, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approver: Option<Person>,
    /// Evaluation or calibration.
    #[serde(default)]
    pub kind: Kind,
    /// `manual` or `auto`, as exported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_type: Option<String>,
    /// Normalised state: `scored`, `approved`, `in_progress`, `needs_approval` or `unknown`.
    #[serde(default = "default_state")]
    pub state: String,
    /// The state as the source spelled it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state_raw: Option<String>,
    /// Agent response (`none`, `acknowledged`, `appealed`, `unknown`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_state: Option<String>,
    /// Dates.
    #[serde(default)]
    pub dates: Dates,
    /// Scores as exported.
    #[serde(default)]
    pub score: Score,
    /// Sections with their scores and (when exported) questions.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sections: Vec<Section>,
    /// Comments at evaluation, section or question level.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub comments: Vec<Comment>,
    /// What the extractor could not read of this evaluation although the evaluation itself was
    /// read (its comments refused by the API): staged without it, said in the plan's reason, and
    /// tried again by the next extract.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

fn default_schema() -> String {
    SCHEMA.to_owned()
}

fn default_state() -> String {
    "scored".to_owned()
}

/// Provenance of a canonical record.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Source {
    /// Always `calabrio_one` for now.
    #[serde(default = "default_system")]
    pub system: String,
    /// Calabrio tenant (host) when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tenant: Option<String>,
    /// `rest_api`, `dataexplorer_csv`, `csv_manual`, `warehouse_tables`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extractor: Option<String>,
    /// When the export was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extracted_at: Option<String>,
}

fn default_system() -> String {
    "calabrio_one".to_owned()
}

/// The evaluated contact.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    /// Calabrio contact (CCR / recording) id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    /// ACD-side call id; for Genesys-routed calls, the Genesys conversation id (unverified #17).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assoc_call_id: Option<String>,
    /// An explicit Genesys conversation id carried by the export.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_id: Option<String>,
    /// `CALL`, `TEXT`, `EMAIL`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_type: Option<String>,
    /// Contact start, UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time_utc: Option<Timestamp>,
    /// Contact time zone as determined by the ACD.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_tz: Option<String>,
    /// Duration in milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
}

/// The Calabrio form an evaluation used.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Form {
    /// Calabrio form id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form_id: Option<String>,
    /// Form name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form_name: Option<String>,
    /// `percentage` or `points`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scoring_type: Option<String>,
    /// Total possible points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_points: Option<f64>,
}

impl Form {
    /// The key the scoring configuration is looked up by: the name, else the id.
    pub fn key(&self) -> String {
        self.form_name
            .clone()
            .or_else(|| self.form_id.clone())
            .unwrap_or_default()
    }
}

/// A Calabrio person, with every identifier the export carried.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Person {
    /// Calabrio `personId`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calabrio_person_id: Option<String>,
    /// Calabrio user name (often, not always, an e-mail address).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// E-mail address.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// `DOMAIN\login`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub windows_login: Option<String>,
    /// Employee id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_id: Option<String>,
    /// ACD id (never a key on its own: ACD ids are repurposed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acd_id: Option<String>,
    /// Calabrio display id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_id: Option<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// A key of unknown kind (the guide's `AgentID`: e-mail or AD login).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Active in Calabrio.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active: Option<bool>,
}

impl Person {
    /// True when the record names nobody at all.
    pub fn is_empty(&self) -> bool {
        self.identifiers().is_empty() && self.display_name.is_none()
    }

    /// The identifiers present, as (kind, value) pairs, for messages.
    pub fn identifiers(&self) -> Vec<(&'static str, &str)> {
        let mut out = Vec::new();
        let fields: [(&'static str, &Option<String>); 8] = [
            ("email", &self.email),
            ("username", &self.username),
            ("key", &self.key),
            ("windows_login", &self.windows_login),
            ("employee_id", &self.employee_id),
            ("calabrio_person_id", &self.calabrio_person_id),
            ("display_id", &self.display_id),
            ("acd_id", &self.acd_id),
        ];
        for (name, value) in fields {
            if let Some(v) = value.as_deref().filter(|v| !v.trim().is_empty()) {
                out.push((name, v));
            }
        }
        out
    }

    /// A short human label: the display name, else the first identifier.
    pub fn label(&self) -> String {
        if let Some(name) = self
            .display_name
            .as_deref()
            .filter(|n| !n.trim().is_empty())
        {
            return name.to_owned();
        }
        self.identifiers()
            .first()
            .map(|(_, v)| (*v).to_owned())
            .unwrap_or_else(|| "(unknown)".to_owned())
    }
}

/// Evaluation or calibration (`isScoreCounted=false`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    /// A counted evaluation.
    #[default]
    Evaluation,
    /// A calibration: never counts toward the agent's scores.
    Calibration,
}

/// Dates of an evaluation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Dates {
    /// When the evaluation was scored, UTC.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluated_at_utc: Option<Timestamp>,
    /// The text (or epoch number) it was parsed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluated_at_raw: Option<String>,
    /// When it was created, UTC (the guide's fallback date).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at_utc: Option<Timestamp>,
    /// The text it was parsed from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at_raw: Option<String>,
}

/// Scores as exported.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Score {
    /// Total score (0 after a KPI failure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<f64>,
    /// Raw additive score (keeps the sum after a KPI failure).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_additive: Option<f64>,
    /// `percent` or `points`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Maximum points of the form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_points: Option<f64>,
    /// Applicable points (N/A excluded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applicable_points: Option<f64>,
    /// KPI (auto-fail) failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kpi_failed: Option<bool>,
    /// `explicit`, `inferred_total_zero` or `unknown`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kpi_failed_basis: Option<String>,
}

impl Score {
    /// The KPI (auto-fail) outcome and its basis (reference/calabrio.md §3): an explicit flag wins;
    /// else a total of 0 with a non-zero additive score is a failure inferred from the scores;
    /// else nothing is claimed.
    pub fn kpi(
        explicit: Option<bool>,
        total: Option<f64>,
        raw_additive: Option<f64>,
    ) -> (Option<bool>, Option<String>) {
        match (explicit, total, raw_additive) {
            (Some(b), _, _) => (Some(b), Some("explicit".to_owned())),
            (None, Some(t), Some(r)) if t == 0.0 && r != 0.0 => {
                (Some(true), Some("inferred_total_zero".to_owned()))
            }
            _ => (None, None),
        }
    }
}

/// A section of a Calabrio form, with its score when exported.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Section {
    /// Section id, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_id: Option<String>,
    /// Section name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    /// Score, on the form's scale.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<f64>,
    /// Maximum score of the section, when exported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
    /// Marked not applicable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub na: Option<bool>,
    /// Questions, when exported.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub questions: Vec<Question>,
}

/// A question and its answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Question {
    /// Question id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question_id: Option<String>,
    /// Question text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Weight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<f64>,
    /// A KPI (auto-fail) question.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_kpi: Option<bool>,
    /// The chosen answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer: Option<Answer>,
    /// Marked not applicable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub na: Option<bool>,
}

/// A chosen answer option.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Answer {
    /// Option id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub option_id: Option<String>,
    /// Label.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    /// Points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub points: Option<f64>,
    /// Option type, as exported.
    #[serde(default, rename = "type", skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// Where a comment was attached.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CommentScope {
    /// The whole evaluation.
    #[default]
    Evaluation,
    /// A section.
    Section,
    /// A question.
    Question,
}

/// A comment.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Comment {
    /// Comment id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment_id: Option<String>,
    /// Scope.
    #[serde(default)]
    pub scope: CommentScope,
    /// Section id or name, for section and question comments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub section_id: Option<String>,
    /// Question id, for question comments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub question_id: Option<String>,
    /// The text, verbatim.
    pub text: String,
    /// When written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_at_utc: Option<Timestamp>,
    /// Author.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<Person>,
    /// Edited after writing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited: Option<bool>,
}

/// The fate of a source record after `plan` (DESIGN §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Disposition {
    /// Becomes (or became) a Genesys evaluation; also in the history.
    Evaluation,
    /// Cannot be a Genesys evaluation; lives in the history (and the scorecard when in window).
    History,
    /// Excluded by policy (calibration, not scored, superseded duplicate); the history keeps it.
    Excluded,
    /// Invalid input; the history keeps the raw text.
    Quarantined,
}

impl Disposition {
    /// Every disposition, in report order.
    pub const ALL: [Disposition; 4] = [
        Disposition::Evaluation,
        Disposition::History,
        Disposition::Excluded,
        Disposition::Quarantined,
    ];

    /// The name used in the ledger, reports and `--json`.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Evaluation => "evaluation",
            Disposition::History => "history",
            Disposition::Excluded => "excluded",
            Disposition::Quarantined => "quarantined",
        }
    }

    /// Parses [`Disposition::as_str`].
    pub fn parse(s: &str) -> Option<Disposition> {
        Disposition::ALL.into_iter().find(|d| d.as_str() == s)
    }
}

impl std::fmt::Display for Disposition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sample_canonical_record_parses() {
        let text = r#"{"evaluation_id":"80517","agent":{"email":"a@x.com"},
            "dates":{"evaluated_at_utc":"2022-10-18T15:02:11Z"},
            "kind":"calibration","score":{"total":92.5}}"#;
        let ev: CanonicalEvaluation = serde_json::from_str(text).unwrap();
        assert_eq!(ev.kind, Kind::Calibration);
        assert_eq!(ev.state, "scored");
        assert_eq!(ev.score.total, Some(92.5));
        assert_eq!(
            ev.dates.evaluated_at_utc.unwrap().as_second(),
            1_666_105_331
        );
    }

    #[test]
    fn person_label_prefers_display_name() {
        let p = Person {
            email: Some("a@x.com".into()),
            display_name: Some("Ann".into()),
            ..Person::default()
        };
        assert_eq!(p.label(), "Ann");
        let q = Person {
            email: Some("a@x.com".into()),
            ..Person::default()
        };
        assert_eq!(q.label(), "a@x.com");
        assert!(Person::default().is_empty());
    }

    #[test]
    fn disposition_round_trips() {
        for d in Disposition::ALL {
            assert_eq!(Disposition::parse(d.as_str()), Some(d));
        }
        assert_eq!(Disposition::parse("nope"), None);
    }
}
