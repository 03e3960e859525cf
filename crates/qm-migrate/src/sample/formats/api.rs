//! The Calabrio REST API dataset the Calabrio emulator serves (`calabrio-api.json`).

use serde_json::{Value, json};

use super::{View, int, ms, num};

impl View<'_> {
    /// The dataset the Calabrio emulator serves (`calabrio-api.json`): API shapes as practitioners'
    /// code reads them (reference/calabrio.md §1.5–1.7). Every fifth comment was edited (its
    /// `history` holds the final text) and every seventh evaluation also has a blank comment.
    pub(in crate::sample) fn api_dataset(&self, user: &str, password: &str) -> Value {
        let forms: Vec<Value> = self
            .models
            .iter()
            .map(|f| {
                json!({
                    "id": int(f.id), "name": f.name, "scoringType": f.scoring,
                    "bandRanges": [{"name": "Needs Improvement", "max": 60}, {"name": "Meets Expectations", "max": 85}],
                    "sections": f.sections.iter().map(|s| json!({
                        "id": int(&s.id), "name": s.name, "weight": s.weight,
                        "questions": s.questions.iter().map(|q| json!({
                            "id": int(&q.id), "text": q.text,
                            "options": q.options.iter().map(|o| json!({
                                "id": int(&o.id), "label": o.label, "points": o.points,
                                "type": if o.na { "na" } else { "scored" },
                            })).collect::<Vec<_>>(),
                        })).collect::<Vec<_>>(),
                    })).collect::<Vec<_>>(),
                })
            })
            .collect();
        let persons: Vec<Value> = self
            .persons()
            .into_iter()
            .map(|w| {
                let (first, last) = w.name.split_once(' ').unwrap_or((&w.name, ""));
                json!({
                    "personId": int(&w.person_id), "username": w.username, "email": w.email,
                    "adLogin": w.windows, "firstName": first, "lastName": last,
                    "displayId": w.person_id, "active": w.active,
                    "employeeId": w.employee_id, "acdId": w.acd_id,
                })
            })
            .collect();
        let mut contacts: Vec<Value> = Vec::new();
        for (n, r) in self.latest().into_iter().enumerate() {
            let cid = &r.contact_id;
            let eid = &r.evaluation_id;
            let sections: Vec<Value> = self.models[r.form]
                .sections
                .iter()
                .zip(&r.answers)
                .map(|(s, picks)| {
                    json!({
                        "id": int(&s.id),
                        "questions": s.questions.iter().zip(picks).map(|(q, &o)| json!({
                            "id": int(&q.id), "selectedOption": int(&q.options[o].id),
                        })).collect::<Vec<_>>(),
                    })
                })
                .collect();
            let mut detail = json!({
                "id": int(eid),
                "evalForm": {"evalFormId": int(self.models[r.form].id)},
                "qualityRef": format!("/api/rest/recording/contact/{cid}"),
                "agent": {"id": int(&self.agent(r).person_id)},
                "evaluator": r.evaluator.map(|e| json!({"id": 500 + e})),
                "isScoreCounted": r.kind != "calibration",
                "evaluated": if r.evaluated_at.is_empty() { Value::Null } else { ms(&r.evaluated_at) },
                "evaluatedTz": "America/Chicago",
                "state": {"text": r.state},
                "additiveScore": num(&r.raw_additive),
                "totalScore": num(&r.total),
                "sections": sections,
            });
            if !r.created_at.is_empty()
                && let Value::Object(m) = &mut detail
            {
                m.insert("createdDate".into(), ms(&r.created_at));
            }
            let at = ms(if r.evaluated_at.is_empty() {
                &r.created_at
            } else {
                &r.evaluated_at
            });
            let at_ms = at.as_i64().unwrap_or(0);
            let commentor = r.evaluator.map(|e| {
                let w = self.evaluator(e);
                let (first, last) = w.name.split_once(' ').unwrap_or((&w.name, ""));
                json!({"$ref": format!("/api/rest/org/common/person/{}", w.person_id), "username": w.username,
                       "firstName": first, "lastName": last, "displayId": w.person_id})
            });
            let mut comments = Vec::new();
            if !r.comment.is_empty() {
                let href = format!("/api/rest/recording/contact/{cid}/eval/{eid}/comment/{}", 1);
                if n % 5 == 0 {
                    // Edited: as tenants answer, the top-level text is the comment as it stands and
                    // `history[]` holds the earlier text, with when and by whom it was replaced.
                    comments.push(json!({
                        "$ref": href, "text": r.comment, "created": at_ms, "tz": "America/Chicago",
                        "questionFK": null, "sectionFK": null, "commentor": commentor,
                        "history": [
                            {"created": at_ms + 60_000, "text": "(draft) to be completed", "commentor": commentor},
                        ],
                    }));
                } else {
                    comments.push(json!({
                        "$ref": href, "text": r.comment, "created": at_ms, "tz": "America/Chicago",
                        "questionFK": null, "sectionFK": null, "commentor": commentor, "history": [],
                    }));
                }
            }
            if n % 7 == 0 {
                comments.push(json!({
                    "$ref": format!("/api/rest/recording/contact/{cid}/eval/{eid}/comment/2"),
                    "text": "   ", "created": at_ms, "questionFK": null, "sectionFK": null, "history": [],
                }));
            }
            // The evaluation links to its comments only when it has some (practitioners fetch them
            // only then).
            if !comments.is_empty()
                && let Value::Object(m) = &mut detail
            {
                m.insert(
                    "comments".into(),
                    json!(format!(
                        "/api/rest/recording/contact/{cid}/eval/{eid}/comment"
                    )),
                );
            }
            let mut contact = json!({
                "id": int(cid), "startTime": ms(&r.contact_start), "tz": "America/Chicago",
                "contactType": "CALL", "callDuration": 420_000,
            });
            if !r.assoc_call_id.is_empty()
                && let Value::Object(m) = &mut contact
            {
                m.insert("assocCallId".into(), json!(r.assoc_call_id));
            }
            contacts.push(json!({
                "contact": contact,
                "evaluations": [{"detail": detail, "comments": comments}],
            }));
        }
        json!({
            "api_users": [{"userId": user, "password": password}],
            "persons": persons,
            "forms": forms,
            "contacts": contacts,
        })
    }
}
