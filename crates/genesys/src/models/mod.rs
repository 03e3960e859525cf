//! Wire types of the Genesys Cloud endpoints qm-migrate calls, named as the official models
//! (`reference/genesys-openapi-subset.json`). Optional fields are skipped when absent so that a request
//! carries only what we mean to send; read-only fields (`id`, `selfUri`, computed scores) are `None`
//! in requests.

use serde::{Deserialize, Serialize};

/// `ErrorBody`: the shape of every Genesys error response.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorBody {
    /// Human message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Machine code, e.g. `quality.scoring.answer.not.in.evaluation.form`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    /// HTTP status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<i32>,
    /// Correlation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_id: Option<String>,
    /// Message with `{params}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_with_params: Option<String>,
    /// Parameters of the message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_params: Option<serde_json::Map<String, serde_json::Value>>,
    /// Field-level details.
    #[serde(default)]
    pub details: Vec<Detail>,
    /// Nested errors.
    #[serde(default)]
    pub errors: Vec<ErrorBody>,
    /// The limit that was hit (`quality` / `evaluations.per.agent.per.day` for the per-agent cap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<ErrorLimit>,
}

/// `ErrorBody.limit`: which org limit an error is about.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorLimit {
    /// Limit key, e.g. `evaluations.per.agent.per.day`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Namespace, e.g. `quality`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The limit's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<i64>,
}

/// One entry of `ErrorBody.details`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Detail {
    /// Error code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    /// The offending field.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_name: Option<String>,
    /// Entity id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_id: Option<String>,
    /// Entity name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entity_name: Option<String>,
}

/// OAuth token response.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenResponse {
    /// The bearer token.
    pub access_token: String,
    /// Always `bearer`.
    pub token_type: String,
    /// Lifetime in seconds.
    pub expires_in: u64,
}

/// A page of entities (`*EntityListing`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityListing<T> {
    /// The entities of this page.
    #[serde(default = "Vec::new")]
    pub entities: Vec<T>,
    /// Page size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<i32>,
    /// 1-based page number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_number: Option<i32>,
    /// Total (documented as possibly inaccurate: follow `nextUri`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
    /// Page count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_count: Option<i32>,
    /// First page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_uri: Option<String>,
    /// Next page, absent on the last.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_uri: Option<String>,
    /// Previous page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_uri: Option<String>,
    /// Last page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_uri: Option<String>,
    /// This page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_uri: Option<String>,
}

/// `User` (the fields we read).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// User id.
    pub id: String,
    /// Name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// E-mail.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Login name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// `active`, `inactive` or `deleted`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// HR data: the employee id is a person key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employer_info: Option<EmployerInfo>,
    /// Version (required by the model).
    #[serde(default)]
    pub version: i32,
    /// Self link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_uri: Option<String>,
}

/// `EmployerInfo` (the field we read).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmployerInfo {
    /// Employee id from the HR system.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_id: Option<String>,
}

/// `ConversationQuery`: the body of `POST /api/v2/analytics/conversations/details/query` (the fields
/// we send).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationQuery {
    /// `start/end`, ISO 8601.
    pub interval: String,
    /// `asc` or `desc`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    /// `conversationStart`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_by: Option<String>,
    /// Segment filters.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub segment_filters: Vec<SegmentDetailQueryFilter>,
    /// Paging.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paging: Option<PagingSpec>,
}

/// `SegmentDetailQueryFilter`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SegmentDetailQueryFilter {
    /// `and` or `or`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Predicates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub predicates: Vec<SegmentDetailQueryPredicate>,
}

/// `SegmentDetailQueryPredicate` (dimension predicates).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SegmentDetailQueryPredicate {
    /// `dimension`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// e.g. `userId`, `purpose`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimension: Option<String>,
    /// `matches` (default), `exists`, `notExists`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operator: Option<String>,
    /// Right-hand side.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// `PagingSpec`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PagingSpec {
    /// Results per page (at most 100).
    pub page_size: u32,
    /// 1-based page.
    pub page_number: u32,
}

/// `AnalyticsConversationQueryResponse` (the fields we read).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ConversationQueryResponse {
    /// This page's conversations.
    #[serde(default)]
    pub conversations: Vec<AnalyticsConversation>,
    /// All matches.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_hits: Option<u64>,
}

/// `AnalyticsConversationWithoutAttributesMultiGetResponse`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ConversationMultiGet {
    /// The conversations found (absent ids are simply missing).
    #[serde(default)]
    pub conversations: Vec<AnalyticsConversation>,
}

/// `AnalyticsConversationWithoutAttributes` (the fields we read).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsConversation {
    /// Conversation id.
    pub conversation_id: String,
    /// Start, ISO 8601.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_start: Option<String>,
    /// End, ISO 8601.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_end: Option<String>,
    /// Participants.
    #[serde(default)]
    pub participants: Vec<AnalyticsParticipant>,
}

