//! The history channel (DESIGN §1): every source record, whatever its fate, kept per agent.
//!
//! `history/agents/<agent>.jsonl` holds one entry per record of the latest extract: where it stood,
//! its raw text, the canonical record (or why it could not be read), its disposition and reason, the
//! plan, the load item (Genesys evaluation id) and every request sent for it with the response. Each
//! file is rewritten atomically (a temporary file renamed over it) with mode 0600, so a re-run
//! updates it and never appends a second entry. `history/site/` is a static, self-contained site
//! (no network access, no external assets, works from `file://`): an index of agents with a search
//! box, and one page per agent with a score timeline over the real evaluation dates, section trends
//! and every record. Every source string is HTML-escaped (askama) and control characters are shown
//! as `[U+0007]`, never passed through.
//!
//! Records are streamed from the ledger ordered by agent, so memory holds one agent at a time.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::{Context, Result};
use askama::Template;
use qm_model::CanonicalEvaluation;
use serde::Serialize;
use serde_json::{Value, json};

use crate::config::Config;
use crate::fsutil::write_private;
use crate::ledger::Ledger;

/// What `history::write` produced.
#[derive(Debug, Clone, Default, Serialize)]
pub struct HistorySummary {
    /// Entries written (one per record of the latest extract).
    pub entries: u64,
    /// Agents (JSONL files and pages).
    pub agents: u64,
    /// Agents without a Genesys account, listed under the legacy group.
    pub legacy_agents: u64,
    /// The site's index page.
    pub index: String,
}

/// `text` with control characters (other than newline and tab) made visible.
fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() && c != '\n' && c != '\t' && c != '\r' {
            out.push_str(&format!("[U+{:04X}]", u32::from(c)));
        } else {
            out.push(c);
        }
    }
    out
}

/// A file name for `key`: readable ASCII, plus a hash so different agents never collide.
fn slug(label: &str, key: &str) -> String {
    let mut s: String = label
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    s = s
        .split('-')
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join("-");
    s.truncate(40);
    let hash = uuid::Uuid::new_v5(&qm_model::ids::NAMESPACE, key.as_bytes())
        .simple()
        .to_string();
    format!(
        "{}-{}",
        if s.is_empty() { "agent" } else { &s },
        &hash[..10]
    )
}

struct SectionRow {
    name: String,
    count: usize,
    mean: String,
    trend: String,
}

struct EntryRow {
    record_id: i64,
    date: String,
    form: String,
    evaluator: String,
    score: String,
    disposition: String,
    genesys: String,
    reason: String,
    name: String,
    source: String,
    comments: Vec<String>,
}

#[derive(Template)]
#[template(path = "history_agent.html")]
struct AgentPage {
    name: String,
    group: String,
    identity: String,
    count: usize,
    first: String,
    last: String,
    mean: String,
    chart: crate::chart::Chart,
    sections: Vec<SectionRow>,
    rows: Vec<EntryRow>,
}

struct IndexRow {
    name: String,
    search: String,
    page: String,
    count: usize,
    first: String,
    last: String,
    mean: String,
    migrated: usize,
}

struct Group {
    name: String,
    rows: Vec<IndexRow>,
}

#[derive(Template)]
#[template(path = "history_index.html")]
struct IndexPage {
    records: u64,
    agents: u64,
    generated: String,
    groups: Vec<Group>,
}

/// One record as the history keeps it.
struct Entry {
    json: Value,
    row: EntryRow,
    date: Option<jiff::Timestamp>,
    score: Option<f64>,
    migrated: bool,
    sections: Vec<(String, f64)>,
}

/// One agent being gathered.
#[derive(Default)]
struct Agent {
    key: String,
    label: String,
    identity: String,
    genesys: Option<String>,
    entries: Vec<Entry>,
}

