//! `qm-migrate.toml`: the pipeline (sources, mappings, target org, limits) lives in the file; runtime
//! behaviour (`--dry-run`, `--max`) lives in flags; credentials live only in the environment (or in
//! files named by `*_FILE` variables) and are held as `SecretString`, so no `Debug` or log line can
//! print them. Unknown keys are errors naming the key. Every switch for a behaviour the public Genesys
//! documentation leaves open (reference/genesys-api.md §12) is here, with a safe default.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use qm_model::ScoringMethod;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

/// The whole file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Where the Calabrio records come from.
    #[serde(default)]
    pub source: SourceConfig,
    /// Score normalisation.
    #[serde(default)]
    pub scoring: ScoringConfig,
    /// The Legacy Migration Form.
    #[serde(default)]
    pub form: FormConfig,
    /// People.
    #[serde(default)]
    pub users: UsersConfig,
    /// Conversation links.
    #[serde(default)]
    pub link: LinkConfig,
    /// The Genesys org.
    #[serde(default)]
    pub genesys: GenesysConfig,
    /// The history channel.
    #[serde(default)]
    pub history: HistoryConfig,
    /// The scorecard channel (External Metrics).
    #[serde(default)]
    pub scorecard: ScorecardConfig,
    /// The ledger.
    #[serde(default)]
    pub ledger: LedgerConfig,
    /// What a run does with source changes after an evaluation was created.
    #[serde(default)]
    pub sync: SyncConfig,
    /// What `verify` reads back.
    #[serde(default)]
    pub verify: VerifyConfig,
    /// SHA-256 of the file this configuration was read from (run metadata in the report).
    #[serde(skip)]
    pub file_sha256: Option<String>,
}

/// `[sync]`: every run is a sync (the migration lasts weeks while Calabrio is in use).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SyncConfig {
    /// A record whose content changed after its evaluation was created in Genesys: `update` (the
    /// Genesys evaluation takes the new answers and comments) or `flag` (listed, left as it is).
    pub on_change: String,
    /// A record gone from the source (or no longer an evaluation) whose evaluation exists in
    /// Genesys: `flag` (listed) or `delete` (that evaluation is deleted).
    pub on_withdraw: String,
    /// Genesys refuses to re-score or delete an evaluation this many days after its creation (a
    /// Genesys answer on its developer forum: 90). A change or withdrawal past it is listed, not
    /// sent; `rollback` cannot delete such evaluations. 0: no window is assumed (Genesys' refusal
    /// still tells).
    pub edit_window_days: u32,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            on_change: "update".into(),
            on_withdraw: "flag".into(),
            edit_window_days: 90,
        }
    }
}

/// `[source]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SourceConfig {
    /// `csv` (wide, one row per evaluation), `csv-long` (one row per question), `json` (JSON,
    /// JSON Lines), `tables` (a directory of normalised tables) or `calabrio-api` (the REST API).
    pub kind: String,
    /// The export file (the directory, for `tables`).
    pub path: PathBuf,
    /// `calabrio-api`: base URL ending in `/api/rest`. The API user and password come from
    /// `CALABRIO_USER` and `CALABRIO_PASSWORD` (or `CALABRIO_PASSWORD_FILE`).
    pub url: Option<String>,
    /// `calabrio-api`: PEM bundle of extra CAs to trust (on-premises servers). TLS verification
    /// cannot be turned off.
    pub ca_bundle: Option<PathBuf>,
    /// `calabrio-api`: first contact day to extract (`YYYY-MM-DD`, UTC).
    pub from: Option<String>,
    /// `calabrio-api`: last contact day (inclusive; default today).
    pub to: Option<String>,
    /// `calabrio-api`: contacts per page.
    pub page_size: u64,
    /// IANA zone of naive timestamps; none refuses them.
    pub time_zone: Option<String>,
    /// `utf-8` (default), `windows-1252`, `latin-1` or `auto` (UTF-8 if valid, else Windows-1252).
    pub encoding: String,
    /// Source system name, part of every idempotency key (keep it stable for the whole migration).
    pub system: String,
    /// Further export files of the same kind, read after `path` as one source (an export taken in
    /// parts; the same evaluation in two parts is one record and a superseded copy).
    pub more_paths: Vec<PathBuf>,
    /// `calabrio-api`: added to every contact search, so only contacts that hold evaluations are
    /// read (practitioners' `evalState=scored`; empty: every recorded contact).
    pub contact_filter: String,
}

