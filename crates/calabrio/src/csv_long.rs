//! Long CSV: one row per evaluation × question (reference/calabrio.md §8.3).
//!
//! The evaluation-level columns (with every alias of the wide format) repeat on each row; the rows of
//! one evaluation are grouped (they must stand together) into one record whose sections hold the
//! questions and answers. A group whose repeated columns disagree is one record in error, naming the
//! field and the two lines, so nothing is half-merged. The record's raw text is the group's rows.

use std::collections::HashMap;
use std::path::Path;

use qm_model::{Answer, CanonicalEvaluation, Comment, CommentScope, Question, Section};

use crate::csv_wide::{Row, WideCsvReader, boolean, number};
use crate::{FileError, Locator, ReadOptions, RecordError, SourceRecord, sha256_hex};

/// The question-level columns (folded names).
const QUESTION_COLUMNS: &[&str] = &[
    "sectionid",
    "sectionname",
    "sectionweight",
    "sectionscore",
    "sectionmax",
    "questionid",
    "questiontext",
    "questionweight",
    "iskpi",
    "optionid",
    "answerlabel",
    "answerpoints",
    "answertype",
    "isna",
    "questioncomment",
];

/// Streaming reader of a long CSV export.
pub struct LongCsvReader {
    rows: WideCsvReader,
    pending: Option<Row>,
    /// Headers that map to nothing, reported once by the caller.
    pub ignored_headers: Vec<String>,
}

impl LongCsvReader {
    /// Opens `path` and reads its header.
    ///
    /// # Errors
    /// As the wide reader, and when there is no question id or text column.
    pub fn open(path: &Path, opts: ReadOptions) -> Result<Self, FileError> {
        let rows = WideCsvReader::open(path, opts)?;
        let folded: Vec<String> = rows
            .ignored_headers
            .iter()
            .map(|h| crate::aliases::fold(h))
            .collect();
        if !folded
            .iter()
            .any(|h| h == "questionid" || h == "questiontext")
        {
            return Err(FileError::Header {
                file: rows.file().to_owned(),
                message: "no question_id or question_text column: is this a long (one row per question) export?".into(),
            });
        }
        let ignored_headers = rows
            .ignored_headers
            .iter()
            .filter(|h| !QUESTION_COLUMNS.contains(&crate::aliases::fold(h).as_str()))
            .cloned()
            .collect();
        Ok(LongCsvReader {
            rows,
            pending: None,
            ignored_headers,
        })
    }
}

fn first_difference(a: &serde_json::Value, b: &serde_json::Value, path: &str) -> Option<String> {
    match (a, b) {
        (serde_json::Value::Object(x), serde_json::Value::Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| {
                let p = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                first_difference(
                    x.get(k).unwrap_or(&serde_json::Value::Null),
                    y.get(k).unwrap_or(&serde_json::Value::Null),
                    &p,
                )
            })
        }
        _ if a == b => None,
        _ => Some(path.to_owned()),
    }
}

fn lookup<'a>(value: &'a serde_json::Value, path: &str) -> &'a serde_json::Value {
    path.split('.')
        .fold(value, |v, k| v.get(k).unwrap_or(&serde_json::Value::Null))
}

/// The evaluation-level part of a row, for comparison.
fn header_part(ev: &CanonicalEvaluation) -> serde_json::Value {
    let mut e = ev.clone();
    e.sections.clear();
    e.comments.clear();
    serde_json::to_value(e).unwrap_or(serde_json::Value::Null)
}