impl AnalyticsConversation {
    /// True when `user_id` took part as an `agent`.
    pub fn has_agent(&self, user_id: &str) -> bool {
        self.participants
            .iter()
            .any(|p| p.purpose.as_deref() == Some("agent") && p.user_id.as_deref() == Some(user_id))
    }
}

/// `AnalyticsParticipantWithoutAttributes` (the fields we read).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnalyticsParticipant {
    /// Participant id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub participant_id: Option<String>,
    /// `agent`, `customer`, `acd`, `ivr`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purpose: Option<String>,
    /// Genesys user id, for users.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
}

/// `EvaluationForm` / `EvaluationFormResponse`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvaluationForm {
    /// Version id (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name.
    pub name: String,
    /// Last change (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub modified_date: Option<String>,
    /// Published (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published: Option<bool>,
    /// Stable across versions (read-only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_id: Option<String>,
    /// Groups.
    #[serde(default)]
    pub question_groups: Vec<QuestionGroup>,
    /// Response only: strip before re-sending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight_mode: Option<String>,
    /// Self link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_uri: Option<String>,
}

/// `EvaluationQuestionGroup`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuestionGroup {
    /// Id (per version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Stable id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_id: Option<String>,
    /// Name.
    pub name: String,
    /// Always `questionGroup`.
    #[serde(rename = "type", default = "question_group_type")]
    pub kind: String,
    /// Default answers to the highest option.
    #[serde(default)]
    pub default_answers_to_highest: bool,
    /// Default answers to N/A.
    #[serde(default, rename = "defaultAnswersToNA")]
    pub default_answers_to_na: bool,
    /// The group may be marked N/A.
    #[serde(default)]
    pub na_enabled: bool,
    /// Weight.
    #[serde(default)]
    pub weight: f64,
    /// Weight set by hand.
    #[serde(default)]
    pub manual_weight: bool,
    /// Questions.
    #[serde(default)]
    pub questions: Vec<Question>,
}

fn question_group_type() -> String {
    "questionGroup".to_owned()
}

/// `EvaluationQuestion`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Question {
    /// Id (per version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Stable id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_id: Option<String>,
    /// Text.
    pub text: String,
    /// Help text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help_text: Option<String>,
    /// `multipleChoiceQuestion`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// May be answered N/A.
    #[serde(default)]
    pub na_enabled: bool,
    /// A comment is required.
    #[serde(default)]
    pub comments_required: bool,
    /// Fatal: any answer but the highest fails the evaluation.
    #[serde(default)]
    pub is_kill: bool,
    /// Critical.
    #[serde(default)]
    pub is_critical: bool,
    /// Options.
    #[serde(default)]
    pub answer_options: Vec<AnswerOption>,
}

/// `AnswerOption`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AnswerOption {
    /// Id (per version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Stable id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_id: Option<String>,
    /// Text.
    pub text: String,
    /// Points (int32 only).
    pub value: i32,
}

/// `PublishForm`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PublishForm {
    /// The draft id.
    pub id: String,
    /// Always true.
    pub published: bool,
}

/// A bare `{id}` reference (`EvaluationCreateUser`, `EvaluationCreateEvalForm`, …).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityRef {
    /// Id.
    pub id: String,
    /// Name (responses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Context id (form refs in responses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_id: Option<String>,
    /// Self link (responses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_uri: Option<String>,
}

impl EntityRef {
    /// A reference carrying only the id, as requests want.
    pub fn id(id: impl Into<String>) -> EntityRef {
        EntityRef {
            id: id.into(),
            ..EntityRef::default()
        }
    }
}

/// `EvaluationCreateBody`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EvaluationCreateBody {
    /// Published form version.
    pub evaluation_form: EntityRef,
    /// Evaluator.
    pub evaluator: EntityRef,
    /// Agent.
    pub agent: EntityRef,
    /// Answers.
    pub answers: ScoringSet,
    /// `PENDING | INPROGRESS | FINISHED | INREVIEW | RETRACTED`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Release date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_date: Option<String>,
    /// Never release (not together with `releaseDate`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub never_release: Option<bool>,
    /// Mark as read by the agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_has_read: Option<bool>,
}

/// `EvaluationScoringSet`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScoringSet {
    /// Computed total, percent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_score: Option<f64>,
    /// Computed critical total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_critical_score: Option<f64>,
    /// Computed non-critical total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_non_critical_score: Option<f64>,
    /// Computed raw maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_total_raw_score: Option<f64>,
    /// Computed raw critical maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_total_raw_critical_score: Option<f64>,
    /// Computed: a fatal question failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub any_failed_kill_questions: Option<bool>,
    /// Visible comments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<String>,
    /// Private comments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_comments: Option<String>,
    /// Agent's comments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_comments: Option<String>,
    /// Per group.
    #[serde(default)]
    pub question_group_scores: Vec<GroupScore>,
}