impl Default for SourceConfig {
    fn default() -> Self {
        SourceConfig {
            kind: "csv".into(),
            path: PathBuf::from("calabrio-export.csv"),
            url: None,
            ca_bundle: None,
            from: None,
            to: None,
            page_size: 500,
            time_zone: None,
            encoding: "utf-8".into(),
            system: "calabrio_one".into(),
            more_paths: Vec::new(),
            contact_filter: "evalState=scored".into(),
        }
    }
}

/// `[scoring]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScoringConfig {
    /// Method for forms not listed in `forms`.
    pub default: MethodConfig,
    /// Per Calabrio form (by name, else id).
    pub forms: BTreeMap<String, MethodConfig>,
    /// Largest accepted difference between Genesys' predicted total and the source, points.
    pub tolerance: f64,
}

impl Default for ScoringConfig {
    fn default() -> Self {
        ScoringConfig {
            default: MethodConfig::default(),
            forms: BTreeMap::new(),
            tolerance: 0.5,
        }
    }
}

/// One normalisation method.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MethodConfig {
    /// `percent`, `ratio`, `linear` or `points` (earned ÷ the record's applicable points).
    pub method: String,
    /// Top of the scale (`ratio`, `linear`).
    #[serde(default)]
    pub max: Option<f64>,
    /// Bottom of the scale (`linear`).
    #[serde(default)]
    pub min: Option<f64>,
}

impl Default for MethodConfig {
    fn default() -> Self {
        MethodConfig {
            method: "percent".into(),
            max: None,
            min: None,
        }
    }
}

impl MethodConfig {
    /// The method.
    ///
    /// # Errors
    /// When the method is unknown or lacks its bounds.
    pub fn method(&self) -> Result<ScoringMethod> {
        Ok(match self.method.as_str() {
            "percent" => ScoringMethod::Percent,
            "ratio" => ScoringMethod::Ratio {
                max: self.max.context("method 'ratio' needs 'max'")?,
            },
            "linear" => ScoringMethod::Linear {
                min: self.min.context("method 'linear' needs 'min'")?,
                max: self.max.context("method 'linear' needs 'max'")?,
            },
            "points" => ScoringMethod::Points,
            other => bail!("unknown scoring method '{other}' (percent, ratio, linear, points)"),
        })
    }
}

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

/// `[verify]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct VerifyConfig {
    /// Compare the timeline Genesys' evaluation analytics show (by conversation date, per agent and
    /// month) with what the ledger expects.
    pub timeline: bool,
    /// Genesys' analytics may lag behind a fresh load: an agent-month whose newest evaluation was
    /// written less than this long ago is listed as pending, not as a difference (seconds).
    pub analytics_lag_s: u64,
    /// Cross-check Genesys' own audit trail of evaluations with the ledger's record of our writes.
    pub audit: bool,
    /// Longest wait for Genesys to answer the audit queries (seconds); past it `verify` says what it
    /// could not check.
    pub audit_timeout_s: u64,
    /// A write of ours younger than this that the audit trail does not show yet is pending, not a
    /// finding (seconds; Genesys does not publish how soon an action reaches the trail).
    pub audit_lag_s: u64,
    /// The migration's interval is queried in windows of at most this many days (Genesys does not
    /// publish a longest interval).
    pub audit_window_days: u32,
}

