//! Nested JSON (reference/calabrio.md §8.1): JSON Lines (`.jsonl`, `.ndjson`: one record a line), a
//! JSON array of records, or one record (`.json`).
//!
//! Arrays are cut into elements by a small scanner that tracks strings and nesting, so a file of any
//! size is read one record at a time and each record keeps its raw text and its starting line. A
//! record that does not decode names its JSON path (`$[3]`) and the offending field
//! (`score.total: invalid type: string "high", expected f64`).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use qm_model::CanonicalEvaluation;

use crate::{FileError, Locator, ReadOptions, RecordError, SourceRecord, sha256_hex};

enum Mode {
    Lines,
    Values,
}

/// Streaming reader of JSON / JSON Lines exports.
pub struct JsonReader {
    file: String,
    input: BufReader<File>,
    mode: Mode,
    opts: ReadOptions,
    line: u64,
    index: usize,
    in_array: Option<bool>,
    done: bool,
    peeked: Option<u8>,
    _utf8: Option<tempfile::NamedTempFile>,
}

impl JsonReader {
    /// Opens `path`; the mode comes from the extension (`.jsonl`/`.ndjson`: lines).
    ///
    /// # Errors
    /// [`FileError::Io`] when the file cannot be opened.
    pub fn open(path: &Path, opts: ReadOptions) -> Result<Self, FileError> {
        let file = path.display().to_string();
        let utf8 = crate::encoding::utf8_copy(path, opts.encoding)?;
        let f = File::open(utf8.as_ref().map_or(path, |t| t.path())).map_err(|source| {
            FileError::Io {
                file: file.clone(),
                source,
            }
        })?;
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .unwrap_or("")
            .to_ascii_lowercase();
        let mode = if ext == "jsonl" || ext == "ndjson" {
            Mode::Lines
        } else {
            Mode::Values
        };
        Ok(JsonReader {
            file,
            input: BufReader::new(f),
            mode,
            opts,
            line: 1,
            index: 0,
            in_array: None,
            done: false,
            peeked: None,
            _utf8: utf8,
        })
    }

    fn byte(&mut self) -> Option<u8> {
        if let Some(b) = self.peeked.take() {
            return Some(b);
        }
        let mut b = [0u8; 1];
        match self.input.read(&mut b) {
            Ok(1) => {
                if b[0] == b'\n' {
                    self.line += 1;
                }
                Some(b[0])
            }
            _ => None,
        }
    }

    fn record(&self, raw: &[u8], line: u64, path: Option<String>) -> SourceRecord {
        let text = String::from_utf8_lossy(raw).into_owned();
        let parsed = match std::str::from_utf8(raw) {
            Err(e) => Err(RecordError::whole(format!(
                "not valid UTF-8 (byte {})",
                e.valid_up_to()
            ))),
            Ok(t) => decode(t, &self.opts),
        };
        SourceRecord {
            locator: Locator {
                file: self.file.clone(),
                line: Some(line),
                json_path: path,
            },
            hash: sha256_hex(raw),
            raw: text,
            parsed,
        }
    }

    fn next_line(&mut self) -> Option<SourceRecord> {
        loop {
            let mut buf = Vec::new();
            let line = self.line;
            match self.input.read_until(b'\n', &mut buf) {
                Ok(0) => return None,
                Ok(_) => self.line += 1,
                Err(e) => {
                    self.done = true;
                    let mut r = self.record(&[], line, None);
                    r.parsed = Err(RecordError::whole(format!("read error: {e}")));
                    return Some(r);
                }
            }
            while matches!(buf.last(), Some(b'\n' | b'\r')) {
                buf.pop();
            }
            if buf.iter().all(u8::is_ascii_whitespace) {
                continue;
            }
            return Some(self.record(&buf, line, None));
        }
    }

    /// The next top-level value (or array element), as raw bytes with its starting line.
    fn next_value(&mut self) -> Option<SourceRecord> {
        // Skip white space, commas between elements, the opening bracket and the closing one.
        let first = loop {
            let b = self.byte()?;
            match b {
                b' ' | b'\t' | b'\r' | b'\n' => continue,
                b'[' if self.in_array.is_none() => {
                    self.in_array = Some(true);
                    continue;
                }
                b',' if self.in_array == Some(true) => continue,
                b']' if self.in_array == Some(true) => {
                    self.in_array = Some(false);
                    continue;
                }
                _ => {
                    if self.in_array.is_none() {
                        self.in_array = Some(false);
                    }
                    break b;
                }
            }
        };
        let line = self.line;
        let path = (self.in_array == Some(true)).then(|| format!("$[{}]", self.index));
        self.index += 1;
        let mut raw = vec![first];
        let mut depth: i64 = i64::from(matches!(first, b'{' | b'['));
        let mut in_string = first == b'"';
        let mut escape = false;
        let scalar = depth == 0 && !in_string;
        loop {
            if depth == 0 && !in_string && !scalar {
                break;
            }
            let Some(b) = self.byte() else {
                self.done = true;
                let mut r = self.record(&raw, line, path);
                r.parsed = Err(RecordError::whole(
                    "the file ends inside this record (truncated?)",
                ));
                return Some(r);
            };
            if in_string {
                raw.push(b);
                if escape {
                    escape = false;
                } else if b == b'\\' {
                    escape = true;
                } else if b == b'"' {
                    in_string = false;
                    if depth == 0 {
                        break;
                    }
                }
                continue;
            }
            match b {
                b'"' => in_string = true,
                b'{' | b'[' => depth += 1,
                b'}' | b']' => depth -= 1,
                b',' | b' ' | b'\n' | b'\r' | b'\t' if scalar => {
                    self.peeked = Some(b);
                    break;
                }
                _ => {}
            }
            raw.push(b);
            if depth < 0 {
                break;
            }
        }
        Some(self.record(&raw, line, path))
    }
}

