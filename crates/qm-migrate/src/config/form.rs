//! `[form]`: the Genesys form the evaluations are created on, and Genesys' comment limits.

use serde::{Deserialize, Serialize};

/// `[form]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FormConfig {
    /// `container` (one Legacy Migration Form carrying the Calabrio total and sections) or `mirror`
    /// (each Calabrio form rebuilt question by question, from the definitions the API or tables
    /// source carries; a record the mirror cannot score as Calabrio did uses the container form).
    pub mode: String,
    /// Name of the Legacy Migration Form in Genesys.
    pub name: String,
    /// Granularity of the encoded 0–100 score (1 ⇒ 101 options; 0.5 ⇒ 201).
    pub score_step: f64,
    /// Calabrio sections that get their own informational question group (weight 0).
    pub sections: Vec<String>,
    /// Status of created evaluations (`FINISHED`; unverified #3: single call).
    pub status: String,
    /// `immediate` (release date = first send), `never` (neverRelease), `omit` (no release date,
    /// Genesys' default) — unverified #4.
    pub release_policy: String,
    /// Longest overall (and agent) comment Genesys takes, in characters (help pages: 4000 for
    /// evaluations created since 2024-02-19). A longer Calabrio comment is shortened to fit, with a
    /// note saying where the full text is; never quarantined.
    pub comment_limit: usize,
    /// Longest private comment and answer comment Genesys takes (help pages: 2000).
    pub answer_comment_limit: usize,
    /// No longer used (comments are shortened to the limits above, never quarantined); accepted so
    /// that older configuration files still load, with a warning.
    #[serde(default, skip_serializing)]
    pub max_comment_chars: Option<usize>,
}

impl Default for FormConfig {
    fn default() -> Self {
        FormConfig {
            mode: "container".into(),
            name: "Legacy Migration Form (Calabrio)".into(),
            score_step: 1.0,
            sections: Vec::new(),
            status: "FINISHED".into(),
            release_policy: "immediate".into(),
            comment_limit: 4000,
            answer_comment_limit: 2000,
            max_comment_chars: None,
        }
    }
}