impl Default for VerifyConfig {
    fn default() -> Self {
        VerifyConfig {
            timeline: true,
            analytics_lag_s: 3600,
            audit: true,
            audit_timeout_s: 300,
            audit_lag_s: 900,
            audit_window_days: 30,
        }
    }
}

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

/// `[history]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct HistoryConfig {
    /// Directory of the history channel (`agents/*.jsonl` and `site/`).
    pub dir: PathBuf,
    /// Where the history site lists agents without a Genesys account.
    pub legacy_group: String,
    /// The hosted site's `index.html` (https): `provision` registers it in Genesys as a client app
    /// (an embedded web page) so supervisors open the history inside Genesys.
    pub client_app_url: Option<String>,
    /// The client app's name in Genesys.
    pub client_app_name: String,
}

impl Default for HistoryConfig {
    fn default() -> Self {
        HistoryConfig {
            dir: PathBuf::from("history"),
            legacy_group: "Legacy Team".into(),
            client_app_url: None,
            client_app_name: "QM history (Calabrio)".into(),
        }
    }
}

/// `[scorecard]`: one Genesys External Metric point per agent per day, for the recent days Genesys
/// accepts (unverified #19), so scorecards stay current while both systems run side by side.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScorecardConfig {
    /// Off by default (unverified behaviour); `enabled = true` turns it on.
    pub enabled: bool,
    /// The metric definition, created by `provision` if missing (by name).
    pub metric_name: String,
    /// IANA zone in which a day is a day for the scorecard.
    pub time_zone: String,
    /// Oldest accepted `dateOccurred`, days before today.
    pub days_back: i64,
    /// Latest accepted `dateOccurred`, days after today.
    pub days_ahead: i64,
    /// Calabrio sections that get a metric of their own (`<metric_name>: <section>`).
    pub sections: Vec<String>,
}

impl Default for ScorecardConfig {
    fn default() -> Self {
        ScorecardConfig {
            enabled: false,
            metric_name: "Legacy QA score (Calabrio)".into(),
            time_zone: "UTC".into(),
            days_back: 7,
            days_ahead: 30,
            sections: Vec::new(),
        }
    }
}

/// `[ledger]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LedgerConfig {
    /// The SQLite ledger file.
    pub path: PathBuf,
}

impl Default for LedgerConfig {
    fn default() -> Self {
        LedgerConfig {
            path: PathBuf::from("qm-migrate.db"),
        }
    }
}

impl FormConfig {
    /// Genesys' comment limits as configured.
    pub fn comment_limits(&self) -> crate::pipeline::forms::comments::Limits {
        crate::pipeline::forms::comments::Limits {
            comments: self.comment_limit,
            answer: self.answer_comment_limit,
        }
    }
}

