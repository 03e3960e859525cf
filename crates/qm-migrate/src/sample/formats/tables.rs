//! A tables directory (§8.4): forms, sections, questions, options, evaluations, persons, scores and comments as separate CSV files.

use std::path::Path;

use anyhow::Result;

use super::View;
use crate::fsutil::write_private;
use crate::sample::fmt_num;

impl View<'_> {
    /// A tables directory (§8.4).
    pub(in crate::sample) fn write_tables(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir)?;
        let table = |name: &str, header: &[&str], rows: Vec<Vec<String>>| -> Result<()> {
            let mut w = csv::Writer::from_writer(Vec::new());
            w.write_record(header)?;
            for r in rows {
                w.write_record(&r)?;
            }
            write_private(
                &dir.join(name),
                &w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?,
            )
        };
        let mut forms = Vec::new();
        let mut sections = Vec::new();
        let mut questions = Vec::new();
        let mut options = Vec::new();
        for f in self.models {
            forms.push(vec![f.id.into(), f.name.into(), f.scoring.into()]);
            for s in &f.sections {
                sections.push(vec![
                    f.id.into(),
                    s.id.clone(),
                    s.name.into(),
                    fmt_num(s.weight),
                ]);
                for q in &s.questions {
                    questions.push(vec![
                        s.id.clone(),
                        q.id.clone(),
                        q.text.clone(),
                        String::new(),
                        String::new(),
                    ]);
                    for o in &q.options {
                        options.push(vec![
                            q.id.clone(),
                            o.id.clone(),
                            o.label.clone(),
                            fmt_num(o.points),
                            if o.na { "na".into() } else { String::new() },
                        ]);
                    }
                }
            }
        }
        table(
            "forms.csv",
            &["form_id", "form_name", "scoring_type"],
            forms,
        )?;
        table(
            "sections.csv",
            &["form_id", "section_id", "section_name", "section_weight"],
            sections,
        )?;
        table(
            "questions.csv",
            &[
                "section_id",
                "question_id",
                "question_text",
                "question_weight",
                "is_kpi",
            ],
            questions,
        )?;
        table(
            "options.csv",
            &[
                "question_id",
                "option_id",
                "option_label",
                "option_points",
                "option_type",
            ],
            options,
        )?;
        table(
            "persons.csv",
            &[
                "person_id",
                "username",
                "email",
                "windows_login",
                "display_name",
                "active",
                "employee_id",
                "acd_id",
            ],
            self.persons()
                .into_iter()
                .map(|w| {
                    vec![
                        w.person_id,
                        w.username,
                        w.email,
                        w.windows,
                        w.name,
                        w.active.to_string(),
                        w.employee_id.unwrap_or_default(),
                        w.acd_id.unwrap_or_default(),
                    ]
                })
                .collect(),
        )?;
        let mut evaluations = Vec::new();
        let mut scores = Vec::new();
        let mut comments = Vec::new();
        for r in self.latest() {
            let f = &self.models[r.form];
            evaluations.push(vec![
                r.evaluation_id.clone(),
                f.id.into(),
                r.contact_id.clone(),
                r.assoc_call_id.clone(),
                "CALL".into(),
                r.contact_start.clone(),
                self.agent(r).person_id,
                r.evaluator
                    .map(|e| (500 + e).to_string())
                    .unwrap_or_default(),
                r.kind.clone(),
                r.state.clone(),
                r.evaluated_at.clone(),
                r.created_at.clone(),
                r.raw_additive.clone(),
                r.total.clone(),
                r.kpi_failed.clone(),
            ]);
            for a in self.answers(r) {
                scores.push(vec![
                    r.evaluation_id.clone(),
                    a.section.id.clone(),
                    a.question.id.clone(),
                    a.option.id.clone(),
                ]);
            }
            if !r.comment.is_empty() {
                comments.push(vec![
                    format!("c{}", r.evaluation_id),
                    r.evaluation_id.clone(),
                    String::new(),
                    String::new(),
                    r.evaluated_at.clone(),
                    r.evaluator
                        .map(|e| (500 + e).to_string())
                        .unwrap_or_default(),
                    r.comment.clone(),
                ]);
            }
        }
        table(
            "evaluations.csv",
            &[
                "evaluation_id",
                "form_id",
                "contact_id",
                "assoc_call_id",
                "contact_type",
                "contact_start_utc",
                "agent_id",
                "evaluator_id",
                "kind",
                "state",
                "evaluated_date",
                "created_date",
                "raw_score",
                "final_score",
                "kpi_failed",
            ],
            evaluations,
        )?;
        table(
            "scores.csv",
            &["evaluation_id", "section_id", "question_id", "option_id"],
            scores,
        )?;
        table(
            "comments.csv",
            &[
                "comment_id",
                "evaluation_id",
                "section_id",
                "question_id",
                "created_date",
                "commentor_id",
                "text",
            ],
            comments,
        )
    }
}
