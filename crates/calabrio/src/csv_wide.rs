//! Wide CSV: one row per evaluation (reference/calabrio.md §8.2), with any of the documented header
//! aliases, section scores as `section:<Name>:score` / `section:<Name>:max` columns or a
//! `SectionScores` cell (`Compliance=4;Soft Skills=5` or a JSON object), UTF-8 with or without BOM,
//! LF or CRLF.
//!
//! The file is read twice in lockstep: once by the `csv` parser, once as bytes, so each record keeps
//! its exact raw text (what the history and the content hash are made of) while memory stays flat.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use csv::ByteRecord;
use qm_model::{
    Answer, CanonicalEvaluation, Comment, CommentScope, Contact, Dates, Form, Kind, Person,
    Question, Score, Section, Source, parse_instant,
};

use crate::aliases::{Canonical, canonical_column, fold};
use crate::{FileError, Locator, ReadOptions, RecordError, SourceRecord, sha256_hex};

#[derive(Debug, Clone)]
enum Column {
    Known(Canonical),
    SectionScore(String),
    SectionMax(String),
    QuestionAnswer(String, String),
    QuestionPoints(String, String),
    Ignored,
}

/// Streaming reader of a wide CSV export.
pub struct WideCsvReader {
    file: String,
    csv: csv::Reader<BufReader<File>>,
    raw: BufReader<File>,
    raw_pos: u64,
    next_line: u64,
    headers: Vec<String>,
    columns: Vec<Column>,
    opts: ReadOptions,
    done: bool,
    /// Headers that map to nothing, reported once by the caller.
    pub ignored_headers: Vec<String>,
    /// The UTF-8 copy being read, for a file in another encoding (deleted when the reader is).
    _utf8: Option<tempfile::NamedTempFile>,
}

impl WideCsvReader {
    /// Opens `path` and reads its header.
    ///
    /// # Errors
    /// [`FileError`] when the file cannot be opened, the header is not UTF-8, two headers mean the
    /// same column, or there is no evaluation id column.
    pub fn open(path: &Path, opts: ReadOptions) -> Result<Self, FileError> {
        let file = path.display().to_string();
        let file_name = file.clone();
        let io = move |source| FileError::Io {
            file: file_name.clone(),
            source,
        };
        let utf8 = crate::encoding::utf8_copy(path, opts.encoding)?;
        let read_path = utf8.as_ref().map_or(path, |t| t.path());
        let f = File::open(read_path).map_err(&io)?;
        let raw = BufReader::new(File::open(read_path).map_err(&io)?);
        let mut csv = csv::ReaderBuilder::new()
            .flexible(false)
            .has_headers(true)
            .from_reader(BufReader::new(f));
        let header_err = |message: String| FileError::Header {
            file: file.clone(),
            message,
        };
        let header_record = csv
            .byte_headers()
            .map_err(|e| header_err(format!("cannot read the header row: {e}")))?
            .clone();
        if header_record.is_empty() || header_record.iter().all(|h| h.is_empty()) {
            return Err(header_err("the file has no header row".into()));
        }
        let mut headers = Vec::with_capacity(header_record.len());
        for (i, h) in header_record.iter().enumerate() {
            let text = std::str::from_utf8(h)
                .map_err(|_| header_err(format!("header {} is not valid UTF-8", i + 1)))?;
            headers.push(text.trim_start_matches('\u{feff}').trim().to_owned());
        }
        let mut columns = Vec::with_capacity(headers.len());
        let mut seen: HashMap<Canonical, String> = HashMap::new();
        let mut ignored = Vec::new();
        for h in &headers {
            let col = if let Some(rest) = strip_prefix_ci(h, "section:") {
                match rest.rsplit_once(':') {
                    Some((name, suffix)) if suffix.eq_ignore_ascii_case("score") => {
                        Column::SectionScore(name.to_owned())
                    }
                    Some((name, suffix)) if suffix.eq_ignore_ascii_case("max") => {
                        Column::SectionMax(name.to_owned())
                    }
                    _ => {
                        return Err(header_err(format!(
                            "column '{h}' should be section:<Name>:score or section:<Name>:max"
                        )));
                    }
                }
            } else if let Some(rest) = strip_prefix_ci(h, "q:") {
                let parsed = rest.rsplit_once(':').and_then(|(sq, suffix)| {
                    let (sec, q) = sq.split_once(':')?;
                    let (sec, q) = (sec.to_owned(), q.to_owned());
                    if suffix.eq_ignore_ascii_case("answer") {
                        Some(Column::QuestionAnswer(sec, q))
                    } else if suffix.eq_ignore_ascii_case("points") {
                        Some(Column::QuestionPoints(sec, q))
                    } else {
                        None
                    }
                });
                match parsed {
                    Some(c) => c,
                    None => {
                        return Err(header_err(format!(
                            "column '{h}' should be q:<Section>:<Question>:answer or q:<Section>:<Question>:points"
                        )));
                    }
                }
            } else if let Some(c) = canonical_column(h) {
                if let Some(prev) = seen.insert(c, h.clone()) {
                    return Err(header_err(format!(
                        "columns '{prev}' and '{h}' both mean {}",
                        c.name()
                    )));
                }
                Column::Known(c)
            } else {
                ignored.push(h.clone());
                Column::Ignored
            };
            columns.push(col);
        }
        if !seen.contains_key(&Canonical::EvaluationId) {
            return Err(header_err(
                "no evaluation id column (accepted: evaluation_id, Evaluation ID, evaluationId, id, eval_id, EvaluationID)"
                    .into(),
            ));
        }
        let mut reader = WideCsvReader {
            file,
            csv,
            raw,
            raw_pos: 0,
            next_line: 1,
            headers,
            columns,
            opts,
            done: false,
            ignored_headers: ignored,
            _utf8: utf8,
        };
        // Count the header's lines (a quoted header may span several) from the raw bytes.
        let start = reader.csv.position().byte();
        let _ = reader.raw_between(0, start);
        Ok(reader)
    }

