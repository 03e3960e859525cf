//! The malformed records the sample appends to its exports, one kind each: what the extract must
//! quarantine with the file, line and field, rather than drop or guess.

/// A malformed record: its text, the case, the disposition, and a text the reason contains.
pub(super) type Malformed = (String, &'static str, &'static str, &'static str);

/// Malformed rows of the wide CSV, `width` fields wide unless the case is the width.
pub(super) fn csv_rows(width: usize) -> Vec<Malformed> {
    // Evaluation `n` (id 9000n, contact 690000n), a call scored on the Inbound Support form: the
    // first thirteen columns, then the agent's five unless `agent` is false, padded to `width`.
    let row = |n: u32, evaluated_at: &str, total: &str, agent: bool| -> String {
        let (id, contact) = (format!("9000{n}"), format!("690000{n}"));
        let mut v: Vec<String> = [
            id.as_str(),
            contact.as_str(),
            "",
            "CALL",
            "2024-02-01T10:00:00Z",
            "12",
            "Inbound Support v3",
            "percentage",
            "evaluation",
            "SCORED",
            evaluated_at,
            "",
            total,
        ]
        .map(str::to_owned)
        .to_vec();
        if agent {
            v.extend(["", "", "1010", "x@example.com", "x@example.com"].map(str::to_owned));
        }
        v.resize(width.max(v.len()), String::new());
        v.join(",")
    };
    vec![
        (
            row(
                1,
                "2024-02-02T10:00:00Z",
                "eighty<script>document.title='pwned'</script>",
                true,
            ),
            "malformed: score is not a number",
            "quarantined",
            "total_score",
        ),
        (
            format!("{},extra", row(2, "2024-02-02T10:00:00Z", "80", false)),
            "malformed: a stray comma adds a field",
            "quarantined",
            "fields but the header has",
        ),
        (
            row(3, "2023-02-30T10:00:00Z", "80", true),
            "malformed: impossible date",
            "quarantined",
            "evaluated_at",
        ),
        (
            row(4, "2024-02-02T10:00:00Z", "80", false),
            "malformed: no agent identifier",
            "quarantined",
            "agent",
        ),
    ]
}

/// Malformed records of the JSON Lines export (all quarantined).
pub(super) fn json_rows() -> Vec<(String, &'static str, &'static str)> {
    vec![
        (
            r#"{"evaluation_id":"91001","agent":{"email":"x@example.com"},"score":{"total":"high"}}"#.into(),
            "malformed JSON: score of the wrong type",
            "score.total",
        ),
        (
            r#"{"evaluation_id":91002,"agent":{"email":"x@example.com"},"score":{"total":80}}"#.into(),
            "malformed JSON: evaluation id of the wrong type",
            "evaluation_id",
        ),
        (
            r#"{"evaluation_id":"91003","agent":{"email":"x@exa"#.into(),
            "malformed JSON: truncated record",
            "EOF",
        ),
    ]
}
