//! How an emulated org behaves where Genesys leaves room: limits, switches for the unverified
//! behaviours, and the faults a test or a rehearsal turns on.

use serde::{Deserialize, Serialize};

/// Behaviour knobs. Defaults are Genesys' documented values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// Requests per minute per OAuth client (Genesys: 300 per client-credentials token).
    pub requests_per_minute: u32,
    /// Evaluations per agent per rolling 24 h (Genesys: 50, up to 200 on request).
    pub per_agent_daily_cap: u32,
    /// Token lifetime, seconds (Genesys default: 86400).
    pub token_lifetime_s: u64,
    /// Accept inactive or deleted users as agent or evaluator (unverified #5; default: reject).
    pub accept_inactive_users: bool,
    /// At most one evaluation per conversation: a second create answers 400
    /// `quality.evaluation.already.exists` (unverified #2; default: not enforced).
    pub one_evaluation_per_conversation: bool,
    /// A `releaseDate` more than a minute in the past answers 400 `invalid.date` (unverified #4;
    /// default: accepted).
    pub reject_past_release_date: bool,
    /// A request field the official model does not define answers 400 `bad.request` (default). Off,
    /// such fields are only counted and logged, as Genesys silently ignores many.
    pub reject_unknown_fields: bool,
    /// Fault: latency added to every API request, milliseconds of the emulator's clock.
    pub latency_ms: u64,
    /// Fault: up to this much more latency, uniformly at random.
    pub latency_jitter_ms: u64,
    /// Fault: share of API requests answered 503 before doing anything (0.05 = 5 %).
    pub error_rate: f64,
    /// Fault: share of evaluation creates whose connection is dropped *after* the evaluation is
    /// stored (the client cannot know it was created).
    pub drop_after_commit_rate: f64,
    /// Fault: share of API requests answered 429 with `storm_retry_after_s` (a 429 storm).
    pub storm_rate: f64,
    /// `Retry-After` of storm 429s, seconds.
    pub storm_retry_after_s: u64,
    /// Seed of the fault dice (the same seed rolls the same faults for the same request order).
    pub seed: u64,
    /// The per-agent cap is answered as Genesys' API description lists it: 400
    /// `quality.evaluation.create.limit.exceeded.for.agent` with `limit{key, namespace, value}` and
    /// no `Retry-After` (default). On: the older reading, a 429 whose `Retry-After` is the time until
    /// a slot frees.
    pub cap_as_429: bool,
    /// Live QA: evaluations every user already received in the rolling 24 h before the emulator
    /// started (they count against the cap; the tool cannot see them).
    pub live_evaluations_per_agent: u32,
    /// How long before the start those live evaluations were made, seconds (they leave the window
    /// 24 h after that).
    pub live_evaluations_age_s: u64,
    /// `Idempotency-Key` replays the first answer (default). Off: a key is ignored and a second
    /// create with it makes a second evaluation (the replay is undocumented: unverified #12).
    pub idempotency_replay: bool,
    /// How long a key is replayed, seconds of the emulator's clock; 0: for ever.
    pub idempotency_window_s: u64,
    /// `evaluations/query` shows a new evaluation only this long after it was created,
    /// milliseconds of the emulator's clock (no source says how fresh the query is).
    pub query_lag_ms: u64,
    /// Fault: share of evaluation creates stored and answered 200 with a body that does not decode
    /// (`answers` of the wrong type; the `id` stays readable).
    pub undecodable_create_rate: f64,
    /// With `undecodable_create_rate`: the body is cut short, so not even the `id` can be read.
    pub undecodable_without_id: bool,
    /// Fault: share of creates answered 409 `quality.evaluation.already.in.progress` (an automated
    /// evaluation is running on the conversation), nothing stored.
    pub in_progress_rate: f64,
    /// Fault: the first this many publishes are committed and their connection dropped.
    pub drop_publishes: u32,
    /// Fault: for this many seconds of the emulator's clock after it starts, every API request is
    /// answered 429 `too.many.requests` without `Retry-After`.
    pub throttle_without_retry_after_s: u64,
    /// An org that reads weights otherwise: a group of weight 0 counts as weight 1 (unverified #15).
    pub zero_weight_counts: bool,
    /// An org where a failed fatal question does not zero the total (unverified #10).
    pub fatal_keeps_total: bool,
    /// The largest `pageSize` `evaluations/query` answers; above it, 400
    /// `response.entity.too.large` (Genesys documents no maximum).
    pub max_query_page_size: usize,
    /// A create with `status: FINISHED` and full answers is stored submitted (default). Off: an
    /// org that stores it `INPROGRESS`, unsubmitted, whatever the request said (unverified #3).
    pub finished_on_create: bool,
    /// Longest overall and agent comments of an evaluation, as Genesys' help pages state for
    /// evaluations created since 2024-02-19 (4000); counted as a Java string's length (UTF-16 code
    /// units). A longer one answers 400 `invalid.value` on create and update; 0: no limit.
    pub comment_limit: usize,
    /// Longest private comments and comments of one answer (help pages: 2000); 0: no limit.
    pub answer_comment_limit: usize,
    /// An audit query stays `Queued`, then `Running`, this long after it was made, milliseconds of
    /// the emulator's clock, before it is `Succeeded` (the query is asynchronous).
    pub audit_query_delay_ms: u64,
    /// Genesys refuses to re-score or delete an evaluation this many days after its creation (a
    /// Genesys answer on its developer forum: 90), on the emulator's clock: `PUT` answers 400
    /// `quality.evaluation.too.old.to.score`, `DELETE` a 400. 0: no window.
    pub edit_window_days: u32,
    /// Analytics lag: the evaluation aggregates count a change only this long after it (an
    /// evaluation created or re-scored meanwhile shows as it was), milliseconds of the emulator's
    /// clock (Genesys documents no freshness).
    pub analytics_lag_ms: u64,
    /// The longest interval an evaluation aggregates query may span, days (undocumented: 0, no limit,
    /// by default; set, the least kind reading: longer ones answer 400).
    pub aggregates_max_interval_days: i64,
    /// The longest interval a conversation detail query may span, days; 0: no limit (as the
    /// emulator's default: only "touches days" is documented).
    pub max_detail_query_days: i64,
    /// The org's performance profile gamifies the evaluation score (points awarded on release).
    pub gamified_evaluation_score: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            requests_per_minute: 300,
            per_agent_daily_cap: 50,
            token_lifetime_s: 86_400,
            accept_inactive_users: false,
            one_evaluation_per_conversation: false,
            reject_past_release_date: false,
            reject_unknown_fields: true,
            latency_ms: 0,
            latency_jitter_ms: 0,
            error_rate: 0.0,
            drop_after_commit_rate: 0.0,
            storm_rate: 0.0,
            storm_retry_after_s: 1,
            seed: 1,
            cap_as_429: false,
            live_evaluations_per_agent: 0,
            live_evaluations_age_s: 0,
            idempotency_replay: true,
            idempotency_window_s: 0,
            query_lag_ms: 0,
            undecodable_create_rate: 0.0,
            undecodable_without_id: false,
            in_progress_rate: 0.0,
            drop_publishes: 0,
            throttle_without_retry_after_s: 0,
            zero_weight_counts: false,
            fatal_keeps_total: false,
            max_query_page_size: 200,
            finished_on_create: true,
            comment_limit: 4000,
            answer_comment_limit: 2000,
            edit_window_days: 90,
            audit_query_delay_ms: 300,
            analytics_lag_ms: 0,
            aggregates_max_interval_days: 0,
            max_detail_query_days: 0,
            gamified_evaluation_score: false,
        }
    }
}