fn add_question(
    ev: &mut CanonicalEvaluation,
    extras: &HashMap<String, String>,
) -> Result<(), RecordError> {
    let get = |k: &str| extras.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let num = |k: &str, name: &str| match get(k) {
        None => Ok(None),
        Some(v) => number(name, v),
    };
    let question_id = get("questionid").map(str::to_owned);
    let text = get("questiontext").map(str::to_owned);
    if question_id.is_none() && text.is_none() {
        return Err(RecordError::field(
            "question_id",
            "is empty (and so is question_text)",
        ));
    }
    let section_id = get("sectionid").map(str::to_owned);
    let section_name = get("sectionname").map(str::to_owned);
    let section_weight = num("sectionweight", "section_weight")?;
    let na = match get("isna") {
        None => None,
        Some(v) => boolean("is_na", v)?,
    };
    let is_kpi = match get("iskpi") {
        None => None,
        Some(v) => boolean("is_kpi", v)?,
    };
    let answer = Answer {
        option_id: get("optionid").map(str::to_owned),
        label: get("answerlabel").map(str::to_owned),
        points: num("answerpoints", "answer_points")?,
        kind: get("answertype").map(str::to_owned),
    };
    let has_answer =
        answer.option_id.is_some() || answer.label.is_some() || answer.points.is_some();
    // By id when both sides have one; else by name (a section that came from `section:<Name>:…`
    // columns has no id until its first question row gives it one).
    let idx = match ev
        .sections
        .iter()
        .position(|s| match (&section_id, &s.section_id) {
            (Some(a), Some(b)) => a == b,
            _ => s.name.is_some() && s.name == section_name,
        }) {
        Some(i) => {
            if ev.sections[i].section_id.is_none() {
                ev.sections[i].section_id = section_id.clone();
            }
            i
        }
        None => {
            ev.sections.push(Section {
                section_id: section_id.clone(),
                name: section_name.clone(),
                weight: section_weight,
                ..Section::default()
            });
            ev.sections.len() - 1
        }
    };
    for (key, name) in [
        ("sectionscore", "section_score"),
        ("sectionmax", "section_max"),
    ] {
        let Some(value) = num(key, name)? else {
            continue;
        };
        let slot = if key == "sectionscore" {
            &mut ev.sections[idx].score
        } else {
            &mut ev.sections[idx].max
        };
        match slot {
            Some(prev) if *prev != value => {
                return Err(RecordError::field(
                    name,
                    format!("{value} disagrees with {prev} on an earlier row of the same section"),
                ));
            }
            _ => *slot = Some(value),
        }
    }
    if let Some(q) = &question_id
        && ev.sections[idx]
            .questions
            .iter()
            .any(|x| x.question_id.as_deref() == Some(q))
    {
        return Err(RecordError::field(
            "question_id",
            format!("question {q} appears twice"),
        ));
    }
    ev.sections[idx].questions.push(Question {
        question_id: question_id.clone(),
        text,
        weight: num("questionweight", "question_weight")?,
        is_kpi,
        answer: has_answer.then_some(answer),
        na,
    });
    if let Some(c) = get("questioncomment") {
        ev.comments.push(Comment {
            scope: CommentScope::Question,
            section_id: section_id.or(section_name),
            question_id,
            text: c.to_owned(),
            ..Comment::default()
        });
    }
    Ok(())
}

impl Iterator for LongCsvReader {
    type Item = SourceRecord;

