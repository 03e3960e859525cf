//! The sample's evaluations in every source shape the tool reads: wide and long CSV, canonical JSON
//! Lines, a tables directory and the Calabrio REST API dataset the Calabrio emulator serves. All are
//! written from the same rows, so extracting any of them must give the same canonical records.
//!
//! One file per shape: `wide` (the wide CSV and, beside it, the JSON Lines export), `json` (the
//! canonical record each JSON line holds), `long`, `tables` and `api`; this file holds what they share:
//! the rows with the people, forms and answers they refer to.

mod api;
mod json;
mod long;
mod tables;
mod wide;

pub(super) use wide::{Exports, section_names};

use serde_json::{Value, json};

use super::{Agent, FormM, OptM, QuestionM, Row, SectionM};

/// The evaluation-level columns of the wide and long CSV exports (the malformed rows the sample
/// appends fill the first eighteen in this order).
pub(super) const EVALUATION_COLUMNS: &[&str] = &[
    "evaluation_id",
    "contact_id",
    "assoc_call_id",
    "contact_type",
    "contact_start_utc",
    "form_id",
    "form_name",
    "scoring_type",
    "kind",
    "state",
    "evaluated_at",
    "created_at",
    "total_score",
    "raw_additive_score",
    "kpi_failed",
    "agent_person_id",
    "agent_username",
    "agent_email",
    "agent_windows_login",
    "agent_display_name",
    "evaluator_person_id",
    "evaluator_email",
    "evaluator_username",
    "evaluator_windows_login",
    "evaluator_display_name",
    "evaluation_comment",
    "agent_employee_id",
    "agent_acd_id",
];

/// A person as every format writes them.
pub(super) struct Who {
    pub(super) person_id: String,
    pub(super) username: String,
    pub(super) email: String,
    pub(super) windows: String,
    pub(super) name: String,
    pub(super) active: bool,
    pub(super) employee_id: Option<String>,
    pub(super) acd_id: Option<String>,
}

/// One answered question of a row.
pub(super) struct Answered<'a> {
    pub(super) section: &'a SectionM,
    pub(super) question: &'a QuestionM,
    pub(super) option: &'a OptM,
}

/// The rows with what they refer to.
pub(super) struct View<'a> {
    pub(super) rows: &'a [Row],
    pub(super) agents: &'a [Agent],
    pub(super) evaluators: &'a [(String, String, Option<String>)],
    pub(super) models: &'a [FormM],
}

fn ms(iso: &str) -> Value {
    iso.parse::<jiff::Timestamp>()
        .map_or(Value::Null, |t| json!(t.as_millisecond()))
}

fn num(text: &str) -> Value {
    text.parse::<f64>().map_or(Value::Null, |v| json!(v))
}

fn int(text: &str) -> Value {
    text.parse::<i64>().map_or(json!(text), |v| json!(v))
}

impl View<'_> {
    pub(super) fn agent(&self, r: &Row) -> Who {
        let a = &self.agents[r.agent];
        Who {
            person_id: a.person_id.to_string(),
            username: a.username.clone(),
            email: r
                .agent_email_override
                .clone()
                .unwrap_or_else(|| a.email.clone()),
            windows: a.windows.clone(),
            name: a.name.clone(),
            active: r.agent > 1,
            employee_id: a.employee_id.clone(),
            acd_id: a.acd_id.clone(),
        }
    }

    pub(super) fn evaluator(&self, e: usize) -> Who {
        let (name, email, _) = &self.evaluators[e];
        Who {
            person_id: (500 + e).to_string(),
            username: email.clone(),
            email: email.clone(),
            windows: format!("CORP\\qa{e}"),
            name: name.clone(),
            active: e != 1,
            employee_id: None,
            acd_id: None,
        }
    }

    pub(super) fn answers<'b>(&'b self, r: &Row) -> Vec<Answered<'b>> {
        let f = &self.models[r.form];
        let mut out = Vec::new();
        for (s, picks) in f.sections.iter().zip(&r.answers) {
            for (q, &o) in s.questions.iter().zip(picks) {
                out.push(Answered {
                    section: s,
                    question: q,
                    option: &q.options[o],
                });
            }
        }
        out
    }

    /// The [`EVALUATION_COLUMNS`] cells of `r`.
    pub(super) fn evaluation_cells(&self, r: &Row) -> Vec<String> {
        let f = &self.models[r.form];
        let a = self.agent(r);
        let e = r.evaluator.map(|e| self.evaluator(e));
        let ev = |g: fn(&Who) -> String| e.as_ref().map(g).unwrap_or_default();
        vec![
            r.evaluation_id.clone(),
            r.contact_id.clone(),
            r.assoc_call_id.clone(),
            "CALL".into(),
            r.contact_start.clone(),
            f.id.into(),
            f.name.into(),
            f.scoring.into(),
            r.kind.clone(),
            r.state.clone(),
            r.evaluated_at.clone(),
            r.created_at.clone(),
            r.total.clone(),
            r.raw_additive.clone(),
            r.kpi_failed.clone(),
            a.person_id,
            a.username,
            a.email,
            a.windows,
            a.name,
            ev(|w| w.person_id.clone()),
            ev(|w| w.email.clone()),
            ev(|w| w.username.clone()),
            ev(|w| w.windows.clone()),
            ev(|w| w.name.clone()),
            r.comment.clone(),
            a.employee_id.clone().unwrap_or_default(),
            a.acd_id.clone().unwrap_or_default(),
        ]
    }

    fn persons(&self) -> Vec<Who> {
        let mut v: Vec<Who> = (0..self.agents.len())
            .map(|i| {
                let a = &self.agents[i];
                Who {
                    person_id: a.person_id.to_string(),
                    username: a.username.clone(),
                    email: a.email.clone(),
                    windows: a.windows.clone(),
                    name: a.name.clone(),
                    active: i > 1,
                    employee_id: a.employee_id.clone(),
                    acd_id: a.acd_id.clone(),
                }
            })
            .collect();
        v.extend((0..self.evaluators.len()).map(|e| self.evaluator(e)));
        v
    }

    /// The latest version of each evaluation (the API and the tables hold one per id).
    fn latest(&self) -> Vec<&Row> {
        let mut seen = std::collections::HashMap::new();
        let mut out: Vec<&Row> = Vec::new();
        for r in self.rows {
            match seen.get(&r.evaluation_id) {
                Some(&i) => out[i] = r,
                None => {
                    seen.insert(r.evaluation_id.clone(), out.len());
                    out.push(r);
                }
            }
        }
        out
    }
}
