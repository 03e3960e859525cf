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
mod timelines;

use std::path::Path;

use anyhow::{Context, Result, bail};

use crate::config::Config;
use crate::fsutil::write_private;
use crate::ledger::Ledger;
pub use crate::ledger::ReportRow;

/// Every record of the latest extract, in source order.
///
/// # Errors
/// SQLite errors.
pub fn rows(ledger: &Ledger) -> Result<Vec<ReportRow>> {
    ledger.report_rows(ledger.latest_extract()?.unwrap_or(-1))
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
    record: String,
    source: String,
    evaluation_id: String,
    disposition: String,
    reason: String,
    page: String,
}

struct MismatchRow {
    what: String,
    record: String,
    last_seen: String,
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
    timeline_chart: Option<crate::chart::Chart>,
    timeline_rows: Vec<timelines::TimelineRow>,
    timeline_diffs: Vec<String>,
    audit_line: String,
    audit_findings: Vec<String>,
    comment_limits: (usize, usize),
    edit_window_days: u32,
    shortened: (u64, u64),
    windows: Vec<WindowRow>,
}

struct WindowRow {
    line: String,
    warning: bool,
}

/// Exceptions shown in the HTML page; the CSV and JSON reports carry every record.
const HTML_EXCEPTIONS: usize = 5_000;

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
    let run = ledger.latest_extract()?.unwrap_or(-1);
    let (records, dispositions, unplanned) = crate::accounting::ledger_counts(ledger)?;
    let load = crate::accounting::load_counts(ledger)?;
    let sum: u64 = dispositions.values().sum::<u64>() + unplanned;
    let invariant = crate::accounting::invariant_line(
        records,
        &dispositions,
        unplanned,
        ledger.left_source_count()?,
    );

    // Per month (evaluation date, else the record's sort date), source vs Genesys.
    let mut undated = 0;
    let mut raw_months: Vec<MonthData> = Vec::new();
    for m in ledger.month_stats(run)? {
        let data = MonthData {
            month: String::new(),
            records: m.records,
            evaluations: m.evaluations,
            created: m.created,
            source_mean: m.source_mean,
            migrated_mean: m.migrated_mean,
            genesys_mean: m.genesys_mean,
        };
        match m.month {
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
    let mut before = Vec::new();
    let mut after = Vec::new();
    for (b, a) in ledger.score_pairs(run)? {
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
    let exceptions_total = ledger.exception_count(run)?;
    let exceptions = ledger
        .report_exceptions(run, HTML_EXCEPTIONS)?
        .into_iter()
        .map(|e| ExceptionRow {
            record: e.name,
            source: e.locator,
            evaluation_id: e.evaluation_id.unwrap_or_default(),
            disposition: match &e.state {
                Some(s) if e.disposition == "evaluation" => format!("evaluation, load {s}"),
                _ => e.disposition,
            },
            reason: match (e.code, e.message) {
                (Some(c), Some(m)) => format!("{} — Genesys {c}: {m}", e.reason),
                (Some(c), None) => format!("{} — Genesys {c}", e.reason),
                _ => e.reason,
            },
            page: e
                .page
                .map(|p| relative_link(out, &history_site.join(p)))
                .unwrap_or_default(),
        })
        .collect::<Vec<_>>();

    // The last verify, as it recorded itself.
    let last_verify: Option<(String, crate::verify::VerifySummary)> = ledger
        .last_verify()?
        .and_then(|(at, text)| Some((at, serde_json::from_str(&text).ok()?)));
    let verify = last_verify.clone().map(|(at, v)| {
        let mut rows: Vec<MismatchRow> = v
            .missing
            .iter()
            .map(|(record, id)| MismatchRow {
                what: "missing".into(),
                record: record.clone(),
                last_seen: String::new(),
                evaluation_id: id.clone(),
                field: String::new(),
                ledger: String::new(),
                genesys: String::new(),
            })
            .collect();
        rows.extend(v.mismatched.iter().map(|m| MismatchRow {
            what: "mismatched".into(),
            record: m.record.clone(),
            last_seen: m.last_seen.clone(),
            evaluation_id: m.evaluation_id.clone(),
            field: m.field.clone(),
            ledger: m.ledger.clone(),
            genesys: m.genesys.clone(),
        }));
        rows.extend(v.drift.iter().map(|d| {
            MismatchRow {
                what: format!("drift: {}", d.what),
                record: d.record.clone(),
                last_seen: d.last_seen.clone(),
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
            last_seen: String::new(),
            evaluation_id: id.clone(),
            field: String::new(),
            ledger: String::new(),
            genesys: String::new(),
        }));
        VerifyView {
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
        }
    });

    // Run metadata: the last run of each command.
    let runs = ledger
        .last_runs()?
        .into_iter()
        .map(|r| RunRow {
            id: r.id,
            command: r.command,
            started: r.started,
            finished: r.finished,
        })
        .collect::<Vec<_>>();

    // Genesys' published rules: comments shortened to its limits, and each run's edit window.
    let shortened = ledger.shortened_comments(run)?;
    let windows = crate::pipeline::edit_window::per_run(
        cfg,
        ledger,
        jiff::Timestamp::now().as_millisecond(),
    )?
    .into_iter()
    .map(|w| WindowRow {
        line: w.line(),
        warning: w.warning,
    })
    .collect();

    // Where the history landed: three dates, and what Genesys' analytics showed at the last verify.
    let (timeline_chart, timeline_rows) = timelines::build(ledger)?;
    let timeline_diffs = last_verify
        .as_ref()
        .and_then(|(_, v)| v.timeline.clone())
        .map(|t| match t.unchecked {
            Some(why) => vec![format!("not checked: {why}")],
            None => t
                .differing
                .iter()
                .map(crate::verify::TimelineDiff::line)
                .collect(),
        })
        .unwrap_or_default();
    // Genesys' own audit trail at the last verify: the summary and each finding.
    let audit = last_verify.and_then(|(_, v)| v.audit);
    let (audit_line, audit_findings) = audit.map_or_else(
        || (String::new(), Vec::new()),
        |a| {
            let mut lines: Vec<String> = a.findings.iter().map(|f| f.line()).collect();
            lines.extend(a.pending.iter().map(|f| format!("pending: {}", f.line())));
            (a.line(), lines)
        },
    );

    let page = ReportPage {
        audit_line,
        audit_findings,
        timeline_chart,
        timeline_rows,
        timeline_diffs,
        comment_limits: (cfg.form.comment_limit, cfg.form.answer_comment_limit),
        edit_window_days: cfg.sync.edit_window_days,
        shortened,
        windows,
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
