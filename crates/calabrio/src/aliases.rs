//! Header aliases (reference/calabrio.md §8.2): every spelling a customer's export may use for a
//! canonical column, including the popular guide's (`EvaluationID`, `AgentID`, …). Matching ignores
//! case, spaces, underscores, dots and dashes, so `Evaluation ID`, `evaluation_id` and `evaluationId`
//! are one column.

/// The canonical columns of a wide export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(missing_docs)]
pub enum Canonical {
    EvaluationId,
    ContactId,
    AssocCallId,
    ConversationId,
    ContactType,
    ContactStartUtc,
    ContactTz,
    FormId,
    FormName,
    ScoringType,
    Kind,
    IsScoreCounted,
    EvaluationType,
    State,
    ResponseState,
    EvaluatedAt,
    EvaluatedAtTz,
    CreatedAt,
    TotalScore,
    RawAdditiveScore,
    MaxPoints,
    ApplicablePoints,
    KpiFailed,
    AgentPersonId,
    AgentUsername,
    AgentEmail,
    AgentWindowsLogin,
    AgentEmployeeId,
    AgentAcdId,
    AgentDisplayName,
    AgentKey,
    EvaluatorPersonId,
    EvaluatorUsername,
    EvaluatorEmail,
    EvaluatorWindowsLogin,
    EvaluatorDisplayName,
    EvaluatorKey,
    ApproverPersonId,
    ApproverUsername,
    EvaluationComment,
    SectionScores,
}

impl Canonical {
    /// The canonical column name.
    pub fn name(self) -> &'static str {
        ALIASES
            .iter()
            .find(|(c, _)| *c == self)
            .map(|(_, names)| names[0])
            .unwrap_or("?")
    }
}

/// Canonical column → accepted spellings (first = canonical name).
const ALIASES: &[(Canonical, &[&str])] = &[
    (
        Canonical::EvaluationId,
        &[
            "evaluation_id",
            "Evaluation ID",
            "evaluationId",
            "id",
            "eval_id",
            "EvaluationID",
        ],
    ),
    (
        Canonical::ContactId,
        &[
            "contact_id",
            "Contact ID",
            "recordId",
            "ccrId",
            "RecordingID",
            "Recording ID",
        ],
    ),
    (
        Canonical::AssocCallId,
        &[
            "assoc_call_id",
            "Associated Call ID",
            "assocCallId",
            "cjp_session_id",
        ],
    ),
    (
        Canonical::ConversationId,
        &[
            "conversation_id",
            "Genesys Conversation ID",
            "conversationId",
        ],
    ),
    (
        Canonical::ContactType,
        &["contact_type", "Contact Type Name"],
    ),
    (
        Canonical::ContactStartUtc,
        &["contact_start_utc", "Contact Start Time"],
    ),
    (
        Canonical::ContactTz,
        &["contact_tz", "Contact Start Timezone"],
    ),
    (
        Canonical::FormId,
        &["form_id", "Evaluation Form ID", "evalForm.evalFormId"],
    ),
    (Canonical::FormName, &["form_name", "Form Name"]),
    (
        Canonical::ScoringType,
        &["scoring_type", "Form Scoring Type Name"],
    ),
    (Canonical::Kind, &["kind"]),
    (
        Canonical::IsScoreCounted,
        &["is_score_counted", "isScoreCounted"],
    ),
    (
        Canonical::EvaluationType,
        &["evaluation_type", "Evaluation Type"],
    ),
    (
        Canonical::State,
        &["state", "Evaluation State", "state.text"],
    ),
    (
        Canonical::ResponseState,
        &["response_state", "Evaluation Response Type Name"],
    ),
    (
        Canonical::EvaluatedAt,
        &[
            "evaluated_at",
            "Date Evaluated",
            "evaluated",
            "evaluation.evaluated",
            "evaluated_date",
            "EvaluationDate",
        ],
    ),
    (
        Canonical::EvaluatedAtTz,
        &["evaluated_at_tz", "evaluatedTz"],
    ),
    (
        Canonical::CreatedAt,
        &["created_at", "CreatedDate", "Created Date", "created"],
    ),
    (
        Canonical::TotalScore,
        &["total_score", "totalScore", "final_score", "TotalScore"],
    ),
    (
        Canonical::RawAdditiveScore,
        &["raw_additive_score", "additiveScore", "raw_score"],
    ),
    (Canonical::MaxPoints, &["max_points", "Form Total Points"]),
    (
        Canonical::ApplicablePoints,
        &["applicable_points", "Form Applicable Points"],
    ),
    (Canonical::KpiFailed, &["kpi_failed"]),
    (Canonical::AgentPersonId, &["agent_person_id"]),
    (Canonical::AgentUsername, &["agent_username"]),
    (Canonical::AgentEmail, &["agent_email"]),
    (
        Canonical::AgentWindowsLogin,
        &["agent_windows_login", "agent_ad_login"],
    ),
    (Canonical::AgentEmployeeId, &["agent_employee_id"]),
    (Canonical::AgentAcdId, &["agent_acd_id"]),
    (
        Canonical::AgentDisplayName,
        &["agent_display_name", "Agent"],
    ),
    (Canonical::AgentKey, &["agent_key", "AgentID"]),
    (Canonical::EvaluatorPersonId, &["evaluator_person_id"]),
    (Canonical::EvaluatorUsername, &["evaluator_username"]),
    (Canonical::EvaluatorEmail, &["evaluator_email"]),
    (
        Canonical::EvaluatorWindowsLogin,
        &["evaluator_windows_login", "evaluator_ad_login"],
    ),
    (
        Canonical::EvaluatorDisplayName,
        &["evaluator_display_name", "Evaluator"],
    ),
    (Canonical::EvaluatorKey, &["evaluator_key", "EvaluatorID"]),
    (Canonical::ApproverPersonId, &["approver_person_id"]),
    (Canonical::ApproverUsername, &["approver_username"]),
    (
        Canonical::EvaluationComment,
        &["evaluation_comment", "Comments", "comment"],
    ),
    (
        Canonical::SectionScores,
        &["section_scores", "SectionScores"],
    ),
];