/// `EvaluationQuestionGroupScore`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupScore {
    /// Group id (published version).
    pub question_group_id: String,
    /// Marked N/A by the evaluator.
    #[serde(default, rename = "markedNA")]
    pub marked_na: bool,
    /// Computed: marked N/A by the system.
    #[serde(
        default,
        rename = "systemMarkedNA",
        skip_serializing_if = "Option::is_none"
    )]
    pub system_marked_na: Option<bool>,
    /// Computed weighted score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_score: Option<f64>,
    /// Computed weighted maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_total_score: Option<f64>,
    /// Computed unweighted score.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_score_unweighted: Option<f64>,
    /// Computed unweighted maximum.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_total_score_unweighted: Option<f64>,
    /// Per question.
    #[serde(default)]
    pub question_scores: Vec<QuestionScore>,
}

/// `EvaluationQuestionScore`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuestionScore {
    /// Question id (published version).
    pub question_id: String,
    /// Chosen option id (published version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answer_id: Option<String>,
    /// Computed: the option's value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score: Option<i32>,
    /// Marked N/A.
    #[serde(default, rename = "markedNA")]
    pub marked_na: bool,
    /// Computed: marked N/A by the system.
    #[serde(
        default,
        rename = "systemMarkedNA",
        skip_serializing_if = "Option::is_none"
    )]
    pub system_marked_na: Option<bool>,
    /// Computed: a fatal question failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_kill_question: Option<bool>,
    /// Comments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comments: Option<String>,
}

/// `Evaluation` / `EvaluationResponse` (the fields we read).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Evaluation {
    /// Evaluation id.
    pub id: String,
    /// Conversation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<EntityRef>,
    /// Form version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluation_form: Option<EntityRef>,
    /// Evaluator.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evaluator: Option<EntityRef>,
    /// Agent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<EntityRef>,
    /// Status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// Answers with computed scores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub answers: Option<ScoringSet>,
    /// Agent has read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_has_read: Option<bool>,
    /// Release date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_date: Option<String>,
    /// Never release.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub never_release: Option<bool>,
    /// Migration time, not the original date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_date: Option<String>,
    /// Migration time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assigned_date: Option<String>,
    /// Migration time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_date: Option<String>,
    /// Migration time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub submitted_date: Option<String>,
    /// The interaction's date.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation_date: Option<String>,
    /// Self link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_uri: Option<String>,
}

/// An Employee Performance external metric definition (reference/genesys-api.md §2.4).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalMetricDefinition {
    /// Id (response only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Name.
    pub name: String,
    /// `Percent`, `Number`, `Seconds` or `Currency`.
    pub unit: String,
    /// Decimal places, 0–5.
    pub precision: i32,
    /// `HigherIsBetter`, `LowerIsBetter` or `TargetArea`.
    pub default_objective_type: String,
    /// Enabled.
    pub enabled: bool,
}

/// One external metric data point: one per user, metric and day.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalMetricDataItem {
    /// Genesys user id (or `userEmail`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_id: Option<String>,
    /// Genesys user e-mail (or `userId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_email: Option<String>,
    /// Definition id.
    pub metric_id: String,
    /// `yyyy-MM-dd`.
    pub date_occurred: String,
    /// Value; `null` deletes the point.
    pub value: Option<f64>,
    /// Data points behind the value.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<i64>,
    /// `Total` (overwrites) or `Cumulative` (adds).
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
}

/// `{"items": [...]}`, at most 100.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ExternalMetricDataWriteRequest {
    /// Items.
    pub items: Vec<ExternalMetricDataItem>,
}

/// An item Genesys did not process, with why.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExternalMetricDataUnprocessed {
    /// The item as sent.
    #[serde(flatten)]
    pub item: ExternalMetricDataItem,
    /// Error code.
    #[serde(default)]
    pub code: Option<String>,
    /// Message.
    #[serde(default)]
    pub message: Option<String>,
}

/// The response of a data write: a 200 can hide per-item failures.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalMetricDataWriteResponse {
    /// Written.
    #[serde(default)]
    pub processed_entities: Vec<ExternalMetricDataItem>,
    /// Not written, each with its code and message.
    #[serde(default)]
    pub unprocessed_entities: Vec<ExternalMetricDataUnprocessed>,
}

mod aggregates;
mod audit;
mod gamification;

pub use aggregates::*;
pub use audit::*;
pub use gamification::*;
