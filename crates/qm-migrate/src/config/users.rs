//! `[users]`: how Calabrio people are found in the Genesys directory.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// `[users]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct UsersConfig {
    /// Keys tried in order, first unique hit wins: `email`, `username`, `windows_login`
    /// (`DOMAIN\user`, case-insensitive, domain optional), `employee_id`, `mapping`.
    pub match_keys: Vec<String>,
    /// CSV for the `mapping` key: a Calabrio person id or any identifier → a Genesys user id or
    /// e-mail (columns `calabrio` and `genesys`; header aliases accepted).
    pub mapping_file: Option<PathBuf>,
    /// Agents whose Genesys account is inactive or deleted: `history` (default) or `allow`
    /// (unverified #5).
    pub inactive_policy: String,
    /// Evaluator used when the original is missing, unmatched or not active (e-mail or username).
    pub default_evaluator: Option<String>,
    /// `original` (default) or `service_user` (always the default evaluator; unverified #6).
    pub evaluator_mode: String,
}

impl Default for UsersConfig {
    fn default() -> Self {
        UsersConfig {
            match_keys: vec!["email".into(), "username".into()],
            mapping_file: None,
            inactive_policy: "history".into(),
            default_evaluator: None,
            evaluator_mode: "original".into(),
        }
    }
}