impl Config {
    /// Reads and validates `path`; relative paths inside are taken relative to the file's folder.
    ///
    /// # Errors
    /// I/O, TOML (naming the key or line) and validation errors.
    pub fn load(path: &Path) -> Result<Config> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read config file {}", path.display()))?;
        let mut cfg: Config = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim_end()))?;
        let base = path.parent().unwrap_or(Path::new("."));
        cfg.rebase(base);
        cfg.file_sha256 = Some(
            <sha2::Sha256 as sha2::Digest>::digest(text.as_bytes())
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        );
        cfg.validate()
            .with_context(|| format!("invalid config {}", path.display()))?;
        if cfg.form.max_comment_chars.is_some() {
            tracing::warn!(
                "[form] max_comment_chars is no longer used: comments longer than Genesys takes are shortened to [form] comment_limit and answer_comment_limit, with a note naming where the full text is; no record is quarantined for a comment's length."
            );
        }
        Ok(cfg)
    }

    /// Makes relative paths relative to `base`.
    pub fn rebase(&mut self, base: &Path) {
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        fix(&mut self.source.path);
        for p in &mut self.source.more_paths {
            fix(p);
        }
        if let Some(c) = self.source.ca_bundle.as_mut() {
            fix(c);
        }
        fix(&mut self.ledger.path);
        fix(&mut self.history.dir);
        if let Some(m) = self.users.mapping_file.as_mut() {
            fix(m);
        }
        if let Some(m) = self.link.mapping_file.as_mut() {
            fix(m);
        }
    }

    /// Checks values the types cannot.
    ///
    /// # Errors
    /// The first problem, naming the key.
    pub fn validate(&self) -> Result<()> {
        if self.verify.audit_window_days == 0 {
            bail!("[verify] audit_window_days must be at least 1");
        }
        if !["update", "flag"].contains(&self.sync.on_change.as_str()) {
            bail!(
                "[sync] on_change = '{}' (update, flag)",
                self.sync.on_change
            );
        }
        if !["flag", "delete"].contains(&self.sync.on_withdraw.as_str()) {
            bail!(
                "[sync] on_withdraw = '{}' (flag, delete)",
                self.sync.on_withdraw
            );
        }
        if !["csv", "csv-long", "json", "tables", "calabrio-api"]
            .contains(&self.source.kind.as_str())
        {
            bail!(
                "[source] kind = '{}' is not supported (csv, csv-long, json, tables, calabrio-api)",
                self.source.kind
            );
        }
        if self.source.kind == "calabrio-api" {
            let url = self.source.url.as_deref().context(
                "[source] kind = 'calabrio-api' needs url = \"https://<host>/api/rest\"",
            )?;
            if !(url.starts_with("https://")
                || url.starts_with("http://127.0.0.1")
                || url.starts_with("http://localhost"))
            {
                bail!(
                    "[source] url must be https:// (plain http only to 127.0.0.1/localhost, for the emulator)"
                );
            }
            if url.contains('@') {
                bail!(
                    "[source] url must not carry credentials; set CALABRIO_USER and CALABRIO_PASSWORD"
                );
            }
            let from = self.source.from.as_deref().context(
                "[source] kind = 'calabrio-api' needs from = \"YYYY-MM-DD\" (first contact day)",
            )?;
            from.parse::<jiff::civil::Date>()
                .with_context(|| format!("[source] from = '{from}' is not YYYY-MM-DD"))?;
            if let Some(to) = &self.source.to {
                to.parse::<jiff::civil::Date>()
                    .with_context(|| format!("[source] to = '{to}' is not YYYY-MM-DD"))?;
            }
        }
        if calabrio::encoding::SourceEncoding::parse(&self.source.encoding).is_none() {
            bail!(
                "[source] encoding = '{}' (utf-8, windows-1252, latin-1, auto)",
                self.source.encoding
            );
        }
        if let Some(tz) = &self.source.time_zone {
            jiff::tz::TimeZone::get(tz)
                .with_context(|| format!("[source] time_zone = '{tz}' is not an IANA zone"))?;
        }
        self.scoring.default.method().context("[scoring.default]")?;
        for (form, m) in &self.scoring.forms {
            m.method()
                .with_context(|| format!("[scoring.forms.\"{form}\"]"))?;
        }
        if !["container", "mirror"].contains(&self.form.mode.as_str()) {
            bail!("[form] mode = '{}': container or mirror", self.form.mode);
        }
        if self.form.comment_limit < 200 || self.form.answer_comment_limit < 200 {
            bail!(
                "[form] comment_limit ({}) and answer_comment_limit ({}) must be at least 200 characters",
                self.form.comment_limit,
                self.form.answer_comment_limit
            );
        }
        if let Some(from) = &self.link.match_from {
            from.parse::<jiff::civil::Date>()
                .with_context(|| format!("[link] match_from = '{from}' is not YYYY-MM-DD"))?;
        }
        let step = self.form.score_step;
        if !(step > 0.0 && step <= 10.0 && (100.0 / step - (100.0 / step).round()).abs() < 1e-9) {
            bail!("[form] score_step = {step} must divide 100 (e.g. 1, 0.5, 0.25)");
        }
        if 100.0 / step > 1000.0 {
            bail!("[form] score_step = {step} gives more than 1000 options");
        }
        if self.form.sections.len() > 150 {
            bail!("[form] sections: at most 150 (Genesys allows 200 questions per form)");
        }
        if !["FINISHED", "INPROGRESS", "PENDING"].contains(&self.form.status.as_str()) {
            bail!(
                "[form] status = '{}' (FINISHED, INPROGRESS, PENDING)",
                self.form.status
            );
        }
        if !["immediate", "never", "omit"].contains(&self.form.release_policy.as_str()) {
            bail!(
                "[form] release_policy = '{}' (immediate, never, omit)",
                self.form.release_policy
            );
        }
        for k in &self.users.match_keys {
            if ![
                "email",
                "username",
                "windows_login",
                "employee_id",
                "mapping",
            ]
            .contains(&k.as_str())
            {
                bail!(
                    "[users] match_keys: '{k}' (email, username, windows_login, employee_id, mapping)"
                );
            }
        }
        if self.users.match_keys.iter().any(|k| k == "mapping") && self.users.mapping_file.is_none()
        {
            bail!("[users] match key 'mapping' needs mapping_file");
        }
        if let Some(u) = &self.history.client_app_url
            && !u.starts_with("https://")
        {
            bail!("[history] client_app_url must be an https:// URL (Genesys embeds it in its UI)");
        }
        jiff::tz::TimeZone::get(&self.scorecard.time_zone).with_context(|| {
            format!(
                "[scorecard] time_zone = '{}' is not an IANA zone",
                self.scorecard.time_zone
            )
        })?;
        if self.scorecard.days_back < 0 || self.scorecard.days_ahead < 0 {
            bail!("[scorecard] days_back and days_ahead are day counts (0 or more)");
        }
        if !["history", "allow"].contains(&self.users.inactive_policy.as_str()) {
            bail!(
                "[users] inactive_policy = '{}' (history, allow)",
                self.users.inactive_policy
            );
        }
        if !["original", "service_user"].contains(&self.users.evaluator_mode.as_str()) {
            bail!(
                "[users] evaluator_mode = '{}' (original, service_user)",
                self.users.evaluator_mode
            );
        }
        if self.users.evaluator_mode == "service_user" && self.users.default_evaluator.is_none() {
            bail!("[users] evaluator_mode = 'service_user' needs default_evaluator");
        }
        for s in &self.link.strategies {
            if !["field", "mapping", "match"].contains(&s.as_str()) {
                bail!("[link] strategies: '{s}' (field, mapping, match)");
            }
        }
        if self.link.strategies.iter().any(|s| s == "mapping") && self.link.mapping_file.is_none() {
            bail!("[link] strategy 'mapping' needs mapping_file");
        }
        for f in &self.link.conversation_id_fields {
            if !["conversation_id", "assoc_call_id"].contains(&f.as_str()) {
                bail!("[link] conversation_id_fields: '{f}' (conversation_id, assoc_call_id)");
            }
        }
        if !["create", "skip", "fail"].contains(&self.genesys.on_existing_evaluation.as_str()) {
            bail!(
                "[genesys] on_existing_evaluation = '{}' (create, skip, fail)",
                self.genesys.on_existing_evaluation
            );
        }
        if let Some(r) = self.genesys.reconcile_after_s
            && r < self.genesys.timeout_s
        {
            bail!(
                "[genesys] reconcile_after_s = {r} is shorter than timeout_s = {}: a create may reach Genesys until its timeout, so an unknown one could be declared absent and sent twice",
                self.genesys.timeout_s
            );
        }
        if self
            .genesys
            .query_lag_s
            .is_some_and(|l| !(l.is_finite() && l >= 0.0))
        {
            bail!("[genesys] query_lag_s must be a number of seconds (0 or more)");
        }
        if self.genesys.query_page_size == 0 {
            bail!("[genesys] query_page_size must be above 0");
        }
        if self.genesys.cap_recheck_s == 0 {
            bail!("[genesys] cap_recheck_s must be above 0");
        }
        if self.genesys.requests_per_minute == 0 || self.genesys.per_agent_daily_cap == 0 {
            bail!("[genesys] requests_per_minute and per_agent_daily_cap must be above 0");
        }
        if let Some(r) = &self.genesys.region
            && self.genesys.api_url.is_none()
            && genesys::region_api_url(r).is_none()
        {
            bail!("[genesys] region = '{r}' is not a known Genesys Cloud region");
        }
        Ok(())
    }

    /// The normalisation method of a Calabrio form.
    ///
    /// # Errors
    /// Never after [`Config::validate`].
    pub fn method_for(&self, form_key: &str) -> Result<ScoringMethod> {
        self.scoring
            .forms
            .get(form_key)
            .unwrap_or(&self.scoring.default)
            .method()
    }

    /// API and login base URLs.
    ///
    /// # Errors
    /// When neither `region` nor `api_url` is set.
    pub fn endpoints(&self) -> Result<(String, String)> {
        let api = match (&self.genesys.api_url, &self.genesys.region) {
            (Some(url), _) => url.trim_end_matches('/').to_owned(),
            (None, Some(region)) => genesys::region_api_url(region)
                .with_context(|| format!("unknown region '{region}'"))?,
            (None, None) => bail!("[genesys] needs region or api_url"),
        };
        let login = self
            .genesys
            .login_url
            .clone()
            .unwrap_or_else(|| genesys::login_url_for(&api));
        Ok((api, login))
    }
}

