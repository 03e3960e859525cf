//! `[genesys]`: the org, its limits, and the switches for what Genesys does not document.

use serde::{Deserialize, Serialize};

/// `[genesys]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GenesysConfig {
    /// Region, e.g. `us-east-1`; or set `api_url` (and `login_url`).
    pub region: Option<String>,
    /// API base URL (overrides `region`).
    pub api_url: Option<String>,
    /// Login base URL (default: derived from `api_url`).
    pub login_url: Option<String>,
    /// Client-side request limit (Genesys: 300 per minute per token).
    pub requests_per_minute: u32,
    /// Evaluations per agent per rolling 24 h (Genesys: 50; up to 200 on request; unverified #7).
    pub per_agent_daily_cap: u32,
    /// Longest `Retry-After` waited in-line; a longer one parks the agent (unverified #7).
    pub park_threshold_s: u64,
    /// Create requests in flight at once.
    pub concurrency: usize,
    /// Per-request timeout.
    pub timeout_s: u64,
    /// Attempts per request on throttling and server errors (reads).
    pub max_attempts: u32,
    /// Send `Idempotency-Key` on creates (unverified #12).
    pub use_idempotency_key: bool,
    /// A conversation that already holds an evaluation not made by this migration (unverified #2):
    /// `create` (send anyway; a Genesys `quality.evaluation.already.exists` is recorded as rejected),
    /// `skip` (query first, record as rejected without sending), `fail` (query first, stop the load).
    pub on_existing_evaluation: String,
    /// An `unknown` create (its answer was lost) is declared absent, and sent again, only once its
    /// attempt is this old, seconds: the evaluation query may show a new evaluation late (no source
    /// says how late), and a request may reach Genesys up to `timeout_s` after it left. Unset: twice
    /// the measured `query_lag_s` after `timeout_s`, when `probe` measured it, else 300.
    pub reconcile_after_s: Option<u64>,
    /// How late `evaluations/query` showed a new evaluation on this org, seconds, as `probe`
    /// measured it (`probe --write-config` sets it).
    pub query_lag_s: Option<f64>,
    /// After the org answered an agent with its cap, when no send of ours in the window explains it
    /// (live QA counts too, and we cannot see when those were made), try that agent again after
    /// this many seconds (one request, refused again if it is still full).
    pub cap_recheck_s: u64,
    /// Evaluations per page when reading our evaluations back (`verify`, adoption, reconcile): no
    /// documented maximum; a `response.entity.too.large` halves it.
    pub query_page_size: u32,
}

/// The default `[genesys] reconcile_after_s`: five minutes. A lost answer costs a five-minute wait;
/// declaring a create absent while the query has not caught up costs a duplicate evaluation.
pub const DEFAULT_RECONCILE_AFTER_S: u64 = 300;

impl GenesysConfig {
    /// How old an `unknown` attempt must be before a lookup that does not find it counts as absent:
    /// `reconcile_after_s` when set, else `timeout_s` + 2 × the measured `query_lag_s` (at least
    /// `timeout_s` + 5), else [`DEFAULT_RECONCILE_AFTER_S`].
    pub fn reconcile_after(&self) -> std::time::Duration {
        let s = match (self.reconcile_after_s, self.query_lag_s) {
            (Some(s), _) => s as f64,
            (None, Some(lag)) => self.timeout_s as f64 + (2.0 * lag.max(0.0)).max(5.0),
            (None, None) => DEFAULT_RECONCILE_AFTER_S as f64,
        };
        std::time::Duration::from_secs_f64(s)
    }
}

impl Default for GenesysConfig {
    fn default() -> Self {
        GenesysConfig {
            region: None,
            api_url: None,
            login_url: None,
            requests_per_minute: 300,
            per_agent_daily_cap: 50,
            park_threshold_s: 180,
            concurrency: 4,
            timeout_s: 30,
            max_attempts: 5,
            use_idempotency_key: true,
            on_existing_evaluation: "create".into(),
            reconcile_after_s: None,
            query_lag_s: None,
            cap_recheck_s: 3600,
            query_page_size: 100,
        }
    }
}