    fn next(&mut self) -> Option<SourceRecord> {
        let first = self.pending.take().or_else(|| self.rows.read_row())?;
        let file = self.rows.file().to_owned();
        let line = first.line;
        let mut raw = first.raw.clone();
        let locator = Locator {
            file: file.clone(),
            line: Some(line),
            json_path: None,
        };
        let finish = |raw: Vec<u8>, parsed| SourceRecord {
            locator: locator.clone(),
            hash: sha256_hex(&raw),
            raw: String::from_utf8_lossy(&raw).into_owned(),
            parsed,
        };
        let mut ev = match first.parsed {
            Ok(ev) => ev,
            // An unreadable row is a record of its own.
            Err(e) => return Some(finish(raw, Err(e))),
        };
        let head = header_part(&ev);
        let mut error: Option<RecordError> =
            add_question(&mut ev, &first.extras)
                .err()
                .map(|e| RecordError {
                    field: e.field,
                    message: format!("line {line}: {}", e.message),
                });
        // Following rows of the same evaluation.
        while let Some(row) = self.rows.read_row() {
            let same = row
                .parsed
                .as_ref()
                .is_ok_and(|r| r.evaluation_id == ev.evaluation_id);
            if !same {
                self.pending = Some(row);
                break;
            }
            raw.push(b'\n');
            raw.extend_from_slice(&row.raw);
            let Ok(r) = row.parsed else { continue };
            if error.is_some() {
                continue;
            }
            let other = header_part(&r);
            if let Some(field) = first_difference(&head, &other, "") {
                error = Some(RecordError::field(
                    field.clone(),
                    format!(
                        "the rows of evaluation {} disagree: line {line} has {}, line {} has {}",
                        ev.evaluation_id,
                        lookup(&head, &field),
                        row.line,
                        lookup(&other, &field)
                    ),
                ));
                continue;
            }
            if let Err(e) = add_question(&mut ev, &row.extras) {
                error = Some(RecordError {
                    field: e.field,
                    message: format!("line {}: {}", row.line, e.message),
                });
            }
        }
        Some(finish(raw, error.map_or(Ok(ev), Err)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read(content: &str) -> Vec<SourceRecord> {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content.as_bytes()).unwrap();
        LongCsvReader::open(f.path(), ReadOptions::default())
            .unwrap()
            .collect()
    }

    const HEADER: &str = "evaluation_id,contact_id,form_id,form_name,agent_person_id,agent_email,evaluator_person_id,evaluator_email,evaluated_at,kind,state,total_score,raw_additive_score,section_id,section_name,section_weight,question_id,question_text,question_weight,is_kpi,option_id,answer_label,answer_points,answer_type,is_na,question_comment\n";

    #[test]
    fn the_reference_sample_groups_into_one_record_with_its_questions() {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/data/evaluations_long.csv"
        ))
        .unwrap();
        let recs = read(&text);
        assert_eq!(recs.len(), 1);
        let ev = recs[0].parsed.as_ref().unwrap();
        assert_eq!(ev.evaluation_id, "80517");
        assert_eq!(ev.sections.len(), 2);
        assert_eq!(ev.sections[0].name.as_deref(), Some("Opening"));
        assert_eq!(ev.sections[0].questions.len(), 2);
        let q = &ev.sections[0].questions[1];
        assert_eq!(q.is_kpi, Some(true));
        assert_eq!(q.answer.as_ref().unwrap().label.as_deref(), Some("No"));
        assert_eq!(ev.sections[1].questions[0].na, Some(true));
        assert_eq!(ev.comments.len(), 1);
        assert_eq!(ev.comments[0].scope, CommentScope::Question);
        assert_eq!(ev.comments[0].question_id.as_deref(), Some("1002"));
        assert_eq!(ev.score.kpi_failed, Some(true), "total 0 with additive 85");
        assert_eq!(
            recs[0].raw.lines().count(),
            3,
            "the raw text is the group's rows"
        );
    }

    #[test]
    fn disagreeing_rows_make_one_record_in_error_and_the_next_group_is_intact() {
        let text = format!(
            "{HEADER}\
             1,c1,12,F,31,a@x.com,77,e@x.com,2022-10-18T15:02:11Z,evaluation,scored,80,80,101,Opening,20,1001,Q1,50,false,5,Yes,10,,false,\n\
             1,c1,12,F,31,a@x.com,77,e@x.com,2022-10-18T15:02:11Z,evaluation,scored,85,80,101,Opening,20,1002,Q2,50,false,6,Yes,10,,false,\n\
             2,c2,12,F,31,a@x.com,77,e@x.com,2022-10-19T15:02:11Z,evaluation,scored,90,90,101,Opening,20,1001,Q1,50,false,5,Yes,10,,false,\n"
        );
        let recs = read(&text);
        assert_eq!(recs.len(), 2);
        let e = recs[0].parsed.as_ref().unwrap_err();
        assert_eq!(e.field.as_deref(), Some("score.total"));
        assert!(
            e.message.contains("line 2 has 80.0") && e.message.contains("line 3 has 85.0"),
            "{e}"
        );
        assert_eq!(recs[1].parsed.as_ref().unwrap().evaluation_id, "2");
        assert_eq!(recs[1].locator.line, Some(4));
    }

    #[test]
    fn a_wide_file_is_not_mistaken_for_a_long_one() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(b"evaluation_id,agent_email,total_score\n1,a@x.com,80\n")
            .unwrap();
        let err = LongCsvReader::open(f.path(), ReadOptions::default())
            .err()
            .unwrap();
        assert!(err.to_string().contains("question_id"), "{err}");
    }
}