/// Genesys OAuth client credentials.
#[derive(Clone)]
pub struct Credentials {
    /// Client id (not secret, but kept out of logs all the same).
    pub client_id: String,
    /// Client secret.
    pub client_secret: SecretString,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials { .. }")
    }
}

/// Reads `NAME` or the file named by `NAME_FILE`.
fn env_secret(name: &str) -> Result<Option<String>> {
    if let Ok(v) = std::env::var(name) {
        return Ok(Some(v.trim().to_owned()));
    }
    let file_var = format!("{name}_FILE");
    if let Ok(path) = std::env::var(&file_var) {
        let v = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read the file named by {file_var}"))?;
        return Ok(Some(v.trim().to_owned()));
    }
    Ok(None)
}

/// The Calabrio API user and password: `CALABRIO_USER` and `CALABRIO_PASSWORD` (or their `_FILE`
/// variants).
///
/// # Errors
/// When either is missing (the message names the variables, never a value).
pub fn calabrio_credentials() -> Result<(String, SecretString)> {
    match (
        env_secret("CALABRIO_USER")?,
        env_secret("CALABRIO_PASSWORD")?,
    ) {
        (Some(u), Some(p)) if !u.is_empty() && !p.is_empty() => Ok((u, SecretString::from(p))),
        _ => bail!(
            "set CALABRIO_USER and CALABRIO_PASSWORD (or CALABRIO_PASSWORD_FILE naming a file that holds it) for [source] kind = 'calabrio-api'"
        ),
    }
}

