//! The canonical JSON record of a row (§8.1), the one shape the JSON Lines export holds.

use serde_json::{Value, json};

use super::{View, Who, num};
use crate::sample::Row;

impl View<'_> {
    /// `r` as a canonical JSON record (§8.1).
    pub(in crate::sample) fn canonical_json(&self, r: &Row) -> Value {
        let f = &self.models[r.form];
        let a = self.agent(r);
        let person = |w: &Who| {
            json!({
                "calabrio_person_id": w.person_id, "username": w.username, "email": w.email,
                "windows_login": w.windows, "display_name": w.name,
                "employee_id": w.employee_id, "acd_id": w.acd_id,
            })
        };
        let answered = self.answers(r);
        let sections: Vec<Value> = f
            .sections
            .iter()
            .filter_map(|s| {
                let (_, score, max) = r.sections.iter().find(|(n, _, _)| n == s.name)?;
                let questions: Vec<Value> = answered
                    .iter()
                    .filter(|x| x.section.id == s.id)
                    .map(|x| {
                        json!({
                            "question_id": x.question.id,
                            "text": x.question.text,
                            "answer": {
                                "option_id": x.option.id, "label": x.option.label,
                                "points": x.option.points,
                                "type": x.option.na.then_some("na"),
                            },
                            "na": x.option.na.then_some(true),
                        })
                    })
                    .collect();
                Some(json!({
                    "section_id": s.id, "name": s.name, "weight": s.weight,
                    "score": num(score), "max": num(max), "questions": questions,
                }))
            })
            .collect();
        json!({
            "schema": "calabrio-qm-evaluation/v1",
            "source": {"system": "calabrio_one", "tenant": "sample.calabriocloud.com", "extractor": "rest_api"},
            "evaluation_id": r.evaluation_id,
            "contact": {
                "contact_id": r.contact_id,
                "assoc_call_id": (!r.assoc_call_id.is_empty()).then_some(&r.assoc_call_id),
                "contact_type": "CALL",
                "start_time_utc": r.contact_start,
            },
            "form": {"form_id": f.id, "form_name": f.name, "scoring_type": f.scoring},
            "agent": person(&a),
            "evaluator": r.evaluator.map(|e| person(&self.evaluator(e))),
            "kind": r.kind,
            "state": if r.state == "SCORED" { "scored" } else { "in_progress" },
            "state_raw": r.state,
            "dates": {
                "evaluated_at_utc": (!r.evaluated_at.is_empty()).then_some(&r.evaluated_at),
                "created_at_utc": (!r.created_at.is_empty()).then_some(&r.created_at),
            },
            "score": {
                "total": r.total.parse::<f64>().ok(),
                "raw_additive": r.raw_additive.parse::<f64>().ok(),
                "unit": if f.scoring == "points" { "points" } else { "percent" },
                "kpi_failed": (r.kpi_failed == "true").then_some(true),
                "kpi_failed_basis": (r.kpi_failed == "true").then_some("explicit"),
            },
            "sections": sections,
            "comments": if r.comment.is_empty() { vec![] } else {
                vec![json!({"scope": "evaluation", "text": r.comment})]
            },
        })
    }
}