impl Iterator for JsonReader {
    type Item = SourceRecord;

    fn next(&mut self) -> Option<SourceRecord> {
        if self.done {
            return None;
        }
        let r = match self.mode {
            Mode::Lines => self.next_line(),
            Mode::Values => self.next_value(),
        };
        if r.is_none() {
            self.done = true;
        }
        r
    }
}

/// Decodes one record, naming the JSON path of a bad field.
fn decode(text: &str, opts: &ReadOptions) -> Result<CanonicalEvaluation, RecordError> {
    // serde reads a struct from an array too (positionally): `"agent": ["a@x.com"]` would become a
    // person id. Objects must be objects.
    if let Ok(serde_json::Value::Object(map)) = serde_json::from_str::<serde_json::Value>(text) {
        for key in [
            "source",
            "contact",
            "form",
            "agent",
            "evaluator",
            "approver",
            "dates",
            "score",
        ] {
            if map.get(key).is_some_and(serde_json::Value::is_array) {
                return Err(RecordError::field(
                    key,
                    "invalid type: sequence, expected an object",
                ));
            }
        }
    }
    let de = &mut serde_json::Deserializer::from_str(text);
    let mut ev: CanonicalEvaluation = serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.inner().to_string();
        if path == "." {
            RecordError::whole(inner)
        } else {
            RecordError::field(path, inner)
        }
    })?;
    if ev.evaluation_id.trim().is_empty() {
        return Err(RecordError::field("evaluation_id", "is empty"));
    }
    if ev.agent.is_empty() {
        return Err(RecordError::field("agent", "names nobody"));
    }
    if ev.state == "scored" && ev.score.total.is_none() {
        return Err(RecordError::field(
            "score.total",
            "is missing on a scored evaluation",
        ));
    }
    if ev.source.extractor.is_none() {
        ev.source.extractor = opts.extractor.clone();
    }
    if ev.score.kpi_failed.is_none()
        && let (Some(failed), basis) =
            qm_model::Score::kpi(None, ev.score.total, ev.score.raw_additive)
    {
        ev.score.kpi_failed = Some(failed);
        ev.score.kpi_failed_basis = basis;
    }
    Ok(ev)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn read(ext: &str, content: &str) -> Vec<SourceRecord> {
        let mut f = tempfile::Builder::new().suffix(ext).tempfile().unwrap();
        f.write_all(content.as_bytes()).unwrap();
        JsonReader::open(f.path(), ReadOptions::default())
            .unwrap()
            .collect()
    }

    const GOOD: &str = r#"{"evaluation_id":"1","agent":{"email":"a@x.com"},"score":{"total":80}}"#;

    #[test]
    fn array_elements_keep_path_line_and_raw_text() {
        let text = format!(
            "[\n  {GOOD},\n  {{\"evaluation_id\":\"2\",\"agent\":{{\"email\":\"b@x.com\"}},\"score\":{{\"total\":\"high\"}}}},\n  {{\"evaluation_id\":\"3, with ]}} in a string\",\"agent\":{{\"email\":\"c\\\"@x.com\"}},\"score\":{{\"total\":1}}}}\n]\n"
        );
        let recs = read(".json", &text);
        assert_eq!(recs.len(), 3);
        assert_eq!(recs[0].raw, GOOD);
        assert_eq!(recs[1].locator.json_path.as_deref(), Some("$[1]"));
        assert_eq!(recs[1].locator.line, Some(3));
        let e = recs[1].parsed.as_ref().unwrap_err();
        assert_eq!(e.field.as_deref(), Some("score.total"));
        assert!(e.message.contains("invalid type"), "{e}");
        let third = recs[2].parsed.as_ref().unwrap();
        assert_eq!(third.evaluation_id, "3, with ]} in a string");
        assert_eq!(third.agent.email.as_deref(), Some("c\"@x.com"));
    }

    #[test]
    fn jsonl_bad_lines_do_not_stop_the_file() {
        let text = format!(
            "{GOOD}\n\n{{\"evaluation_id\": 7, \"agent\": {{}}}}\n{{\"evaluation_id\":\"8\"\n{GOOD}\n"
        );
        let recs = read(".jsonl", &text);
        assert_eq!(recs.len(), 4);
        assert!(recs[0].parsed.is_ok());
        let e = recs[1].parsed.as_ref().unwrap_err();
        assert_eq!(e.field.as_deref(), Some("evaluation_id"));
        assert_eq!(recs[1].locator.line, Some(3));
        assert!(recs[2].parsed.is_err());
        assert!(recs[3].parsed.is_ok());
    }

    #[test]
    fn truncated_array_ends_with_an_error_record() {
        let recs = read(
            ".json",
            &format!("[{GOOD}, {{\"evaluation_id\":\"2\", \"agent\""),
        );
        assert_eq!(recs.len(), 2);
        assert!(recs[0].parsed.is_ok());
        assert!(
            recs[1]
                .parsed
                .as_ref()
                .unwrap_err()
                .message
                .contains("truncated")
        );
    }

    #[test]
    fn single_object_file_is_one_record() {
        let recs = read(".json", &format!("\n{GOOD}\n"));
        assert_eq!(recs.len(), 1);
        assert!(recs[0].parsed.is_ok());
        assert_eq!(recs[0].locator.json_path, None);
    }
}