impl Credentials {
    /// `GENESYS_CLIENT_ID` / `GENESYS_CLIENT_SECRET` (or their `_FILE` variants).
    ///
    /// # Errors
    /// When either is missing (the message names the variables, never a value).
    pub fn from_env() -> Result<Credentials> {
        let id = env_secret("GENESYS_CLIENT_ID")?;
        let secret = env_secret("GENESYS_CLIENT_SECRET")?;
        match (id, secret) {
            (Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => Ok(Credentials {
                client_id: id,
                client_secret: SecretString::from(secret),
            }),
            _ => bail!(
                "Genesys credentials missing: set GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET (or GENESYS_CLIENT_ID_FILE and GENESYS_CLIENT_SECRET_FILE)"
            ),
        }
    }
}

/// The commented file `init` writes.
pub const TEMPLATE: &str = r#"# qm-migrate configuration. Paths are relative to this file.
# Credentials never go here: set GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET in the environment
# (or GENESYS_CLIENT_ID_FILE / GENESYS_CLIENT_SECRET_FILE naming files that hold them).

[source]
kind = "csv"                      # csv (one row per evaluation) | csv-long (one row per question) | json (array, object or JSON Lines) | tables (directory) | calabrio-api
path = "calabrio-export.csv"      # the file, or the tables directory
# For kind = "calabrio-api" (user and password from CALABRIO_USER and CALABRIO_PASSWORD or CALABRIO_PASSWORD_FILE):
# url = "https://uswest2.calabriocloud.com/api/rest"
# from = "2021-01-01"             # first contact day (UTC); to = "YYYY-MM-DD" (default today)
# page_size = 500
# contact_filter = "evalState=scored"   # search only contacts that hold a scored evaluation ("" : every recorded contact)
# ca_bundle = "corp-ca.pem"       # extra CAs for an on-premises server; TLS is always verified
# time_zone = "America/New_York"  # zone of timestamps written without offset; unset refuses them
encoding = "utf-8"                # utf-8 | windows-1252 | latin-1 | auto (UTF-8 if valid, else Windows-1252)
system = "calabrio_one"           # part of every idempotency key: keep it stable for the whole migration

[scoring]
tolerance = 0.5                   # largest |Genesys total - Calabrio total| accepted, in points
default = { method = "percent" }  # percent | ratio (max) | linear (min, max) | points (÷ applicable points)
# [scoring.forms]
# "Sales Call 1-5" = { method = "ratio", max = 5 }

[form]
mode = "container"
name = "Legacy Migration Form (Calabrio)"
score_step = 1.0                  # 1 => options 0..100; 0.5 => 0, 0.5, ..., 100
sections = []                     # Calabrio sections shown as their own (weight 0) question groups
status = "FINISHED"               # unverified #3: FINISHED with full answers in one call
release_policy = "immediate"      # immediate | never | omit (unverified #4)
comment_limit = 4000              # Genesys' limit on overall comments (help pages); longer ones are shortened, the full text kept in the history
answer_comment_limit = 2000       # Genesys' limit on private comments and each answer's comments

[users]
match_keys = ["email", "username"]  # also windows_login (DOMAIN\user), employee_id, mapping (needs mapping_file)
# mapping_file = "people-map.csv"  # calabrio,genesys: a Calabrio person id or any key -> a Genesys user id or e-mail
inactive_policy = "history"       # history | allow (unverified #5: does Genesys accept inactive users?)
# default_evaluator = "migration_admin@example.com"
evaluator_mode = "original"       # original | service_user (unverified #6)

[link]
strategies = ["field"]            # add "mapping" with mapping_file (the recording migration's map) and "match" (analytics)
match_tolerance_s = 120           # "match": conversation start within this many seconds of the contact start
# mapping_file = "recording-map.csv"   # contact_id,conversation_id
conversation_id_fields = ["conversation_id", "assoc_call_id"]   # unverified #17
# match_from = "2025-06-01"       # "match": the org's first day on Genesys; unset, plan finds its first conversation
match_max_age_days = 1826         # "match": Genesys' analytics search conversations at most this old (help pages: 5 years)
# match_budget = 5000             # "match": at most this many analytics requests; the rest stays in the history

[genesys]
region = "us-east-1"              # or api_url = "https://api.mypurecloud.com"
requests_per_minute = 300
per_agent_daily_cap = 50          # 200 when raised by Genesys Care (unverified #7)
park_threshold_s = 180            # a longer Retry-After parks the agent
concurrency = 4                   # creates in flight at once
timeout_s = 30
max_attempts = 5
use_idempotency_key = true        # unverified #12
on_existing_evaluation = "create" # create | skip | fail: a conversation already evaluated by someone else (unverified #2)
# reconcile_after_s = 300         # an unknown create is declared absent (and sent again) only this long after it left (unverified: query lag)
# query_lag_s = 2.0               # measured by `qm-migrate probe`; sets reconcile_after_s when that is unset
cap_recheck_s = 3600              # after a per-agent cap answer we cannot explain, try that agent again this much later
query_page_size = 100             # evaluations per page when reading ours back (verify, adoption); halved on response.entity.too.large

[history]
dir = "history"
legacy_group = "Legacy Team"      # where the history site lists agents without a Genesys account
# client_app_url = "https://intranet.example.com/qm-history/index.html"   # provision registers it as a Genesys client app
client_app_name = "QM history (Calabrio)"

[scorecard]
enabled = false                   # one line turns it on: External Metrics accept only recent days (unverified #19)
metric_name = "Legacy QA score (Calabrio)"
time_zone = "UTC"                 # the zone in which a day is a day for the scorecard
days_back = 7                     # accepted dateOccurred window, relative to today
days_ahead = 30
sections = []                     # Calabrio sections with a metric of their own ("<metric_name>: <section>")

[sync]
on_change = "update"              # a record changed in Calabrio after its evaluation was created: update | flag
on_withdraw = "flag"              # a record gone from Calabrio whose evaluation exists: flag | delete
edit_window_days = 90             # Genesys refuses re-scores and deletions this many days after creation: past it, changes are listed, not sent

[verify]
timeline = true                   # compare what Genesys' evaluation analytics show per agent and month (by conversation date)
analytics_lag_s = 3600            # a difference younger than this is pending (analytics may lag a fresh load)
audit = true                      # cross-check Genesys' audit trail of evaluations with the ledger's writes
audit_timeout_s = 300             # longest wait for the asynchronous audit queries
audit_lag_s = 900                 # a write of ours younger than this, not yet in the trail, is pending
audit_window_days = 30            # the migration's interval is queried in windows this long

[ledger]
path = "qm-migrate.db"
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_parses_and_validates() {
        let cfg: Config = toml::from_str(TEMPLATE).unwrap();
        cfg.validate().unwrap();
        assert_eq!(cfg.genesys.per_agent_daily_cap, 50);
        assert_eq!(
            cfg.endpoints().unwrap(),
            (
                "https://api.mypurecloud.com".to_owned(),
                "https://login.mypurecloud.com".to_owned()
            )
        );
    }

    #[test]
    fn unknown_keys_are_errors_naming_the_key() {
        let err = toml::from_str::<Config>("[genesys]\nrequests_per_minut = 3\n").unwrap_err();
        assert!(err.to_string().contains("requests_per_minut"), "{err}");
    }

    #[test]
    fn bad_values_are_named() {
        let mut cfg = Config::default();
        cfg.form.score_step = 3.0;
        assert!(
            cfg.validate()
                .unwrap_err()
                .to_string()
                .contains("score_step")
        );
        let mut cfg = Config::default();
        cfg.scoring.forms.insert(
            "F".into(),
            MethodConfig {
                method: "ratio".into(),
                max: None,
                min: None,
            },
        );
        let err = format!("{:#}", cfg.validate().unwrap_err());
        assert!(err.contains("needs 'max'") && err.contains("F"), "{err}");
    }

    #[test]
    fn credentials_debug_hides_everything() {
        let c = Credentials {
            client_id: "id-123".into(),
            client_secret: SecretString::from("s3cr3t-value".to_owned()),
        };
        let shown = format!("{c:?}");
        assert!(!shown.contains("s3cr3t") && !shown.contains("id-123"));
    }
}
