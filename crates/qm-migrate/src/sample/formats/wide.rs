//! The wide CSV export (a column per section and per question), written with the JSON Lines export of the same rows.

use anyhow::Result;

use super::{EVALUATION_COLUMNS, View};
use crate::sample::{FORMS, fmt_num};

/// The wide CSV and the JSON Lines export of the rows, with the line each row starts on.
pub(in crate::sample) struct Exports {
    pub(in crate::sample) csv: Vec<u8>,
    /// Fields in the CSV header.
    pub(in crate::sample) width: usize,
    pub(in crate::sample) csv_lines: Vec<u64>,
    pub(in crate::sample) next_csv_line: u64,
    pub(in crate::sample) jsonl: String,
    pub(in crate::sample) json_lines: Vec<u64>,
    pub(in crate::sample) next_json_line: u64,
}

/// The section names of every form, each once, in form order (the wide CSV's section columns).
pub(in crate::sample) fn section_names() -> Vec<&'static str> {
    let mut v: Vec<&str> = Vec::new();
    for f in FORMS {
        for (s, _) in f.sections {
            if !v.contains(s) {
                v.push(s);
            }
        }
    }
    v
}

impl View<'_> {
    /// The wide CSV (a column per section and per question) and the JSON Lines export.
    ///
    /// # Errors
    /// CSV or JSON errors.
    pub(in crate::sample) fn exports(&self) -> Result<Exports> {
        let section_names = section_names();
        let question_columns: Vec<(&str, &str)> = {
            let mut v: Vec<(&str, &str)> = Vec::new();
            for f in self.models {
                for s in &f.sections {
                    for q in &s.questions {
                        if !v.contains(&(s.name, q.text.as_str())) {
                            v.push((s.name, q.text.as_str()));
                        }
                    }
                }
            }
            v
        };
        let mut header: Vec<String> = EVALUATION_COLUMNS.iter().map(|s| (*s).to_owned()).collect();
        for s in &section_names {
            header.push(format!("section:{s}:score"));
            header.push(format!("section:{s}:max"));
        }
        for (s, q) in &question_columns {
            header.push(format!("q:{s}:{q}:answer"));
            header.push(format!("q:{s}:{q}:points"));
        }
        let mut csv_w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(Vec::new());
        csv_w.write_record(&header)?;
        let mut jsonl = String::new();
        let mut csv_lines: Vec<u64> = Vec::new();
        let mut json_lines: Vec<u64> = Vec::new();
        let mut csv_line: u64 = 2;
        let mut json_line: u64 = 1;
        for r in self.rows {
            let mut rec = self.evaluation_cells(r);
            for s in &section_names {
                match r.sections.iter().find(|(n, _, _)| n == s) {
                    Some((_, v, m)) => {
                        rec.push(v.clone());
                        rec.push(m.clone());
                    }
                    None => {
                        rec.push(String::new());
                        rec.push(String::new());
                    }
                }
            }
            let answered = self.answers(r);
            for (s, q) in &question_columns {
                match answered
                    .iter()
                    .find(|a| a.section.name == *s && a.question.text == *q)
                {
                    Some(a) => {
                        rec.push(a.option.label.clone());
                        rec.push(if a.option.na {
                            String::new()
                        } else {
                            fmt_num(a.option.points)
                        });
                    }
                    None => {
                        rec.push(String::new());
                        rec.push(String::new());
                    }
                }
            }
            csv_w.write_record(&rec)?;
            csv_lines.push(csv_line);
            csv_line += 1 + r.comment.matches('\n').count() as u64;

            jsonl.push_str(&serde_json::to_string(&self.canonical_json(r))?);
            jsonl.push('\n');
            json_lines.push(json_line);
            json_line += 1;
        }
        Ok(Exports {
            width: header.len(),
            csv: csv_w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?,
            csv_lines,
            next_csv_line: csv_line,
            jsonl,
            json_lines,
            next_json_line: json_line,
        })
    }
}
