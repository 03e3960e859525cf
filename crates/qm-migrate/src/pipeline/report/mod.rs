//! `report --format html|csv|json`.
//!
//! CSV and JSON: one row per source record of the latest extract — where it stood, its evaluation
//! id, disposition and reason, the Genesys agent and conversation, the load state and the Genesys
//! evaluation id. HTML: one self-contained file (inline CSS and SVG, no script, no network) with the
//! totals and dispositions, the invariant line, the load outcome, per-month counts and mean scores
//! source vs Genesys (drawn by [`crate::chart`], the history timelines' code), the score
//! distribution before and after normalisation, the exceptions with links into the history site,
//! the last verify result and the run metadata. Every source string is escaped (askama). All three
//! are written with mode 0600.

pub mod chart;

use std::path::Path;

use anyhow::{Context, Result, bail};
use rusqlite::{OptionalExtension, params};
use serde::Serialize;

use crate::config::Config;
use crate::fsutil::write_private;
use crate::ledger::Ledger;

/// One record in the report.
#[derive(Debug, Clone, Serialize)]
pub struct ReportRow {
    /// File and line (or JSON path, or API URL).
    pub source: String,
    /// Calabrio evaluation id, when readable.
    pub evaluation_id: Option<String>,
    /// Disposition (`unplanned` before `plan`).
    pub disposition: String,
    /// Why.
    pub reason: String,
    /// Genesys agent.
    pub agent_user_id: Option<String>,
    /// Genesys conversation.
    pub conversation_id: Option<String>,
    /// Normalised source score.
    pub score: Option<f64>,
    /// Load state of an `evaluation` record.
    pub load_state: Option<String>,
    /// The Genesys evaluation created for it.
    pub genesys_evaluation_id: Option<String>,
}