/// Folds a header for matching: lower case, without spaces, `_`, `.`, `-` and a UTF-8 BOM.
pub(crate) fn fold(header: &str) -> String {
    header
        .trim_start_matches('\u{feff}')
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '.' | '-' | '\t'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The canonical column a header means, if any.
pub fn canonical_column(header: &str) -> Option<Canonical> {
    let folded = fold(header);
    ALIASES
        .iter()
        .find(|(_, names)| names.iter().any(|n| fold(n) == folded))
        .map(|(c, _)| *c)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_alias_resolves() {
        let cases = [
            ("Evaluation ID", Canonical::EvaluationId),
            ("evaluationId", Canonical::EvaluationId),
            ("EvaluationID", Canonical::EvaluationId),
            ("\u{feff}evaluation_id", Canonical::EvaluationId),
            ("RecordingID", Canonical::ContactId),
            ("Recording ID", Canonical::ContactId),
            ("ccrid", Canonical::ContactId),
            ("Associated Call ID", Canonical::AssocCallId),
            ("Date Evaluated", Canonical::EvaluatedAt),
            ("EvaluationDate", Canonical::EvaluatedAt),
            ("CreatedDate", Canonical::CreatedAt),
            ("Created Date", Canonical::CreatedAt),
            ("AgentID", Canonical::AgentKey),
            ("EvaluatorID", Canonical::EvaluatorKey),
            ("Agent", Canonical::AgentDisplayName),
            ("Evaluator", Canonical::EvaluatorDisplayName),
            ("TotalScore", Canonical::TotalScore),
            ("final_score", Canonical::TotalScore),
            ("additiveScore", Canonical::RawAdditiveScore),
            ("SectionScores", Canonical::SectionScores),
            ("Comments", Canonical::EvaluationComment),
            ("Evaluation Form ID", Canonical::FormId),
            ("evalForm.evalFormId", Canonical::FormId),
            ("Form Total Points", Canonical::MaxPoints),
            ("Contact Start Time", Canonical::ContactStartUtc),
            ("  TOTAL score ", Canonical::TotalScore),
        ];
        for (header, want) in cases {
            assert_eq!(canonical_column(header), Some(want), "{header}");
        }
        assert_eq!(canonical_column("favourite colour"), None);
    }

    #[test]
    fn no_spelling_means_two_columns() {
        let mut seen = std::collections::HashMap::new();
        for (c, names) in ALIASES {
            for n in *names {
                if let Some(other) = seen.insert(fold(n), *c) {
                    assert_eq!(other, *c, "{n} is an alias of two columns");
                }
            }
        }
    }
}
