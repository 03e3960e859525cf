//! Genesys' edit window: "Evaluations cannot be signed-off, re-scored or deleted after 90 days of
//! creation" (a Genesys answer on its developer forum; the API description lists
//! `quality.evaluation.too.old.to.score` for `PUT` of an evaluation). A migration's parallel run
//! easily lasts longer, so day 90 is a normal day: a sync change or withdrawal past the window is
//! listed (`flagged`, with the reason), never sent; `rollback` cannot delete such evaluations and
//! says so; `status` and the report say when each run's window closes, and warn ahead.
//!
//! The window starts at the evaluation's `createdDate` as Genesys gave it (kept in the ledger), or,
//! for an evaluation created before the ledger kept it, at the time its create was sent (a little
//! earlier: the window then seems to close a little early, never late). Its length is `[sync]
//! edit_window_days` (90); Genesys' own refusal tells too, and is remembered.

use anyhow::Result;
use jiff::{SignedDuration, Timestamp};
use serde::Serialize;

use crate::config::Config;
use crate::ledger::Ledger;

/// Days before a window closes from which `status` and the report warn.
pub const WARN_DAYS: i64 = 14;

/// When the window of an evaluation starts: its Genesys `createdDate`, else when it was sent.
pub fn start(genesys_created: Option<&str>, sent_at_ms: Option<i64>) -> Option<Timestamp> {
    genesys_created
        .and_then(|d| d.parse::<Timestamp>().ok())
        .or_else(|| sent_at_ms.and_then(|ms| Timestamp::from_millisecond(ms).ok()))
}

/// When a window that starts at `start` closes (`None`: no window is assumed).
pub fn closes(cfg: &Config, start: Timestamp) -> Option<Timestamp> {
    let days = cfg.sync.edit_window_days;
    (days > 0)
        .then(|| {
            start
                .checked_add(SignedDuration::from_hours(24 * i64::from(days)))
                .ok()
        })
        .flatten()
}

/// Why an evaluation is past its window at `now_ms` (`None`: still open, or not known to be
/// closed): its date says so, or Genesys said so (`learned`, when).
pub fn past(
    cfg: &Config,
    now_ms: i64,
    genesys_created: Option<&str>,
    sent_at_ms: Option<i64>,
    learned: Option<&str>,
) -> Option<String> {
    let start = start(genesys_created, sent_at_ms);
    let by_date = start
        .and_then(|s| closes(cfg, s))
        .is_some_and(|c| c.as_millisecond() <= now_ms);
    (by_date || learned.is_some()).then(|| reason(cfg, start))
}

/// The reason an action past the window is not taken: "past Genesys' 90-day edit window, created
/// 2026-09-01".
pub fn reason(cfg: &Config, start: Option<Timestamp>) -> String {
    let days = cfg.sync.edit_window_days;
    let created = start.map_or_else(
        || "on an unknown date".to_owned(),
        |s| s.strftime("%Y-%m-%d").to_string(),
    );
    if days > 0 {
        format!("past Genesys' {days}-day edit window, created {created}")
    } else {
        format!("past Genesys' edit window, created {created}")
    }
}

/// The edit window of the evaluations one `load` run created.
#[derive(Debug, Clone, Serialize)]
pub struct RunWindow {
    /// The load run (`status` lists runs), or `None` for evaluations older than every run kept.
    pub run: Option<i64>,
    /// When that run started.
    pub run_started: Option<String>,
    /// Evaluations it created that still exist.
    pub evaluations: u64,
    /// When the first of them closes (its window is the first to end).
    pub first_closes: Option<String>,
    /// When the last of them closes.
    pub last_closes: Option<String>,
    /// Whole days from now until the first closes (negative: already closed).
    pub days_left: Option<i64>,
    /// Of them, already past the window.
    pub closed: u64,
    /// The first closes within [`WARN_DAYS`] days.
    pub warning: bool,
}