/// Writes the history of the latest extract into `[history] dir`.
///
/// # Errors
/// Ledger and I/O errors.
pub fn write(cfg: &Config, ledger: &Ledger) -> Result<HistorySummary> {
    let _lease = crate::lease::acquire(&cfg.ledger.path, "history")?;
    let dir = &cfg.history.dir;
    let Some(run) = ledger.latest_extract()? else {
        return Ok(HistorySummary::default());
    };
    let mut summary = HistorySummary::default();
    let mut index: BTreeMap<String, Vec<IndexRow>> = BTreeMap::new();
    let mut current = Agent::default();
    let mut written_files = std::collections::HashSet::new();
    ledger.clear_history_pages()?;
    ledger.scan_history(run, |r| {
        let key = r.agent_key.clone();
        if key != current.key && !current.entries.is_empty() {
            finish(
                ledger,
                cfg,
                dir,
                std::mem::take(&mut current),
                &mut index,
                &mut summary,
                &mut written_files,
            )?;
        }
        current.key = key;
        let record_id = r.record_id;
        let locator = r.locator.clone();
        let canonical_text = r.canonical.clone();
        let ev: Option<CanonicalEvaluation> = canonical_text
            .as_deref()
            .and_then(|t| serde_json::from_str(t).ok());
        let disposition = r.disposition.clone();
        let reason = r.reason.clone();
        let agent_user = r.agent_user_id.clone();
        let score = r.score;
        let load_state = r.load_state.clone();
        let genesys_eval = r.genesys_evaluation_id.clone();
        let attempts: Vec<Value> = ledger
            .attempts_of(record_id)?
            .into_iter()
            .map(|a| {
                json!({
                    "started_at": a.started_at,
                    "finished_at": a.finished_at,
                    "outcome": a.outcome,
                    "status": a.status,
                    "code": a.code,
                    "message": a.message,
                    "response": a.response,
                })
            })
            .collect();
        let entry_json = json!({
            "record": {"id": record_id, "name": r.name, "evaluation_id": r.evaluation_id,
                       "last_seen": locator, "sha256": r.hash},
            "raw": r.raw,
            "canonical": canonical_text.as_deref().and_then(|t| serde_json::from_str::<Value>(t).ok()),
            "error": r.error.as_ref().map(|m| json!({"field": r.error_field, "message": m})),
            "disposition": disposition,
            "reason": reason,
            "plan": {
                "agent_user_id": agent_user, "evaluator_user_id": r.evaluator_user_id,
                "conversation_id": r.conversation_id, "link_strategy": r.link_strategy,
                "evaluated_at": r.evaluated_at, "date_basis": r.date_basis,
                "score": score, "method": r.method, "predicted": r.predicted,
                "agent_match": r.agent_match, "link": r.link_detail,
                "comments_shortened": r.comments_shortened,
            },
            "load": load_state.as_ref().map(|st| json!({
                "state": st, "genesys_evaluation_id": genesys_eval, "idempotency_key": r.idempotency_key,
                "sent_at": r.sent_at, "release_date": r.release_date,
                "genesys_total": r.genesys_total, "code": r.code,
                "message": r.message,
            })),
            "requests": attempts,
        });
        if current.label.is_empty()
            && let Some(ev) = &ev
        {
            current.label = ev.agent.label();
            current.identity = ev
                .agent
                .identifiers()
                .iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ");
        }
        if current.genesys.is_none() {
            current.genesys = agent_user.clone();
        }
        let date = r
            .evaluated_at
            .as_deref()
            .and_then(|d| d.parse::<jiff::Timestamp>().ok())
            .or_else(|| {
                ev.as_ref()
                    .and_then(|e| e.dates.evaluated_at_utc.or(e.dates.created_at_utc))
            });
        let migrated = load_state.as_deref() == Some("created");
        let sections: Vec<(String, f64)> = ev
            .as_ref()
            .map(|e| {
                e.sections
                    .iter()
                    .filter_map(|s| {
                        let (v, m) = (s.score?, s.max?);
                        (m > 0.0).then(|| (s.name.clone().unwrap_or_default(), v / m * 100.0))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let row = EntryRow {
            record_id,
            date: date
                .map(|d| d.strftime("%Y-%m-%d").to_string())
                .unwrap_or_else(|| "(no date)".into()),
            form: visible(&ev.as_ref().map(|e| e.form.key()).unwrap_or_default()),
            evaluator: visible(
                &ev.as_ref()
                    .and_then(|e| e.evaluator.as_ref().map(qm_model::Person::label))
                    .unwrap_or_default(),
            ),
            score: score.map(|s| format!("{s:.1} %")).unwrap_or_default(),
            disposition: disposition.clone().unwrap_or_else(|| "unplanned".into()),
            genesys: if migrated {
                genesys_eval.clone().unwrap_or_default()
            } else {
                String::new()
            },
            reason: visible(&reason.clone().unwrap_or_default()),
            name: visible(&r.name),
            source: visible(&locator),
            comments: ev
                .as_ref()
                .map(|e| e.comments.iter().map(|c| visible(&c.text)).collect())
                .unwrap_or_default(),
        };
        current.entries.push(Entry {
            json: entry_json,
            row,
            date,
            score,
            migrated,
            sections,
        });
        Ok(())
    })?;
    if !current.entries.is_empty() {
        finish(
            ledger,
            cfg,
            dir,
            current,
            &mut index,
            &mut summary,
            &mut written_files,
        )?;
    }
    // Agents no longer in the extract: their files go (a re-run mirrors the ledger).
    for sub in ["agents", "site/agents"] {
        if let Ok(list) = std::fs::read_dir(dir.join(sub)) {
            for f in list.flatten() {
                let name = f.file_name().to_string_lossy().into_owned();
                if !written_files.contains(&format!("{sub}/{name}")) {
                    let _ = std::fs::remove_file(f.path());
                }
            }
        }
    }
    let groups = index
        .into_iter()
        .map(|(name, mut rows)| {
            rows.sort_by_key(|a| a.name.to_lowercase());
            Group { name, rows }
        })
        .collect();
    let page = IndexPage {
        records: summary.entries,
        agents: summary.agents,
        generated: jiff::Timestamp::now()
            .strftime("%Y-%m-%d %H:%M UTC")
            .to_string(),
        groups,
    };
    let index_path = dir.join("site/index.html");
    write_private(
        &index_path,
        page.render().context("history index page")?.as_bytes(),
    )?;
    summary.index = index_path.display().to_string();
    Ok(summary)
}

fn fmt_pct(v: Option<f64>) -> String {
    v.map(|v| format!("{v:.1} %")).unwrap_or_else(|| "—".into())
}

fn mean(v: &[f64]) -> Option<f64> {
    (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
}

fn finish(
    ledger: &Ledger,
    cfg: &Config,
    dir: &Path,
    agent: Agent,
    index: &mut BTreeMap<String, Vec<IndexRow>>,
    summary: &mut HistorySummary,
    written: &mut std::collections::HashSet<String>,
) -> Result<()> {
    let label = if agent.label.is_empty() {
        "Unreadable records (no agent)".to_owned()
    } else {
        visible(&agent.label)
    };
    let file = slug(&label, &agent.key);
    // JSONL: one line per record.
    let mut jsonl = String::new();
    for e in &agent.entries {
        jsonl.push_str(&serde_json::to_string(&e.json)?);
        jsonl.push('\n');
    }
    write_private(&dir.join(format!("agents/{file}.jsonl")), jsonl.as_bytes())?;
    written.insert(format!("agents/{file}.jsonl"));

    let dated: Vec<&Entry> = agent.entries.iter().filter(|e| e.date.is_some()).collect();
    let first = dated.iter().filter_map(|e| e.date).min();
    let last = dated.iter().filter_map(|e| e.date).max();
    let day = |t: Option<jiff::Timestamp>| {
        t.map(|t| t.strftime("%Y-%m-%d").to_string())
            .unwrap_or_else(|| "—".into())
    };
    let scores: Vec<f64> = agent.entries.iter().filter_map(|e| e.score).collect();
    let mean_score = mean(&scores);
    // Timeline: x by real date, y by normalised score (the chart code the report shares).
    let mut chart = crate::chart::Chart::new(
        "score over time",
        (760, 220),
        (
            first.map_or(0.0, |t| t.as_second() as f64),
            last.map_or(1.0, |t| t.as_second() as f64),
        ),
        (day(first), day(last)),
        100.0,
        "100".into(),
    );
    let data = agent
        .entries
        .iter()
        .filter_map(|e| {
            let (d, s) = (e.date?, e.score?);
            Some(crate::chart::Datum {
                x: d.as_second() as f64,
                y: s,
                filled: e.migrated,
                label: format!(
                    "{}: {s:.1} %{}",
                    e.row.date,
                    if e.migrated { " (in Genesys)" } else { "" }
                ),
            })
        })
        .collect();
    chart.add("score", "#2a6", data);
    // Section trends: mean, and the mean of the first half of the timeline against the second.
    let mut by_section: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for e in &agent.entries {
        for (name, v) in &e.sections {
            by_section.entry(name.clone()).or_default().push(*v);
        }
    }
    let sections = by_section
        .into_iter()
        .map(|(name, v)| {
            let half = v.len() / 2;
            let trend = if half == 0 {
                "—".to_owned()
            } else {
                format!(
                    "{} → {}",
                    fmt_pct(mean(&v[..half])),
                    fmt_pct(mean(&v[half..]))
                )
            };
            SectionRow {
                name: visible(&name),
                count: v.len(),
                mean: fmt_pct(mean(&v)),
                trend,
            }
        })
        .collect();
    let group = if agent.genesys.is_some() {
        "Agents with a Genesys account".to_owned()
    } else {
        summary.legacy_agents += 1;
        cfg.history.legacy_group.clone()
    };
    let migrated = agent.entries.iter().filter(|e| e.migrated).count();
    let identity = match &agent.genesys {
        Some(g) => format!("{} · Genesys user {g}", visible(&agent.identity)),
        None => format!("{} · no Genesys account", visible(&agent.identity)),
    };
    let count = agent.entries.len();
    let page = AgentPage {
        name: label.clone(),
        group: group.clone(),
        identity: identity.clone(),
        count,
        first: day(first),
        last: day(last),
        mean: fmt_pct(mean_score),
        chart,
        sections,
        rows: agent.entries.into_iter().map(|e| e.row).collect(),
    };
    write_private(
        &dir.join(format!("site/agents/{file}.html")),
        page.render().context("history agent page")?.as_bytes(),
    )?;
    written.insert(format!("site/agents/{file}.html"));
    ledger.put_history_page(&agent.key, &format!("agents/{file}.html"))?;
    index.entry(group).or_default().push(IndexRow {
        search: format!("{label} {identity}").to_lowercase(),
        name: label,
        page: format!("agents/{file}.html"),
        count,
        first: day(first),
        last: day(last),
        mean: fmt_pct(mean_score),
        migrated,
    });
    summary.agents += 1;
    summary.entries += count as u64;
    Ok(())
}
