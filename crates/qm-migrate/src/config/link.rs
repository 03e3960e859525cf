//! `[link]`: how an evaluation finds its Genesys conversation.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[link]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LinkConfig {
    /// Strategies in order: `field`, `mapping`, `match` (Genesys analytics: a conversation of the
    /// agent that started within `match_tolerance_s` of the contact start).
    pub strategies: Vec<String>,
    /// `match`: largest accepted distance between the Calabrio contact start and the conversation
    /// start, seconds.
    pub match_tolerance_s: u64,
    /// CSV from the recording migration: `contact_id,conversation_id` (header aliases accepted).
    pub mapping_file: Option<PathBuf>,
    /// Which export field carries the Genesys conversation id for `field`: `conversation_id`
    /// (explicit column) and/or `assoc_call_id` (unverified #17).
    pub conversation_id_fields: Vec<String>,
    /// `match`: the first day the org can hold a conversation (`YYYY-MM-DD`); unset, `plan` finds
    /// the org's first conversation with one analytics query. Nothing before it is queried.
    pub match_from: Option<String>,
    /// `match`: how far back Genesys' analytics can search conversations, days (help pages: 5
    /// years; older conversations are not searchable). Nothing older is queried.
    pub match_max_age_days: u64,
    /// `match`: at most this many analytics requests; the records beyond it stay in the history
    /// with that reason. Unset: no limit.
    pub match_budget: Option<u64>,
}

impl Default for LinkConfig {
    fn default() -> Self {
        LinkConfig {
            strategies: vec!["field".into()],
            match_tolerance_s: 120,
            mapping_file: None,
            conversation_id_fields: vec!["conversation_id".into(), "assoc_call_id".into()],
            match_from: None,
            match_max_age_days: 5 * 365 + 1,
            match_budget: None,
        }
    }
}
