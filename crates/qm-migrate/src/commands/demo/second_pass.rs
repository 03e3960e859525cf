//! The demo's second pass: meanwhile in Calabrio one evaluation is re-scored, one added and one
//! deleted (a later export, edited row by row so the rows left alone keep their hash), and in
//! Genesys a supervisor edits one; the same `run` then syncs, and verify lists what a person must
//! settle.

use std::path::Path;

use anyhow::{Context, Result};
use serde_json::json;

use crate::config::{Config, Credentials};
use crate::fsutil;
use crate::ledger::Ledger;

/// What the demo's second pass did.
pub(super) struct SecondPass {
    pub(super) rows: Vec<(&'static str, String)>,
    pub(super) json: serde_json::Value,
    pub(super) ok: bool,
}

/// One CSV export: its header and each row's exact bytes (so rows left alone keep their hash).
///
/// # Errors
/// An unreadable file.
pub fn export_rows(path: &Path) -> Result<(Vec<u8>, Vec<Vec<u8>>)> {
    let data = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(&data[..]);
    let mut starts = Vec::new();
    let mut rec = csv::ByteRecord::new();
    loop {
        let at = usize::try_from(r.position().byte())?;
        if !r.read_byte_record(&mut rec)? {
            break;
        }
        starts.push(at);
    }
    starts.push(data.len());
    let mut rows: Vec<Vec<u8>> = starts
        .windows(2)
        .map(|w| {
            // A record's position is where its predecessor's line ending starts.
            let mut row = data[w[0]..w[1]].to_vec();
            while row.first().is_some_and(|b| *b == b'\r' || *b == b'\n') {
                row.remove(0);
            }
            if !row.ends_with(b"\n") {
                row.push(b'\n');
            }
            row
        })
        .collect();
    anyhow::ensure!(!rows.is_empty(), "{} is empty", path.display());
    let header = rows.remove(0);
    Ok((header, rows))
}

/// `row` (one CSV record) with the given columns replaced.
///
/// # Errors
/// A row that is not CSV.
pub fn edit_row(row: &[u8], edits: &[(usize, &str)]) -> Result<Vec<u8>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(row);
    let rec = r.records().next().context("empty row")??;
    let mut fields: Vec<String> = rec.iter().map(str::to_owned).collect();
    for (col, value) in edits {
        if let Some(f) = fields.get_mut(*col) {
            (*value).clone_into(f);
        }
    }
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&fields)?;
    w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

/// The evaluation ids and Genesys ids the second pass touches.
pub(super) struct Touched {
    changed: (String, String),
    deleted: (String, String),
    added: String,
    edited_in_genesys: (String, String),
    new_score: f64,
}

/// Writes `later`: the export at `src` with one created evaluation re-scored (score and comment),
/// one deleted, one added (a copy of another under a new id), and one more comment changed (the
/// evaluation a supervisor edits in Genesys).
pub(super) fn later_export(ledger: &Ledger, src: &Path, later: &Path) -> Result<Touched> {
    let (header, mut rows) = export_rows(src)?;
    let names: Vec<String> = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&header[..])
        .records()
        .next()
        .context("no header")??
        .iter()
        .map(str::to_owned)
        .collect();
    let col = |n: &str| {
        names
            .iter()
            .position(|h| h == n)
            .with_context(|| format!("the export has no column {n}"))
    };
    let (c_id, c_type, c_total, c_raw, c_comment) = (
        col("evaluation_id")?,
        col("scoring_type")?,
        col("total_score")?,
        col("raw_additive_score")?,
        col("evaluation_comment")?,
    );
    let field = |row: &[u8], c: usize| -> String {
        csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(row)
            .records()
            .next()
            .and_then(Result::ok)
            .and_then(|r| r.get(c).map(str::to_owned))
            .unwrap_or_default()
    };
    let created = ledger.created_by_calabrio_id()?;
    let mut picks = rows
        .iter()
        .enumerate()
        .filter(|(_, r)| field(r, c_type) == "percentage" && created.contains_key(&field(r, c_id)))
        .map(|(i, r)| (i, field(r, c_id)));
    let (ci, cid) = picks.next().context("no created evaluation to re-score")?;
    let (di, did) = picks.next().context("no created evaluation to delete")?;
    let (ti, tid) = picks.next().context("no created evaluation to copy")?;
    let (ei, eid) = picks.next().context("no created evaluation to edit")?;
    let old = created[&cid].1.unwrap_or(50.0);
    let new_score = if old >= 50.0 { 35.0 } else { 85.0 };
    let score = format!("{new_score}");
    rows[ci] = edit_row(
        &rows[ci],
        &[
            (c_total, &score),
            (c_raw, ""),
            (c_comment, "Re-scored after a dispute (demo second pass)."),
        ],
    )?;
    rows[ei] = edit_row(
        &rows[ei],
        &[(c_comment, "Comment corrected in Calabrio later.")],
    )?;
    let added_id = "99999001".to_owned();
    let copy = edit_row(&rows[ti], &[(c_id, &added_id)])?;
    let _ = tid;
    rows.push(copy);
    rows.remove(di);
    let mut bytes = header;
    for r in &rows {
        bytes.extend_from_slice(r);
    }
    fsutil::write_private(later, &bytes)?;
    Ok(Touched {
        changed: (cid.clone(), created[&cid].0.clone()),
        deleted: (did.clone(), created[&did].0.clone()),
        added: added_id,
        edited_in_genesys: (eid.clone(), created[&eid].0.clone()),
        new_score,
    })
}