    /// The raw bytes of the next record (`start..end`), trimmed of the line ends around it, and the
    /// line it starts on. Line numbers are counted here from the bytes, so quoted newlines and CRLF
    /// count as a reader of the file would count them.
    fn raw_between(&mut self, start: u64, end: u64) -> (Vec<u8>, u64) {
        let mut buf = vec![0; usize::try_from(end.saturating_sub(start)).unwrap_or(0)];
        let ok = (self.raw_pos == start || self.raw.seek(SeekFrom::Start(start)).is_ok())
            && self.raw.read_exact(&mut buf).is_ok();
        if !ok {
            buf.clear();
        }
        self.raw_pos = end;
        let lead = buf
            .iter()
            .take_while(|b| matches!(b, b'\n' | b'\r'))
            .count();
        let line = self.next_line + buf[..lead].iter().filter(|b| **b == b'\n').count() as u64;
        self.next_line += buf.iter().filter(|b| **b == b'\n').count() as u64;
        buf.drain(..lead);
        while matches!(buf.last(), Some(b'\n' | b'\r')) {
            buf.pop();
        }
        (buf, line)
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// One row of a CSV export: where it stood, its raw bytes, the evaluation-level record, and the
/// columns the wide mapping does not know (folded header → text), for the long format.
pub(crate) struct Row {
    pub(crate) line: u64,
    pub(crate) raw: Vec<u8>,
    pub(crate) parsed: Result<CanonicalEvaluation, RecordError>,
    pub(crate) extras: HashMap<String, String>,
}

impl WideCsvReader {
    /// The file, as given.
    pub(crate) fn file(&self) -> &str {
        &self.file
    }

    pub(crate) fn read_row(&mut self) -> Option<Row> {
        loop {
            if self.done {
                return None;
            }
            let mut record = ByteRecord::new();
            let start = self.csv.position().byte();
            let result = self.csv.read_byte_record(&mut record);
            let end = self.csv.position().byte();
            let (parsed, extras) = match result {
                Ok(false) => {
                    self.done = true;
                    return None;
                }
                Ok(true) => {
                    if record.iter().all(|f| f.is_empty()) && record.len() <= 1 {
                        // A blank line: not a record.
                        let _ = self.raw_between(start, end);
                        continue;
                    }
                    self.parse(&record)
                }
                Err(e) => {
                    let message = match e.kind() {
                        csv::ErrorKind::UnequalLengths {
                            expected_len, len, ..
                        } => format!(
                            "row has {len} fields but the header has {expected_len} (unbalanced quote or stray comma?)"
                        ),
                        csv::ErrorKind::Io(io) => {
                            self.done = true;
                            format!("read error: {io}")
                        }
                        other => format!("{other:?}"),
                    };
                    (Err(RecordError::whole(message)), HashMap::new())
                }
            };
            let (raw, line) = self.raw_between(start, end);
            // Quotes inside a quoted field are doubled, so a whole record has an even number of
            // them. An odd count is a quote that never closes: the parser took everything after it,
            // later rows included, as one field. Say so instead of hiding those rows in a comment.
            let parsed = match parsed {
                Ok(_) if raw.iter().filter(|b| **b == b'"').count() % 2 == 1 => {
                    let lines = raw.iter().filter(|b| **b == b'\n').count() + 1;
                    Err(RecordError::whole(format!(
                        "unbalanced quote: a quoted field never closes, so this record swallowed {lines} lines up to the end of the file"
                    )))
                }
                other => other,
            };
            return Some(Row {
                line,
                raw,
                parsed,
                extras,
            });
        }
    }
}

impl Iterator for WideCsvReader {
    type Item = SourceRecord;

    fn next(&mut self) -> Option<SourceRecord> {
        let row = self.read_row()?;
        Some(SourceRecord {
            locator: Locator {
                file: self.file.clone(),
                line: Some(row.line),
                json_path: None,
            },
            hash: sha256_hex(&row.raw),
            raw: String::from_utf8_lossy(&row.raw).into_owned(),
            parsed: row.parsed,
        })
    }
}

impl WideCsvReader {
    fn parse(
        &self,
        record: &ByteRecord,
    ) -> (
        Result<CanonicalEvaluation, RecordError>,
        HashMap<String, String>,
    ) {
        let mut extras = HashMap::new();
        for (i, bytes) in record.iter().enumerate() {
            if matches!(self.columns[i], Column::Ignored)
                && let Ok(text) = std::str::from_utf8(bytes)
            {
                extras.insert(fold(&self.headers[i]), text.trim().to_owned());
            }
        }
        (self.parse_record(record), extras)
    }

    fn parse_record(&self, record: &ByteRecord) -> Result<CanonicalEvaluation, RecordError> {
        let mut known: HashMap<Canonical, &str> = HashMap::new();
        let mut sections: Vec<Section> = Vec::new();
        for (i, bytes) in record.iter().enumerate() {
            let header = &self.headers[i];
            let text = std::str::from_utf8(bytes).map_err(|e| {
                RecordError::field(
                    header.clone(),
                    format!("not valid UTF-8 (byte {})", e.valid_up_to()),
                )
            })?;
            let text = text.trim();
            match &self.columns[i] {
                Column::Known(c) => {
                    known.insert(*c, text);
                }
                Column::SectionScore(name) | Column::SectionMax(name) => {
                    if text.is_empty() {
                        continue;
                    }
                    let value = number(header, text)?;
                    let idx = match sections
                        .iter()
                        .position(|s| s.name.as_deref() == Some(name))
                    {
                        Some(i) => i,
                        None => {
                            sections.push(Section {
                                name: Some(name.clone()),
                                ..Section::default()
                            });
                            sections.len() - 1
                        }
                    };
                    if matches!(self.columns[i], Column::SectionScore(_)) {
                        sections[idx].score = value;
                    } else {
                        sections[idx].max = value;
                    }
                }
                Column::QuestionAnswer(sec, q) | Column::QuestionPoints(sec, q) => {
                    if text.is_empty() {
                        continue;
                    }
                    let question = question_of(&mut sections, sec, q);
                    let answer = question.answer.get_or_insert_with(Answer::default);
                    if matches!(self.columns[i], Column::QuestionAnswer(..)) {
                        if text.eq_ignore_ascii_case("n/a") {
                            question.na = Some(true);
                        }
                        answer.label = Some(text.to_owned());
                    } else {
                        answer.points = number(header, text)?;
                    }
                }
                Column::Ignored => {}
            }
        }
        let get = |c: Canonical| known.get(&c).copied().filter(|v| !v.is_empty());
        let col = |c: Canonical| self.header_of(c);

        let evaluation_id = get(Canonical::EvaluationId)
            .ok_or_else(|| RecordError::field(col(Canonical::EvaluationId), "is empty"))?
            .to_owned();

        if let Some(cell) = get(Canonical::SectionScores) {
            for s in section_scores(&col(Canonical::SectionScores), cell)? {
                if !sections.iter().any(|x| x.name == s.name) {
                    sections.push(s);
                }
            }
        }

        type Col = Option<Canonical>;
        #[allow(clippy::too_many_arguments)]
        let person = |id: Canonical,
                      user: Col,
                      email: Col,
                      win: Col,
                      emp: Col,
                      acd: Col,
                      name: Col,
                      key: Col| Person {
            calabrio_person_id: get(id).map(str::to_owned),
            username: user.and_then(get).map(str::to_owned),
            email: email.and_then(get).map(str::to_owned),
            windows_login: win.and_then(get).map(str::to_owned),
            employee_id: emp.and_then(get).map(str::to_owned),
            acd_id: acd.and_then(get).map(str::to_owned),
            display_name: name.and_then(get).map(str::to_owned),
            key: key.and_then(get).map(str::to_owned),
            ..Person::default()
        };
        let agent = person(
            Canonical::AgentPersonId,
            Some(Canonical::AgentUsername),
            Some(Canonical::AgentEmail),
            Some(Canonical::AgentWindowsLogin),
            Some(Canonical::AgentEmployeeId),
            Some(Canonical::AgentAcdId),
            Some(Canonical::AgentDisplayName),
            Some(Canonical::AgentKey),
        );
        if agent.is_empty() {
            return Err(RecordError::field(
                "agent",
                "no agent identifier (agent_email, agent_username, AgentID, …) is filled in",
            ));
        }
        let evaluator = person(
            Canonical::EvaluatorPersonId,
            Some(Canonical::EvaluatorUsername),
            Some(Canonical::EvaluatorEmail),
            Some(Canonical::EvaluatorWindowsLogin),
            None,
            None,
            Some(Canonical::EvaluatorDisplayName),
            Some(Canonical::EvaluatorKey),
        );
        let approver = person(
            Canonical::ApproverPersonId,
            Some(Canonical::ApproverUsername),
            None,
            None,
            None,
            None,
            None,
            None,
        );

        let zone = self.opts.time_zone.as_ref();
        let instant = |c: Canonical| -> Result<Option<jiff::Timestamp>, RecordError> {
            match get(c) {
                None => Ok(None),
                Some(v) => parse_instant(v, zone)
                    .map(Some)
                    .map_err(|e| RecordError::field(col(c), e.to_string())),
            }
        };
        let dates = Dates {
            evaluated_at_utc: instant(Canonical::EvaluatedAt)?,
            evaluated_at_raw: get(Canonical::EvaluatedAt).map(str::to_owned),
            created_at_utc: instant(Canonical::CreatedAt)?,
            created_at_raw: get(Canonical::CreatedAt).map(str::to_owned),
        };

        let kind = match (get(Canonical::Kind), get(Canonical::IsScoreCounted)) {
            (Some(k), _) => match k.to_ascii_lowercase().as_str() {
                "evaluation" => Kind::Evaluation,
                "calibration" => Kind::Calibration,
                other => {
                    return Err(RecordError::field(
                        col(Canonical::Kind),
                        format!("'{other}' is neither evaluation nor calibration"),
                    ));
                }
            },
            (None, Some(v)) => match boolean(&col(Canonical::IsScoreCounted), v)? {
                Some(false) => Kind::Calibration,
                _ => Kind::Evaluation,
            },
            (None, None) => Kind::Evaluation,
        };
        let (state, state_raw) = match get(Canonical::State) {
            None => ("scored".to_owned(), None),
            Some(raw) => (normalise_state(raw), Some(raw.to_owned())),
        };

        let num = |c: Canonical| match get(c) {
            None => Ok(None),
            Some(v) => number(&col(c), v),
        };
        let total = num(Canonical::TotalScore)?;
        if total.is_none() && state == "scored" {
            return Err(RecordError::field(
                col(Canonical::TotalScore),
                "is empty on a scored evaluation",
            ));
        }
        let raw_additive = num(Canonical::RawAdditiveScore)?;
        let explicit_kpi = match get(Canonical::KpiFailed) {
            None => None,
            Some(v) => boolean(&col(Canonical::KpiFailed), v)?,
        };
        let (kpi_failed, kpi_basis) = Score::kpi(explicit_kpi, total, raw_additive);
        let scoring_type = get(Canonical::ScoringType).map(|s| s.to_ascii_lowercase());
        let score = Score {
            total,
            raw_additive,
            unit: crate::unit_of(scoring_type.as_deref()),
            max_points: num(Canonical::MaxPoints)?,
            applicable_points: num(Canonical::ApplicablePoints)?,
            kpi_failed,
            kpi_failed_basis: kpi_basis,
        };

        let mut comments = Vec::new();
        if let Some(text) = known
            .get(&Canonical::EvaluationComment)
            .copied()
            .filter(|t| !t.is_empty())
        {
            comments.push(Comment {
                scope: CommentScope::Evaluation,
                text: text.to_owned(),
                ..Comment::default()
            });
        }

        Ok(CanonicalEvaluation {
            schema: qm_model::evaluation::SCHEMA.to_owned(),
            source: Source {
                system: "calabrio_one".into(),
                extractor: Some(
                    self.opts
                        .extractor
                        .clone()
                        .unwrap_or_else(|| "csv_manual".into()),
                ),
                ..Source::default()
            },
            evaluation_id,
            contact: Contact {
                contact_id: get(Canonical::ContactId).map(str::to_owned),
                assoc_call_id: get(Canonical::AssocCallId).map(str::to_owned),
                conversation_id: get(Canonical::ConversationId).map(str::to_owned),
                contact_type: get(Canonical::ContactType).map(str::to_owned),
                start_time_utc: instant(Canonical::ContactStartUtc)?,
                start_tz: get(Canonical::ContactTz).map(str::to_owned),
                duration_ms: None,
            },
            form: Form {
                form_id: get(Canonical::FormId).map(str::to_owned),
                form_name: get(Canonical::FormName).map(str::to_owned),
                scoring_type,
                total_points: num(Canonical::MaxPoints)?,
            },
            agent,
            evaluator: (!evaluator.is_empty()).then_some(evaluator),
            approver: (!approver.is_empty()).then_some(approver),
            kind,
            evaluation_type: get(Canonical::EvaluationType).map(|s| s.to_ascii_lowercase()),
            state,
            state_raw,
            response_state: get(Canonical::ResponseState).map(|s| s.to_ascii_lowercase()),
            dates,
            score,
            sections,
            comments,
            warnings: Vec::new(),
        })
    }

    fn header_of(&self, c: Canonical) -> String {
        self.columns
            .iter()
            .position(|col| matches!(col, Column::Known(k) if *k == c))
            .map(|i| self.headers[i].clone())
            .unwrap_or_else(|| c.name().to_owned())
    }
}

pub(crate) fn normalise_state(raw: &str) -> String {
    match fold(raw).as_str() {
        "scored" | "completed" | "complete" => "scored".into(),
        "approved" => "approved".into(),
        "inprogress" => "in_progress".into(),
        "needsapproval" => "needs_approval".into(),
        _ => "unknown".into(),
    }
}

/// A number: decimals, an optional trailing `%`; empty is `None`.
pub(crate) fn number(field: &str, text: &str) -> Result<Option<f64>, RecordError> {
    let t = text.trim();
    if t.is_empty() {
        return Ok(None);
    }
    let t = t.strip_suffix('%').unwrap_or(t).trim();
    match t.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        _ => Err(RecordError::field(
            field,
            format!("'{text}' is not a number"),
        )),
    }
}

pub(crate) fn boolean(field: &str, text: &str) -> Result<Option<bool>, RecordError> {
    match text.trim().to_ascii_lowercase().as_str() {
        "" => Ok(None),
        "true" | "yes" | "y" | "1" => Ok(Some(true)),
        "false" | "no" | "n" | "0" => Ok(Some(false)),
        _ => Err(RecordError::field(
            field,
            format!("'{text}' is not true or false"),
        )),
    }
}

/// `Compliance=4;Soft Skills=5` or `{"Compliance":4,"Soft Skills":5}`.
/// The question `q` of section `sec`, added (with its section) when first seen.
fn question_of<'a>(sections: &'a mut Vec<Section>, sec: &str, q: &str) -> &'a mut Question {
    let si = match sections.iter().position(|s| s.name.as_deref() == Some(sec)) {
        Some(i) => i,
        None => {
            sections.push(Section {
                name: Some(sec.to_owned()),
                ..Section::default()
            });
            sections.len() - 1
        }
    };
    let qs = &mut sections[si].questions;
    let qi = match qs.iter().position(|x| x.text.as_deref() == Some(q)) {
        Some(i) => i,
        None => {
            qs.push(Question {
                text: Some(q.to_owned()),
                ..Question::default()
            });
            qs.len() - 1
        }
    };
    &mut qs[qi]
}

