//! The command line (DESIGN §4): `qm-migrate [--config FILE] [--json] [--quiet] <command>`.
//! Flags hold runtime behaviour only; the pipeline lives in the config file and credentials in the
//! environment — there is deliberately no flag for a secret.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// Move Calabrio ONE QM evaluation history into Genesys Cloud, provably and exactly once.
#[derive(Debug, Parser)]
#[command(name = "qm-migrate", version, about, long_about = None)]
pub struct Cli {
    /// Configuration file.
    #[arg(long, global = true, value_name = "FILE", env = "QM_MIGRATE_CONFIG")]
    pub config: Option<PathBuf>,
    /// Print one JSON object with the command's summary on stdout (logs go to stderr).
    #[arg(long, global = true)]
    pub json: bool,
    /// No progress bars, errors only on stderr.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Write a commented qm-migrate.toml.
    Init {
        /// Overwrite an existing file.
        #[arg(long)]
        force: bool,
    },
    /// Write a realistic synthetic Calabrio dataset and a matching emulator fixture.
    Sample {
        /// Number of evaluations.
        #[arg(long, default_value_t = 2000)]
        evaluations: usize,
        /// Output folder.
        #[arg(long, value_name = "DIR")]
        out: PathBuf,
        /// Seed (the same seed writes the same dataset).
        #[arg(long, default_value_t = 42)]
        seed: u64,
        /// Write only the wide CSV and JSON Lines exports (not the long CSV, the tables directory
        /// and the Calabrio API dataset): for large benchmark datasets.
        #[arg(long)]
        csv_only: bool,
    },
    /// Stage the source records into the ledger (idempotent).
    Extract,
    /// Give every record a disposition and a reason.
    Plan {
        /// Write every non-evaluation record to this CSV.
        #[arg(long, value_name = "FILE")]
        exceptions: Option<PathBuf>,
        /// Take a new snapshot of the Genesys user directory.
        #[arg(long)]
        refresh_users: bool,
    },
    /// Create and publish the Legacy Migration Form (idempotent).
    Provision,
    /// Send the planned evaluations.
    Load {
        /// Build every request, send none.
        #[arg(long)]
        dry_run: bool,
        /// Send at most N creates.
        #[arg(long, value_name = "N")]
        max: Option<usize>,
        /// Keep going until everything is created or rejected, sleeping through per-agent cap
        /// windows (Ctrl-C or SIGTERM stop cleanly; a plain re-run resumes).
        #[arg(long)]
        follow: bool,
        /// Creates in flight at once (default: [genesys] concurrency).
        #[arg(long, value_name = "N")]
        concurrency: Option<usize>,
    },
    /// Check, by reading only, that the migration can run: credentials, host, permissions, org
    /// limits and (for the Calabrio API source) login and one contact read. Exit 1 when it cannot.
    Preflight,
    /// Measure, on one test conversation of the org, the Genesys behaviours no document settles
    /// (key replay, query lag, FINISHED in one call, past release dates, scoring, inactive users),
    /// then delete everything it created. Run it on the first day, before the first `load`.
    Probe(ProbeArgs),
    /// preflight → extract → plan → provision → load (with history and scorecard) → verify → report.
    Run {
        /// Write every non-evaluation record to this CSV.
        #[arg(long, value_name = "FILE")]
        exceptions: Option<PathBuf>,
        /// The HTML report (default: report.html beside the ledger).
        #[arg(long, value_name = "FILE")]
        report: Option<PathBuf>,
    },
    /// Ledger counts by disposition and load state.
    Status,
    /// Read back every created evaluation and compare it with the ledger (exit 1 on any difference).
    Verify,
    /// The evidence folder a compliance officer checks without trusting this tool: manifest,
    /// per-record hashes and outcomes, report, exceptions, last verify, `SHA256SUMS` and an optional
    /// minisign signature; or `--check` such a folder offline (exit 1 naming each file that differs).
    #[command(group(clap::ArgGroup::new("evidence_mode").required(true).args(["out", "check", "new_key"])))]
    Evidence {
        /// Write the evidence folder here (files mode 0600).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Sign `SHA256SUMS` with this minisign secret key (an encrypted key's password comes from
        /// `QM_MIGRATE_SIGN_PASSWORD`).
        #[arg(long, value_name = "KEY", requires = "out")]
        sign: Option<PathBuf>,
        /// Verify the folder: every file against `SHA256SUMS`, and the signature with `--public-key`.
        #[arg(long, value_name = "DIR", conflicts_with = "out")]
        check: Option<PathBuf>,
        /// The minisign public key the signature must verify with.
        #[arg(long, value_name = "FILE", requires = "check")]
        public_key: Option<PathBuf>,
        /// Make a minisign key pair: the secret key at FILE (mode 0600), the public key at FILE.pub.
        #[arg(long, value_name = "FILE", conflicts_with_all = ["out", "check"])]
        new_key: Option<PathBuf>,
    },
    /// The migration report: HTML (self-contained, charts and verify result), or one row per
    /// source record with disposition, reason and Genesys ids (CSV, JSON).
    Report {
        /// `html`, `csv` or `json`.
        #[arg(long, default_value = "html")]
        format: String,
        /// Output file (written with mode 0600).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Delete every evaluation this ledger created and put its items back to planned.
    Rollback {
        /// Required: rollback deletes data in Genesys.
        #[arg(long)]
        yes: bool,
        /// Only evaluations sent by this run (a load or run id, as `status` lists them) or later.
        #[arg(long, value_name = "RUN")]
        since: Option<i64>,
        /// Also delete the Legacy Migration Form (once no evaluation uses it).
        #[arg(long)]
        forms: bool,
        /// Delete nothing: say what would be deleted, and what falls outside Genesys' edit window.
        #[arg(long)]
        dry_run: bool,
    },
    /// Serve a stand-in API until stopped.
    Emulator {
        /// Which API.
        #[command(subcommand)]
        kind: EmulatorKind,
    },
    /// The whole migration of a synthetic dataset into the built-in emulator.
    Demo {
        /// Output folder (ledger, exceptions, summary, emulator state).
        #[arg(long, default_value = "demo-out", value_name = "DIR")]
        out: PathBuf,
        /// Number of evaluations in the synthetic dataset.
        #[arg(long, default_value_t = 2000)]
        evaluations: usize,
        /// Read the dataset through the Calabrio REST API (the built-in Calabrio emulator, with
        /// paging, expiring sessions and a 2 % fault rate) rather than from the wide CSV export.
        #[arg(long)]
        api: bool,
    },
}

/// Emulators.
#[derive(Debug, Subcommand)]
pub enum EmulatorKind {
    /// Genesys Cloud.
    Genesys {
        /// Address to bind.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Fixture (users, conversations, OAuth clients), as written by `sample`.
        #[arg(long, value_name = "FILE")]
        fixture: PathBuf,
        /// Behaviour and faults.
        #[command(flatten)]
        flags: GenesysFlags,
    },
    /// Calabrio ONE REST API (`/api/rest`).
    Calabrio {
        /// Address to bind.
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: String,
        /// Dataset (`calabrio-api.json`, as written by `sample`).
        #[arg(long, value_name = "FILE", alias = "dataset")]
        fixture: PathBuf,
        /// Accept only the older array login body and demand the CSRF token.
        #[arg(long)]
        legacy_login: bool,
        /// Requests a session serves before it expires (0 = never).
        #[arg(long, default_value_t = 0)]
        session_requests: u64,
        /// Share of requests answered 503.
        #[arg(long, default_value_t = 0.0)]
        fault_rate: f64,
        /// Most contacts one page returns, whatever `limit` asks (a server page cap).
        #[arg(long, default_value_t = 100)]
        max_page: usize,
        /// Recorded contacts without an evaluation per contact that holds one (at most 99).
        #[arg(long, default_value_t = 0)]
        unevaluated_per_evaluated: u32,
        /// The tenant's zone, in which `beginDate`/`endDate` are days (default UTC).
        #[arg(long, value_name = "IANA_ZONE")]
        time_zone: Option<String>,
    },
}

/// The Genesys emulator's behaviour knobs and faults.
#[derive(Debug, clap::Args)]
pub struct GenesysFlags {
    /// Requests per minute per OAuth client.
    #[arg(long, default_value_t = 300)]
    pub requests_per_minute: u32,
    /// Evaluations per agent per rolling 24 h.
    #[arg(long, default_value_t = 50)]
    pub per_agent_daily_cap: u32,
    /// Token lifetime, seconds.
    #[arg(long, default_value_t = 86_400)]
    pub token_lifetime_s: u64,
    /// Accept inactive and deleted users as agent or evaluator (unverified #5).
    #[arg(long)]
    pub accept_inactive_users: bool,
    /// Allow one evaluation per conversation (unverified #2).
    #[arg(long)]
    pub one_evaluation_per_conversation: bool,
    /// Refuse a releaseDate in the past (unverified #4).
    #[arg(long)]
    pub reject_past_release_date: bool,
    /// Only log request fields the official models do not define, as Genesys does, instead of
    /// answering 400.
    #[arg(long)]
    pub allow_unknown_fields: bool,
    /// Fault: latency added to every API request, milliseconds.
    #[arg(long, default_value_t = 0)]
    pub latency_ms: u64,
    /// Fault: up to this much more latency, at random.
    #[arg(long, default_value_t = 0)]
    pub latency_jitter_ms: u64,
    /// Fault: share of API requests answered 503 (0.05 = 5 %).
    #[arg(long, default_value_t = 0.0)]
    pub error_rate: f64,
    /// Fault: share of creates whose connection drops after the evaluation is stored.
    #[arg(long, default_value_t = 0.0)]
    pub drop_after_commit_rate: f64,
    /// Fault: share of API requests answered 429 (a storm), with a 1 s Retry-After.
    #[arg(long, default_value_t = 0.0)]
    pub storm_rate: f64,
    /// Answer the per-agent cap with a 429 and a Retry-After (the older reading) instead of the
    /// documented 400 `quality.evaluation.create.limit.exceeded.for.agent`.
    #[arg(long)]
    pub cap_as_429: bool,
    /// Live QA: evaluations every agent already received in the day before the start.
    #[arg(long, default_value_t = 0)]
    pub live_evaluations_per_agent: u32,
    /// How long before the start those live evaluations were made, seconds.
    #[arg(long, default_value_t = 3600)]
    pub live_evaluations_age_s: u64,
    /// Do not replay `Idempotency-Key` (a repeated key makes a second evaluation; unverified #12).
    #[arg(long)]
    pub no_idempotency_replay: bool,
    /// Replay a key only this many seconds after its first use (0: for ever).
    #[arg(long, default_value_t = 0)]
    pub idempotency_window_s: u64,
    /// `evaluations/query` shows a new evaluation only this many milliseconds after it is made.
    #[arg(long, default_value_t = 0)]
    pub query_lag_ms: u64,
    /// Fault: share of creates stored and answered with a body that does not decode.
    #[arg(long, default_value_t = 0.0)]
    pub undecodable_create_rate: f64,
    /// Fault: share of creates answered 409 `quality.evaluation.already.in.progress`.
    #[arg(long, default_value_t = 0.0)]
    pub in_progress_rate: f64,
    /// Fault: the first N publishes are committed and their connection dropped.
    #[arg(long, default_value_t = 0)]
    pub drop_publishes: u32,
    /// Fault: answer every API request 429 `too.many.requests` without Retry-After for this many
    /// seconds after the start.
    #[arg(long, default_value_t = 0)]
    pub throttle_without_retry_after_s: u64,
    /// Score as an org that counts weight-0 groups as weight 1 (unverified #15).
    #[arg(long)]
    pub zero_weight_counts: bool,
    /// Score as an org where a failed fatal question does not zero the total (unverified #10).
    #[arg(long)]
    pub fatal_keeps_total: bool,
    /// The largest `pageSize` the evaluation query answers (above: 400 `response.entity.too.large`).
    #[arg(long, default_value_t = 200)]
    pub max_query_page_size: usize,
    /// Store a create asking `FINISHED` as `INPROGRESS` (an org that does not submit in one call;
    /// unverified #3).
    #[arg(long)]
    pub no_finished_on_create: bool,
    /// Longest overall and agent comments (Genesys' help pages: 4000; 0: no limit).
    #[arg(long, default_value_t = 4000)]
    pub comment_limit: usize,
    /// Longest private and answer comments (help pages: 2000; 0: no limit).
    #[arg(long, default_value_t = 2000)]
    pub answer_comment_limit: usize,
    /// Re-scores and deletions are refused this many days after an evaluation's creation (0: never).
    #[arg(long, default_value_t = 90)]
    pub edit_window_days: u32,
    /// The evaluation aggregates count a change only this long after it (analytics lag).
    #[arg(long, default_value_t = 0)]
    pub analytics_lag_ms: u64,
    /// The longest interval an evaluation aggregates query may span, days (0: any).
    #[arg(long, default_value_t = 0)]
    pub aggregates_max_interval_days: i64,
    /// The longest interval a conversation detail query may span, days (0: any).
    #[arg(long, default_value_t = 0)]
    pub max_detail_query_days: i64,
    /// The org's performance profile gamifies the evaluation score.
    #[arg(long)]
    pub gamified_evaluation_score: bool,
    /// An audit query is answered this long after it was made, milliseconds.
    #[arg(long, default_value_t = 1500)]
    pub audit_query_delay_ms: u64,
    /// Run the emulator's clock this many times faster than real time.
    #[arg(long, default_value_t = 1.0)]
    pub time_scale: f64,
    /// Seed of the fault dice.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

impl GenesysFlags {
    /// The emulator settings these flags ask for.
    pub fn settings(&self) -> emulator::Settings {
        emulator::Settings {
            requests_per_minute: self.requests_per_minute,
            per_agent_daily_cap: self.per_agent_daily_cap,
            token_lifetime_s: self.token_lifetime_s,
            accept_inactive_users: self.accept_inactive_users,
            one_evaluation_per_conversation: self.one_evaluation_per_conversation,
            reject_past_release_date: self.reject_past_release_date,
            reject_unknown_fields: !self.allow_unknown_fields,
            latency_ms: self.latency_ms,
            latency_jitter_ms: self.latency_jitter_ms,
            error_rate: self.error_rate,
            drop_after_commit_rate: self.drop_after_commit_rate,
            storm_rate: self.storm_rate,
            storm_retry_after_s: 1,
            seed: self.seed,
            cap_as_429: self.cap_as_429,
            live_evaluations_per_agent: self.live_evaluations_per_agent,
            live_evaluations_age_s: self.live_evaluations_age_s,
            idempotency_replay: !self.no_idempotency_replay,
            idempotency_window_s: self.idempotency_window_s,
            query_lag_ms: self.query_lag_ms,
            undecodable_create_rate: self.undecodable_create_rate,
            undecodable_without_id: false,
            in_progress_rate: self.in_progress_rate,
            drop_publishes: self.drop_publishes,
            throttle_without_retry_after_s: self.throttle_without_retry_after_s,
            zero_weight_counts: self.zero_weight_counts,
            fatal_keeps_total: self.fatal_keeps_total,
            max_query_page_size: self.max_query_page_size,
            finished_on_create: !self.no_finished_on_create,
            comment_limit: self.comment_limit,
            answer_comment_limit: self.answer_comment_limit,
            edit_window_days: self.edit_window_days,
            analytics_lag_ms: self.analytics_lag_ms,
            aggregates_max_interval_days: self.aggregates_max_interval_days,
            max_detail_query_days: self.max_detail_query_days,
            gamified_evaluation_score: self.gamified_evaluation_score,
            audit_query_delay_ms: self.audit_query_delay_ms,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn cli_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn emulator_flags_become_settings() {
        let cli = Cli::try_parse_from([
            "qm-migrate",
            "emulator",
            "genesys",
            "--fixture",
            "f.json",
            "--allow-unknown-fields",
            "--error-rate",
            "0.05",
            "--per-agent-daily-cap",
            "200",
        ])
        .unwrap();
        let Command::Emulator {
            kind: EmulatorKind::Genesys { flags, .. },
        } = cli.command
        else {
            panic!("not the emulator command");
        };
        let s = flags.settings();
        assert!(!s.reject_unknown_fields);
        assert_eq!(
            (s.error_rate, s.per_agent_daily_cap, s.requests_per_minute),
            (0.05, 200, 300)
        );
    }

    #[test]
    fn global_flags_work_after_the_command() {
        let cli =
            Cli::try_parse_from(["qm-migrate", "status", "--json", "--config", "x.toml"]).unwrap();
        assert!(cli.json);
        assert_eq!(cli.config, Some(PathBuf::from("x.toml")));
        assert!(Cli::try_parse_from(["qm-migrate", "plan", "--client-secret", "x"]).is_err());
    }
}

/// The arguments of `probe`.
#[derive(Debug, Clone, clap::Args)]
pub struct ProbeArgs {
    /// The conversation to create the probe evaluations on (a recent test call).
    #[arg(long, value_name = "ID")]
    pub conversation: String,
    /// The agent (Genesys id, e-mail or user name; default: the conversation's agent).
    #[arg(long, value_name = "USER")]
    pub agent: Option<String>,
    /// The evaluator (default: `[users] default_evaluator`).
    #[arg(long, value_name = "USER")]
    pub evaluator: Option<String>,
    /// Also try an inactive user who was an agent on the conversation.
    #[arg(long, value_name = "USER")]
    pub inactive_agent: Option<String>,
    /// Also try an inactive user with the evaluator role as evaluator.
    #[arg(long, value_name = "USER")]
    pub inactive_evaluator: Option<String>,
    /// Required: probe creates (and deletes) a form and evaluations in Genesys.
    #[arg(long)]
    pub yes: bool,
    /// Go on although the conversation already has evaluations (only the probe's are deleted).
    #[arg(long)]
    pub allow_evaluated: bool,
    /// Put the recommended settings into the config file (commented, with the probe's date).
    #[arg(long)]
    pub write_config: bool,
    /// Send the idempotency key once more this many seconds after the first create.
    #[arg(long, default_value_t = 30.0, value_name = "S")]
    pub replay_after_s: f64,
    /// Wait at most this long for the evaluation query to show a new evaluation.
    #[arg(long, default_value_t = 120.0, value_name = "S")]
    pub lag_bound_s: f64,
}