/// The second pass: a later export (one re-scored, one added, one deleted), a supervisor's edit in
/// Genesys, and `run` again: the re-scored evaluation is updated in place, the added one created,
/// the deleted one listed, the edited one listed and left alone.
#[allow(clippy::too_many_arguments)]
pub(super) async fn second_pass(
    cfg: &mut Config,
    state: &emulator::EmulatorState,
    creds: Credentials,
    clock: genesys::Clock,
    later: &Path,
    exceptions: &Path,
    report_path: &Path,
    progress: &indicatif::ProgressBar,
) -> Result<SecondPass> {
    let ledger = Ledger::open(&cfg.ledger.path)?;
    let touched = later_export(&ledger, &cfg.source.path, later)?;
    drop(ledger);
    state.edit_evaluation(&touched.edited_in_genesys.1, |e| {
        if let Some(a) = e.answers.as_mut() {
            a.comments = Some("Supervisor note added in Genesys.".into());
        }
    });
    let created_before = state.evaluations().len();
    let handle = emulator::spawn("127.0.0.1:0", state.clone()).await?;
    cfg.genesys.api_url = Some(handle.url());
    cfg.genesys.login_url = Some(handle.url());
    cfg.source.path = later.to_path_buf();
    let client = crate::client_with_clock(cfg, creds, clock)?;
    let result = crate::run_all_with(
        cfg,
        &client,
        Some(exceptions),
        report_path,
        progress,
        None,
        0,
    )
    .await;
    handle.stop().await;
    let run = result?;
    let j = &run.json;
    let n = |v: &serde_json::Value| v.as_u64().unwrap_or(0);
    let updated = n(&j["load_run"]["updated_now"]);
    let created = n(&j["load_run"]["created_now"]);
    let edited = n(&j["load_run"]["edited_in_genesys"]);
    let flagged = n(&j["plan"]["sync_flagged"]);
    let drift: Vec<crate::verify::Drift> =
        serde_json::from_value(j["verify"]["drift"].clone()).unwrap_or_default();
    let now_total = state
        .evaluations()
        .into_iter()
        .find(|e| e.id == touched.changed.1)
        .and_then(|e| e.answers)
        .and_then(|a| a.total_score);
    let versions = state.evaluation_versions(&touched.changed.1);
    let drift_ids: std::collections::BTreeSet<&str> =
        drift.iter().map(|d| d.evaluation_id.as_str()).collect();
    // Genesys' own audit trail names the supervisor's edit, and nothing else.
    let audit: Option<crate::verify::AuditCheck> =
        serde_json::from_value(j["verify"]["audit"].clone()).ok();
    let audit_named: Option<Vec<(&str, &str)>> = audit.as_ref().map(|a| {
        a.findings
            .iter()
            .map(|f| (f.evaluation_id.as_str(), f.action.as_str()))
            .collect()
    });
    let ok = updated == 1
        && audit_named == Some(vec![(touched.edited_in_genesys.1.as_str(), "Update")])
        && created == 1
        && edited == 1
        && flagged == 1
        && versions == Some(2)
        && now_total.is_some_and(|t| (t - touched.new_score).abs() <= cfg.scoring.tolerance + 0.01)
        && state.evaluations().len() == created_before + 1
        && drift_ids
            == [
                touched.deleted.1.as_str(),
                touched.edited_in_genesys.1.as_str(),
            ]
            .into_iter()
            .collect();
    let rows = vec![
        (
            "re-scored in Calabrio",
            format!(
                "evaluation {} → Genesys {} updated in place to {} ({} versions, one evaluation)",
                touched.changed.0,
                touched.changed.1,
                now_total.map_or("?".into(), |t| format!("{t:.2} %")),
                versions.unwrap_or(0)
            ),
        ),
        (
            "added in Calabrio",
            format!("evaluation {}: {created} created", touched.added),
        ),
        (
            "deleted in Calabrio",
            format!(
                "evaluation {} → Genesys {} listed as drift ([sync] on_withdraw = \"{}\")",
                touched.deleted.0, touched.deleted.1, cfg.sync.on_withdraw
            ),
        ),
        (
            "edited in Genesys",
            format!(
                "evaluation {} → Genesys {}: the Calabrio change is listed, the supervisor's edit kept",
                touched.edited_in_genesys.0, touched.edited_in_genesys.1
            ),
        ),
        (
            "verify",
            format!(
                "{} drift from the source as it stands (the two listed above); exit 1 until a person settles them",
                drift.len()
            ),
        ),
        (
            "audit trail",
            match audit
                .as_ref()
                .and_then(|a| a.findings.first().map(|f| (a, f)))
            {
                Some((a, f)) => format!(
                    "{}; named: {}, {}; who: {}; when: {}",
                    a.line(),
                    f.record,
                    f.what,
                    f.who,
                    f.when
                ),
                None => audit.as_ref().map_or_else(
                    || "not checked ([verify] audit = false)".to_owned(),
                    crate::verify::AuditCheck::line,
                ),
            },
        ),
    ];
    Ok(SecondPass {
        rows,
        json: json!({
            "updated": updated, "created": created, "edited_in_genesys": edited, "flagged": flagged,
            "changed": touched.changed, "deleted": touched.deleted, "added": touched.added,
            "edited": touched.edited_in_genesys, "drift": drift, "ok": ok,
        }),
        ok,
    })
}