fn section_scores(field: &str, cell: &str) -> Result<Vec<Section>, RecordError> {
    let mut out = Vec::new();
    if cell.trim_start().starts_with('{') {
        let map: serde_json::Map<String, serde_json::Value> = serde_json::from_str(cell)
            .map_err(|e| RecordError::field(field, format!("not a JSON object of scores: {e}")))?;
        for (name, v) in map {
            let score = v.as_f64().ok_or_else(|| {
                RecordError::field(field, format!("score of '{name}' is not a number"))
            })?;
            out.push(Section {
                name: Some(name),
                score: Some(score),
                ..Section::default()
            });
        }
        return Ok(out);
    }
    for pair in cell.split(';').map(str::trim).filter(|p| !p.is_empty()) {
        let (name, value) = pair
            .split_once('=')
            .ok_or_else(|| RecordError::field(field, format!("'{pair}' is not Name=score")))?;
        let score = number(field, value)?.ok_or_else(|| {
            RecordError::field(field, format!("section '{}' has no score", name.trim()))
        })?;
        out.push(Section {
            name: Some(name.trim().to_owned()),
            score: Some(score),
            ..Section::default()
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read_all(content: &[u8]) -> Vec<SourceRecord> {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(content).unwrap();
        let opts = ReadOptions {
            time_zone: Some(jiff::tz::TimeZone::UTC),
            ..ReadOptions::default()
        };
        WideCsvReader::open(f.path(), opts).unwrap().collect()
    }

    #[test]
    fn guide_style_headers_with_bom_and_crlf() {
        let csv = "\u{feff}EvaluationID,AgentID,EvaluatorID,EvaluationDate,CreatedDate,TotalScore,SectionScores,Comments,RecordingID\r\n\
                   E1,jane@x.com,CORP\\qa,2023-05-01 14:03:00,,4,Compliance=4;Soft Skills=5,\"Good, \"\"very\"\" good\r\nsecond line é\",R77\r\n\
                   E2,joe@x.com,,,2023-05-02T10:00:00Z,3.5,,,R78\r\n";
        let recs = read_all(csv.as_bytes());
        assert_eq!(recs.len(), 2);
        let a = recs[0].parsed.as_ref().unwrap();
        assert_eq!(a.evaluation_id, "E1");
        assert_eq!(a.agent.key.as_deref(), Some("jane@x.com"));
        assert_eq!(
            a.evaluator.as_ref().unwrap().key.as_deref(),
            Some("CORP\\qa")
        );
        assert_eq!(a.score.total, Some(4.0));
        assert_eq!(a.contact.contact_id.as_deref(), Some("R77"));
        assert_eq!(a.sections.len(), 2);
        assert_eq!(a.sections[1].name.as_deref(), Some("Soft Skills"));
        assert_eq!(a.comments[0].text, "Good, \"very\" good\r\nsecond line é");
        assert_eq!(recs[0].locator.line, Some(2));
        assert!(recs[0].raw.starts_with("E1,jane@x.com"));
        assert!(recs[0].raw.ends_with("R77"));
        let b = recs[1].parsed.as_ref().unwrap();
        assert!(b.dates.evaluated_at_utc.is_none());
        assert_eq!(
            b.dates.created_at_utc.unwrap().to_string(),
            "2023-05-02T10:00:00Z"
        );
        assert_eq!(
            recs[1].locator.line,
            Some(4),
            "line counts the embedded newline"
        );
        assert_ne!(recs[0].hash, recs[1].hash);
    }

    #[test]
    fn bad_rows_are_records_with_errors_naming_line_and_field() {
        let csv = b"evaluation_id,agent_email,evaluated_at,total_score\n\
                    1,a@x.com,2023-01-01T00:00:00Z,80\n\
                    2,b@x.com,2023-01-01T00:00:00Z,eighty\n\
                    3,c@x.com,2023-01-01T00:00:00Z\n\
                    4,,2023-01-01T00:00:00Z,70\n\
                    5,d@x.com,not a date,70\n\
                    6,\xff\xfe@x.com,2023-01-01T00:00:00Z,70\n\
                    7,e@x.com,2023-01-01T00:00:00Z,90\n";
        let recs = read_all(csv);
        assert_eq!(recs.len(), 7, "every row is a record");
        assert!(recs[0].parsed.is_ok());
        let e = recs[1].parsed.as_ref().unwrap_err();
        assert_eq!(e.field.as_deref(), Some("total_score"));
        assert!(e.message.contains("eighty"));
        assert_eq!(recs[1].locator.line, Some(3));
        let e = recs[2].parsed.as_ref().unwrap_err();
        assert!(e.message.contains("3 fields"), "{e}");
        assert_eq!(
            recs[3].parsed.as_ref().unwrap_err().field.as_deref(),
            Some("agent")
        );
        assert_eq!(
            recs[4].parsed.as_ref().unwrap_err().field.as_deref(),
            Some("evaluated_at")
        );
        assert_eq!(
            recs[5].parsed.as_ref().unwrap_err().field.as_deref(),
            Some("agent_email")
        );
        assert!(recs[6].parsed.is_ok(), "reading goes on after bad rows");
        assert_eq!(recs[6].locator.to_string().rsplit(':').next(), Some("8"));
    }

    #[test]
    fn a_windows_1252_export_reads_as_its_author_wrote_it() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(b"evaluation_id,agent_email,evaluated_at,total_score,Comments\n1,a@x.com,2023-01-01T00:00:00Z,80,Tr\xe8s bien \x96 merci\n").unwrap();
        let strict: Vec<SourceRecord> = WideCsvReader::open(f.path(), ReadOptions::default())
            .unwrap()
            .collect();
        assert_eq!(
            strict[0].parsed.as_ref().unwrap_err().field.as_deref(),
            Some("Comments")
        );
        for encoding in [
            crate::encoding::SourceEncoding::Windows1252,
            crate::encoding::SourceEncoding::Auto,
        ] {
            let opts = ReadOptions {
                encoding,
                ..ReadOptions::default()
            };
            let recs: Vec<SourceRecord> = WideCsvReader::open(f.path(), opts).unwrap().collect();
            let ev = recs[0].parsed.as_ref().unwrap();
            assert_eq!(ev.comments[0].text, "Très bien – merci");
            assert_eq!(
                recs[0].locator.file,
                f.path().display().to_string(),
                "records name the original file"
            );
        }
    }

    #[test]
    fn header_problems_are_file_errors() {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(b"agent_email,total_score\na,1\n").unwrap();
        let err = WideCsvReader::open(f.path(), ReadOptions::default())
            .err()
            .unwrap();
        assert!(err.to_string().contains("no evaluation id column"), "{err}");
        let mut g = tempfile::NamedTempFile::new().unwrap();
        g.write_all(b"evaluation_id,EvaluationID\n1,1\n").unwrap();
        let err = WideCsvReader::open(g.path(), ReadOptions::default())
            .err()
            .unwrap();
        assert!(err.to_string().contains("both mean evaluation_id"), "{err}");
    }

    #[test]
    fn kpi_failure_is_inferred_from_zero_total() {
        let csv =
            b"evaluation_id,agent_email,evaluated_at,total_score,raw_additive_score,kind,state\n\
                    1,a@x.com,2023-01-01T00:00:00Z,0,85,calibration,SCORED\n\
                    2,a@x.com,2023-01-01T00:00:00Z,,,evaluation,In Progress\n";
        let recs = read_all(csv);
        let a = recs[0].parsed.as_ref().unwrap();
        assert_eq!(a.score.kpi_failed, Some(true));
        assert_eq!(
            a.score.kpi_failed_basis.as_deref(),
            Some("inferred_total_zero")
        );
        assert_eq!(a.kind, Kind::Calibration);
        let b = recs[1].parsed.as_ref().unwrap();
        assert_eq!(b.state, "in_progress");
        assert_eq!(b.state_raw.as_deref(), Some("In Progress"));
    }
}