/// Every record of the latest extract, in source order.
///
/// # Errors
/// SQLite errors.
pub fn rows(ledger: &Ledger) -> Result<Vec<ReportRow>> {
    let run = ledger.latest_extract()?.unwrap_or(-1);
    let mut stmt = ledger.conn().prepare(
        "SELECT r.locator, r.evaluation_id, coalesce(p.disposition, 'unplanned'), coalesce(p.reason, ''),
                p.agent_user_id, p.conversation_id, p.score, l.state, l.evaluation_id
         FROM records r LEFT JOIN plans p ON p.record_id = r.id LEFT JOIN loads l ON l.record_id = r.id
         WHERE r.last_seen_run = ?1 ORDER BY r.seq, r.id",
    )?;
    let rows = stmt
        .query_map([run], |r| {
            Ok(ReportRow {
                source: r.get(0)?,
                evaluation_id: r.get(1)?,
                disposition: r.get(2)?,
                reason: r.get(3)?,
                agent_user_id: r.get(4)?,
                conversation_id: r.get(5)?,
                score: r.get(6)?,
                load_state: r.get(7)?,
                genesys_evaluation_id: r.get(8)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Writes the report in `format` (`html`, `csv` or `json`) to `out`; returns the rows written.
///
/// # Errors
/// An unknown format, SQLite and I/O errors.
pub fn write(cfg: &Config, ledger: &Ledger, format: &str, out: &Path) -> Result<usize> {
    let rows = rows(ledger)?;
    let bytes = match format {
        "csv" => {
            let mut w = csv::Writer::from_writer(Vec::new());
            for r in &rows {
                w.serialize(r)?;
            }
            w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?
        }
        "json" => serde_json::to_vec_pretty(&serde_json::json!({
            "records": rows.len(),
            "rows": rows,
        }))?,
        "html" => html(cfg, ledger, out)?.into_bytes(),
        other => bail!("report --format '{other}': html, csv or json"),
    };
    write_private(out, &bytes)?;
    Ok(rows.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_format_is_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let ledger = Ledger::open(&dir.path().join("l.db")).unwrap();
        let out = dir.path().join("r.pdf");
        let e = write(&Config::default(), &ledger, "pdf", &out)
            .unwrap_err()
            .to_string();
        assert!(e.contains("html, csv or json"), "{e}");
        assert!(!out.exists());
    }
}

// ---------------------------------------------------------------- HTML

struct Count {
    name: String,
    value: String,
}

struct Month {
    month: String,
    records: u64,
    evaluations: u64,
    created: u64,
    source_mean: String,
    migrated_mean: String,
    genesys_mean: String,
}

/// One month's numbers, before formatting.
struct MonthData {
    month: String,
    records: u64,
    evaluations: u64,
    created: u64,
    source_mean: Option<f64>,
    migrated_mean: Option<f64>,
    genesys_mean: Option<f64>,
}

struct ExceptionRow {
    source: String,
    evaluation_id: String,
    disposition: String,
    reason: String,
    page: String,
}

struct MismatchRow {
    what: String,
    record: String,
    evaluation_id: String,
    field: String,
    ledger: String,
    genesys: String,
}

struct AgentRow {
    agent: String,
    ledger_count: u64,
    genesys_count: u64,
    ledger_mean: String,
    genesys_mean: String,
}

struct VerifyView {
    at: String,
    checked: u64,
    matched: u64,
    missing: usize,
    mismatched: usize,
    unknown: usize,
    drift: usize,
    clean: bool,
    rows: Vec<MismatchRow>,
    agents_checked: u64,
    agents: Vec<AgentRow>,
}

struct RunRow {
    id: i64,
    command: String,
    started: String,
    finished: String,
}

#[derive(askama::Template)]
#[template(path = "report.html")]
struct ReportPage {
    generated: String,
    version: &'static str,
    config_hash: String,
    ledger: String,
    invariant: String,
    invariant_holds: bool,
    dispositions: Vec<Count>,
    load: Vec<Count>,
    charts: Vec<crate::chart::Chart>,
    months: Vec<Month>,
    undated: u64,
    distribution: Vec<crate::chart::Chart>,
    exceptions: Vec<ExceptionRow>,
    exceptions_total: u64,
    verify: Option<VerifyView>,
    history_index: String,
    runs: Vec<RunRow>,
}

/// Exceptions shown in the HTML page; the CSV and JSON reports carry every record.
const HTML_EXCEPTIONS: u64 = 5_000;

/// `to` as a link relative to the folder of `from` (both made absolute), `/`-separated.
fn relative_link(from: &Path, to: &Path) -> String {
    let abs = |p: &Path| -> Vec<std::ffi::OsString> {
        std::path::absolute(p)
            .unwrap_or_else(|_| p.to_path_buf())
            .components()
            .map(|c| c.as_os_str().to_owned())
            .collect()
    };
    let base = abs(from.parent().unwrap_or(Path::new(".")));
    let target = abs(to);
    let common = base.iter().zip(&target).take_while(|(a, b)| a == b).count();
    let mut parts: Vec<String> = vec!["..".to_owned(); base.len() - common];
    parts.extend(
        target[common..]
            .iter()
            .map(|c| c.to_string_lossy().into_owned()),
    );
    parts.join("/")
}

fn pct(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.1}")).unwrap_or_else(|| "—".into())
}

fn histogram(values: &[f64], lo: f64, hi: f64, bins: usize) -> Vec<u64> {
    let mut out = vec![0; bins];
    let width = if hi > lo {
        (hi - lo) / bins as f64
    } else {
        1.0
    };
    for v in values.iter().filter(|v| v.is_finite()) {
        let i = (((v - lo) / width).floor().max(0.0) as usize).min(bins - 1);
        out[i] += 1;
    }
    out
}

fn distribution_chart(
    title: &str,
    values: &[f64],
    hi: f64,
    unit: &str,
    color: &str,
) -> crate::chart::Chart {
    const BINS: usize = 10;
    let counts = histogram(values, 0.0, hi, BINS);
    let max = counts.iter().copied().max().unwrap_or(0);
    let mut c = crate::chart::Chart::new(
        title,
        (360, 160),
        (0.0, hi),
        ("0".into(), format!("{hi:.0}{unit}")),
        max as f64,
        max.to_string(),
    );
    let width = hi / BINS as f64;
    let data = counts
        .iter()
        .enumerate()
        .map(|(i, n)| {
            let a = width * i as f64;
            crate::chart::Datum {
                x: a + width / 2.0,
                y: *n as f64,
                filled: true,
                label: format!("{a:.0}–{:.0}{unit}: {n} records", a + width),
            }
        })
        .collect();
    c.add(title, color, data);
    c
}

fn html(cfg: &Config, ledger: &Ledger, out: &Path) -> Result<String> {
    use askama::Template;
    let conn = ledger.conn();
    let run = ledger.latest_extract()?.unwrap_or(-1);
    let (records, dispositions, unplanned) = crate::ledger_counts(ledger)?;
    let load = crate::load_counts(ledger)?;
    let sum: u64 = dispositions.values().sum::<u64>() + unplanned;
    let invariant = format!(
        "records {records} = evaluation {} + history {} + excluded {} + quarantined {}{} = {sum}",
        dispositions.get("evaluation").unwrap_or(&0),
        dispositions.get("history").unwrap_or(&0),
        dispositions.get("excluded").unwrap_or(&0),
        dispositions.get("quarantined").unwrap_or(&0),
        if unplanned > 0 {
            format!(" + not yet planned {unplanned}")
        } else {
            String::new()
        }
    );

    // Per month (evaluation date, else the record's sort date), source vs Genesys.
    let mut stmt = conn.prepare(
        "SELECT coalesce(substr(p.evaluated_at, 1, 7), strftime('%Y-%m', r.sort_at / 1000, 'unixepoch')) AS m,
                count(*), sum(p.disposition = 'evaluation'), sum(l.state = 'created'),
                avg(p.score), avg(CASE WHEN l.state = 'created' THEN p.score END),
                avg(CASE WHEN l.state = 'created' THEN l.genesys_total END)
         FROM records r LEFT JOIN plans p ON p.record_id = r.id LEFT JOIN loads l ON l.record_id = r.id
         WHERE r.last_seen_run = ?1 GROUP BY m ORDER BY m",
    )?;
    let mut undated = 0;
    let rows = stmt.query_map([run], |r| {
        Ok((
            r.get::<_, Option<String>>(0)?,
            MonthData {
                month: String::new(),
                records: u64::try_from(r.get::<_, i64>(1)?).unwrap_or(0),
                evaluations: u64::try_from(r.get::<_, Option<i64>>(2)?.unwrap_or(0)).unwrap_or(0),
                created: u64::try_from(r.get::<_, Option<i64>>(3)?.unwrap_or(0)).unwrap_or(0),
                source_mean: r.get(4)?,
                migrated_mean: r.get(5)?,
                genesys_mean: r.get(6)?,
            },
        ))
    })?;
    let mut raw_months: Vec<MonthData> = Vec::new();
    for row in rows {
        let (m, data) = row?;
        match m {
            None => undated += data.records,
            Some(month) => raw_months.push(MonthData { month, ..data }),
        }
    }
    let last = raw_months.len().saturating_sub(1) as f64;
    let labels = (
        raw_months
            .first()
            .map(|m| m.month.clone())
            .unwrap_or_default(),
        raw_months
            .last()
            .map(|m| m.month.clone())
            .unwrap_or_default(),
    );
    let max_count = raw_months.iter().map(|m| m.records).max().unwrap_or(0) as f64;
    let mut counts = crate::chart::Chart::new(
        "records per month: Calabrio vs Genesys",
        (760, 220),
        (0.0, last.max(1.0)),
        labels.clone(),
        max_count,
        format!("{max_count:.0}"),
    );
    let series = |f: &dyn Fn(&MonthData) -> Option<f64>, what: &str| {
        raw_months
            .iter()
            .enumerate()
            .filter_map(|(i, m)| {
                let y = f(m)?;
                Some(crate::chart::Datum {
                    x: i as f64,
                    y,
                    filled: true,
                    label: format!("{}: {what} {y:.1}", m.month),
                })
            })
            .collect::<Vec<_>>()
    };
    counts.add(
        "Calabrio records",
        "#888",
        series(&|m| Some(m.records as f64), "records"),
    );
    counts.add(
        "evaluation channel",
        "#36c",
        series(&|m| Some(m.evaluations as f64), "to migrate"),
    );
    counts.add(
        "in Genesys",
        "#2a6",
        series(&|m| Some(m.created as f64), "created"),
    );
    let mut means = crate::chart::Chart::new(
        "mean score per month: Calabrio vs Genesys",
        (760, 220),
        (0.0, last.max(1.0)),
        labels,
        100.0,
        "100".into(),
    );
    means.add(
        "Calabrio, all scored",
        "#888",
        series(&|m| m.source_mean, "mean score"),
    );
    means.add(
        "Calabrio, migrated",
        "#36c",
        series(&|m| m.migrated_mean, "mean score of the migrated"),
    );
    means.add(
        "Genesys totalScore",
        "#2a6",
        series(&|m| m.genesys_mean, "mean Genesys total"),
    );
    let months = raw_months
        .into_iter()
        .map(|m| Month {
            month: m.month,
            records: m.records,
            evaluations: m.evaluations,
            created: m.created,
            source_mean: pct(m.source_mean),
            migrated_mean: pct(m.migrated_mean),
            genesys_mean: pct(m.genesys_mean),
        })
        .collect::<Vec<_>>();

    // Score distribution before (the total as Calabrio gave it) and after normalisation.
    let mut stmt = conn.prepare(
        "SELECT json_extract(r.canonical, '$.score.total'), p.score
         FROM records r JOIN plans p ON p.record_id = r.id
         WHERE r.last_seen_run = ?1 AND (p.score IS NOT NULL OR json_extract(r.canonical, '$.score.total') IS NOT NULL)",
    )?;
    let mut before = Vec::new();
    let mut after = Vec::new();
    let rows = stmt.query_map([run], |r| {
        Ok((r.get::<_, Option<f64>>(0)?, r.get::<_, Option<f64>>(1)?))
    })?;
    for row in rows {
        let (b, a) = row?;
        before.extend(b);
        after.extend(a);
    }
    let before_max = before.iter().copied().fold(100.0_f64, f64::max).ceil();
    let distribution = vec![
        distribution_chart(
            "before normalisation: Calabrio totals as exported (percent or points)",
            &before,
            before_max,
            "",
            "#888",
        ),
        distribution_chart(
            "after normalisation: score in percent",
            &after,
            100.0,
            " %",
            "#36c",
        ),
    ];

    // Exceptions, with their agent's history page.
    let history_site = cfg.history.dir.join("site");
    let history_index = relative_link(out, &history_site.join("index.html"));
    let exceptions_total: u64 = conn.query_row(
        "SELECT count(*) FROM records r LEFT JOIN plans p ON p.record_id = r.id LEFT JOIN loads l ON l.record_id = r.id
         WHERE r.last_seen_run = ?1 AND (p.disposition IS NULL OR p.disposition <> 'evaluation'
               OR l.state IN ('rejected', 'unknown', 'deferred', 'planned', 'sending'))",
        [run],
        |r| r.get::<_, i64>(0),
    ).map(|n| u64::try_from(n).unwrap_or(0))?;
    let sql = format!(
        "SELECT r.locator, r.evaluation_id, coalesce(p.disposition, 'unplanned'), coalesce(p.reason, ''),
                l.state, l.code, l.message, (SELECT page FROM history_pages h WHERE h.agent_key = {key})
         FROM records r LEFT JOIN plans p ON p.record_id = r.id LEFT JOIN loads l ON l.record_id = r.id
         WHERE r.last_seen_run = ?1 AND (p.disposition IS NULL OR p.disposition <> 'evaluation'
               OR l.state IN ('rejected', 'unknown', 'deferred', 'planned', 'sending'))
         ORDER BY r.seq, r.id LIMIT ?2",
        key = crate::history::AGENT_KEY
    );
    let mut stmt = conn.prepare(&sql)?;
    let exceptions = stmt
        .query_map(params![run, HTML_EXCEPTIONS as i64], |r| {
            let disposition: String = r.get(2)?;
            let state: Option<String> = r.get(4)?;
            let code: Option<String> = r.get(5)?;
            let message: Option<String> = r.get(6)?;
            let page: Option<String> = r.get(7)?;
            Ok(ExceptionRow {
                source: r.get(0)?,
                evaluation_id: r.get::<_, Option<String>>(1)?.unwrap_or_default(),
                disposition: match &state {
                    Some(s) if disposition == "evaluation" => format!("evaluation, load {s}"),
                    _ => disposition,
                },
                reason: {
                    let reason: String = r.get(3)?;
                    match (code, message) {
                        (Some(c), Some(m)) => format!("{reason} — Genesys {c}: {m}"),
                        (Some(c), None) => format!("{reason} — Genesys {c}"),
                        _ => reason,
                    }
                },
                page: page
                    .map(|p| relative_link(out, &history_site.join(p)))
                    .unwrap_or_default(),
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;

    // The last verify, as it recorded itself.
    let verify = conn
        .query_row(
            "SELECT finished_at, summary FROM runs WHERE command = 'verify' AND summary IS NOT NULL
             ORDER BY id DESC LIMIT 1",
            [],
            |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)),
        )
        .optional()?
        .and_then(|(at, text)| {
            let v: crate::verify::VerifySummary = serde_json::from_str(&text).ok()?;
            let mut rows: Vec<MismatchRow> = v
                .missing
                .iter()
                .map(|(record, id)| MismatchRow {
                    what: "missing".into(),
                    record: record.clone(),
                    evaluation_id: id.clone(),
                    field: String::new(),
                    ledger: String::new(),
                    genesys: String::new(),
                })
                .collect();
            rows.extend(v.mismatched.iter().map(|m| MismatchRow {
                what: "mismatched".into(),
                record: m.record.clone(),
                evaluation_id: m.evaluation_id.clone(),
                field: m.field.clone(),
                ledger: m.ledger.clone(),
                genesys: m.genesys.clone(),
            }));
            rows.extend(v.drift.iter().map(|d| {
                MismatchRow {
                    what: format!("drift: {}", d.what),
                    record: d.record.clone(),
                    evaluation_id: d.evaluation_id.clone(),
                    field: d.note.clone(),
                    ledger: d
                        .source_now
                        .map_or_else(String::new, |t| format!("{t:.2} (source now)")),
                    genesys: d
                        .genesys_total
                        .map_or_else(String::new, |t| format!("{t:.2}")),
                }
            }));
            rows.extend(v.unknown.iter().map(|id| MismatchRow {
                what: "unknown to the ledger".into(),
                record: String::new(),
                evaluation_id: id.clone(),
                field: String::new(),
                ledger: String::new(),
                genesys: String::new(),
            }));
            Some(VerifyView {
                at,
                checked: v.checked,
                matched: v.matched,
                missing: v.missing.len(),
                mismatched: v.mismatched.len(),
                unknown: v.unknown.len(),
                drift: v.drift.len(),
                clean: v.clean(),
                rows,
                agents_checked: v.agents_checked,
                agents: v
                    .agents_differing
                    .iter()
                    .map(|a| AgentRow {
                        agent: a.agent.clone(),
                        ledger_count: a.ledger_count,
                        genesys_count: a.genesys_count,
                        ledger_mean: pct(a.ledger_mean),
                        genesys_mean: pct(a.genesys_mean),
                    })
                    .collect(),
            })
        });

    // Run metadata: the last run of each command.
    let mut stmt = conn.prepare(
        "SELECT id, command, started_at, coalesce(finished_at, '(did not finish)') FROM runs
         WHERE id IN (SELECT max(id) FROM runs GROUP BY command) ORDER BY id",
    )?;
    let runs = stmt
        .query_map([], |r| {
            Ok(RunRow {
                id: r.get(0)?,
                command: r.get(1)?,
                started: r.get(2)?,
                finished: r.get(3)?,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;

    let page = ReportPage {
        generated: jiff::Timestamp::now()
            .strftime("%Y-%m-%d %H:%M:%S UTC")
            .to_string(),
        version: env!("CARGO_PKG_VERSION"),
        config_hash: cfg
            .file_sha256
            .clone()
            .unwrap_or_else(|| "(configuration not read from a file)".into()),
        ledger: cfg.ledger.path.display().to_string(),
        invariant_holds: sum == records,
        invariant,
        dispositions: dispositions
            .iter()
            .map(|(k, v)| Count {
                name: k.clone(),
                value: v.to_string(),
            })
            .chain((unplanned > 0).then(|| Count {
                name: "not yet planned".into(),
                value: unplanned.to_string(),
            }))
            .collect(),
        load: load
            .iter()
            .map(|(k, v)| Count {
                name: k.clone(),
                value: v.to_string(),
            })
            .collect(),
        charts: vec![counts, means],
        months,
        undated,
        distribution,
        exceptions,
        exceptions_total,
        verify,
        history_index,
        runs,
    };
    page.render().context("HTML report")
}
