//! Long CSV (§8.3): one row per evaluation × answered question.

use std::path::Path;

use anyhow::Result;

use super::{EVALUATION_COLUMNS, View};
use crate::fsutil::write_private;
use crate::sample::fmt_num;

impl View<'_> {
    /// Long CSV (§8.3): one row per answered question; the section score and maximum repeat on each
    /// row of their section. One version per evaluation id (a later version standing next to the
    /// earlier one would be one group whose rows disagree).
    pub(in crate::sample) fn write_long(&self, path: &Path) -> Result<u64> {
        let mut w = csv::WriterBuilder::new().from_writer(Vec::new());
        let mut header: Vec<&str> = EVALUATION_COLUMNS.to_vec();
        header.extend([
            "section_id",
            "section_name",
            "section_weight",
            "section_score",
            "section_max",
            "question_id",
            "question_text",
            "option_id",
            "answer_label",
            "answer_points",
            "answer_type",
            "is_na",
        ]);
        w.write_record(&header)?;
        let mut rows = 0;
        for r in self.latest() {
            let head = self.evaluation_cells(r);
            for a in self.answers(r) {
                let (score, max) = r
                    .sections
                    .iter()
                    .find(|(n, _, _)| n == a.section.name)
                    .map(|(_, s, m)| (s.clone(), m.clone()))
                    .unwrap_or_default();
                let mut rec = head.clone();
                rec.extend([
                    a.section.id.clone(),
                    a.section.name.to_owned(),
                    fmt_num(a.section.weight),
                    score,
                    max,
                    a.question.id.clone(),
                    a.question.text.clone(),
                    a.option.id.clone(),
                    a.option.label.clone(),
                    fmt_num(a.option.points),
                    if a.option.na {
                        "na".into()
                    } else {
                        String::new()
                    },
                    if a.option.na {
                        "true".into()
                    } else {
                        String::new()
                    },
                ]);
                w.write_record(&rec)?;
                rows += 1;
            }
        }
        write_private(path, &w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?)?;
        Ok(rows)
    }
}
