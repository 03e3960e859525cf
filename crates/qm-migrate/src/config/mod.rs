//! `qm-migrate.toml`: the pipeline (sources, mappings, target org, limits) lives in the file; runtime
//! behaviour (`--dry-run`, `--max`) lives in flags; credentials live only in the environment (or in
//! files named by `*_FILE` variables) and are held as `SecretString`, so no `Debug` or log line can
//! print them. Unknown keys are errors naming the key. Every switch for a behaviour the public Genesys
//! documentation leaves open (reference/genesys-api.md §12) is here, with a safe default.
//!
//! One file per section (`source`, `sync`, `scoring`, `form`, `users`, `link`, `verify`, `genesys`,
//! `history`, `scorecard`, `ledger`), each with its defaults; this file holds the whole (`Config`:
//! load, paths, validation); `credentials` the secrets; `template` the file `init` writes.

mod credentials;
mod form;
mod genesys;
mod history;
mod ledger;
mod link;
mod scorecard;
mod scoring;
mod source;
mod sync;
mod template;
mod users;
mod verify;

pub use credentials::{Credentials, calabrio_credentials};
pub use form::FormConfig;
pub use genesys::{DEFAULT_RECONCILE_AFTER_S, GenesysConfig};
pub use history::HistoryConfig;
pub use ledger::LedgerConfig;
pub use link::LinkConfig;
pub use scorecard::ScorecardConfig;
pub use scoring::{MethodConfig, ScoringConfig};
pub use source::SourceConfig;
pub use sync::SyncConfig;
pub use template::TEMPLATE;
pub use users::UsersConfig;
pub use verify::VerifyConfig;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use qm_model::ScoringMethod;
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
        cfg.file_sha256 = Some(crate::fsutil::sha256_hex(text.as_bytes()));
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
            && ::genesys::region_api_url(r).is_none()
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
            (None, Some(region)) => ::genesys::region_api_url(region)
                .with_context(|| format!("unknown region '{region}'"))?,
            (None, None) => bail!("[genesys] needs region or api_url"),
        };
        let login = self
            .genesys
            .login_url
            .clone()
            .unwrap_or_else(|| ::genesys::login_url_for(&api));
        Ok((api, login))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use secrecy::SecretString;

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