impl RunWindow {
    /// One line for `status` and the report.
    pub fn line(&self) -> String {
        let run = match (self.run, &self.run_started) {
            (Some(r), Some(at)) => format!("load run {r} ({})", at.get(..16).unwrap_or(at)),
            _ => "evaluations from before the runs kept".to_owned(),
        };
        let span = match (&self.first_closes, &self.last_closes) {
            (Some(a), Some(b)) if a.get(..10) == b.get(..10) => a.get(..10).unwrap_or(a).to_owned(),
            (Some(a), Some(b)) => format!(
                "{} – {}",
                a.get(..10).unwrap_or(a),
                b.get(..10).unwrap_or(b)
            ),
            _ => "never (no window assumed)".to_owned(),
        };
        let when = match self.days_left {
            Some(_) if self.closed == self.evaluations => {
                format!("closed for all {}", self.evaluations)
            }
            Some(d) if d < 0 || self.closed > 0 => {
                format!("closed for {} of {}", self.closed, self.evaluations)
            }
            Some(0) => "closes today".to_owned(),
            Some(d) => format!("in {d} days"),
            None => String::new(),
        };
        format!(
            "{run}: {} evaluations; Genesys' edit window closes {span}{}{}",
            self.evaluations,
            if when.is_empty() {
                String::new()
            } else {
                format!(" ({when})")
            },
            if self.warning {
                " — WARNING: after that, Calabrio changes to them are only listed, and rollback cannot delete them"
            } else {
                ""
            }
        )
    }
}

/// The edit window of each load run's evaluations, oldest run first.
///
/// # Errors
/// SQLite errors.
pub fn per_run(cfg: &Config, ledger: &Ledger, now_ms: i64) -> Result<Vec<RunWindow>> {
    let runs: Vec<(i64, Timestamp, String)> = ledger
        .runs_of("load")?
        .into_iter()
        .filter_map(|(id, at)| Some((id, at.parse::<Timestamp>().ok()?, at)))
        .collect();
    // By load run: (when it started, each evaluation's window start and whether it is closed).
    type Starts = (Option<String>, Vec<(Timestamp, bool)>);
    let mut out: std::collections::BTreeMap<Option<i64>, Starts> =
        std::collections::BTreeMap::new();
    for (created, sent_at, learned) in ledger.created_windows()? {
        let Some(s) = start(created.as_deref(), sent_at) else {
            continue;
        };
        // The last run that started before the create was sent (or Genesys created it); on a
        // clock that is not the runs' (the demo's), the first run.
        let sent = sent_at
            .and_then(|ms| Timestamp::from_millisecond(ms).ok())
            .unwrap_or(s);
        let run = runs
            .iter()
            .rev()
            .find(|(_, at, _)| *at <= sent)
            .or(runs.first());
        let closed = past(cfg, now_ms, created.as_deref(), sent_at, learned.as_deref()).is_some();
        out.entry(run.map(|r| r.0))
            .or_insert_with(|| (run.map(|r| r.2.clone()), Vec::new()))
            .1
            .push((s, closed));
    }
    Ok(out
        .into_iter()
        .map(|(run, (run_started, starts))| {
            let first = starts.iter().map(|(s, _)| *s).min();
            let last = starts.iter().map(|(s, _)| *s).max();
            let first_closes = first.and_then(|f| closes(cfg, f));
            let days_left =
                first_closes.map(|c| (c.as_millisecond() - now_ms).div_euclid(86_400_000));
            let closed = starts.iter().filter(|(_, c)| *c).count() as u64;
            RunWindow {
                run,
                run_started,
                evaluations: starts.len() as u64,
                first_closes: first_closes.map(|t| t.to_string()),
                last_closes: last.and_then(|l| closes(cfg, l)).map(|t| t.to_string()),
                days_left,
                closed,
                warning: days_left.is_some_and(|d| d < WARN_DAYS) && closed < starts.len() as u64,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(days: u32) -> Config {
        let mut c = Config::default();
        c.sync.edit_window_days = days;
        c
    }

    #[test]
    fn the_window_is_measured_from_genesys_created_date_else_from_the_send() {
        let created = "2026-01-01T10:00:00.000Z";
        let day = 86_400_000;
        let t0: Timestamp = created.parse().unwrap();
        let at = |days: i64| t0.as_millisecond() + days * day;
        assert!(past(&cfg(90), at(89), Some(created), None, None).is_none());
        let why = past(&cfg(90), at(90), Some(created), None, None).unwrap();
        assert_eq!(why, "past Genesys' 90-day edit window, created 2026-01-01");
        // Without Genesys' date, the send time starts it.
        assert!(past(&cfg(90), at(91), None, Some(at(0)), None).is_some());
        assert!(past(&cfg(90), at(89), None, Some(at(0)), None).is_none());
        // Genesys' refusal tells even when the date does not (another window length).
        assert!(past(&cfg(365), at(100), Some(created), None, Some("x")).is_some());
        assert!(past(&cfg(365), at(100), Some(created), None, None).is_none());
        // No window assumed.
        assert!(past(&cfg(0), at(10_000), Some(created), None, None).is_none());
    }
}
