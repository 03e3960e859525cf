//! The malformed records the sample appends to its exports, one kind each: what the extract must
//! quarantine with the file, line and field, rather than drop or guess.

/// A malformed record: its text, the case, the disposition, and a text the reason contains.
pub(super) type Malformed = (String, &'static str, &'static str, &'static str);

/// Malformed rows of the wide CSV, `width` fields wide unless the case is the width.
pub(super) fn csv_rows(width: usize) -> Vec<Malformed> {
    let pad = |fields: Vec<&str>| -> String {
        let mut v: Vec<String> = fields.iter().map(|s| (*s).to_owned()).collect();
        while v.len() < width {
            v.push(String::new());
        }
        v.join(",")
    };
    vec![
        (
            pad(vec![
                "90001",
                "6900001",
                "",
                "CALL",
                "2024-02-01T10:00:00Z",
                "12",
                "Inbound Support v3",
                "percentage",
                "evaluation",
                "SCORED",
                "2024-02-02T10:00:00Z",
                "",
                "eighty<script>document.title='pwned'</script>",
                "",
                "",
                "1010",
                "x@example.com",
                "x@example.com",
            ]),
            "malformed: score is not a number",
            "quarantined",
            "total_score",
        ),
        (
            format!(
                "{},extra",
                pad(vec![
                    "90002",
                    "6900002",
                    "",
                    "CALL",
                    "2024-02-01T10:00:00Z",
                    "12",
                    "Inbound Support v3",
                    "percentage",
                    "evaluation",
                    "SCORED",
                    "2024-02-02T10:00:00Z",
                    "",
                    "80"
                ])
            ),
            "malformed: a stray comma adds a field",
            "quarantined",
            "fields but the header has",
        ),
        (
            pad(vec![
                "90003",
                "6900003",
                "",
                "CALL",
                "2024-02-01T10:00:00Z",
                "12",
                "Inbound Support v3",
                "percentage",
                "evaluation",
                "SCORED",
                "2023-02-30T10:00:00Z",
                "",
                "80",
                "",
                "",
                "1010",
                "x@example.com",
                "x@example.com",
            ]),
            "malformed: impossible date",
            "quarantined",
            "evaluated_at",
        ),
        (
            pad(vec![
                "90004",
                "6900004",
                "",
                "CALL",
                "2024-02-01T10:00:00Z",
                "12",
                "Inbound Support v3",
                "percentage",
                "evaluation",
                "SCORED",
                "2024-02-02T10:00:00Z",
                "",
                "80",
            ]),
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
