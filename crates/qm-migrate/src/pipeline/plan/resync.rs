//! Sync: a record whose evaluation is already in Genesys is never planned again; a change of its
//! content since it was sent is a sync action (`[sync] on_change`), and a change that moves it
//! off its conversation, agent or disposition is withdrawn or listed (`[sync] on_withdraw`).

use super::planner::Planner;
use super::writer::SyncCounts;
use super::*;
use crate::ledger::SyncRow;

/// The sync action for record `r`, whose evaluation Genesys holds as `s` says.
///
/// # Errors
/// Ledger errors, or a record whose canonical JSON cannot be read.
pub(super) fn resync(
    planner: &Planner,
    ledger: &Ledger,
    r: &RecordRow,
    s: &SyncRow,
    counts: &mut SyncCounts,
) -> Result<()> {
    let cfg = &planner.ctx.cfg;
    let back = s.synced_hash.as_deref() == Some(r.hash.as_str());
    // Back to what Genesys holds (a change undone, a record that returned): nothing to do, and a
    // pending update must not send the content in between.
    if back && matches!(s.sync_state.as_deref(), Some("flagged" | "withdraw")) {
        ledger.set_sync(r.id, None, Some("back in step with the source"))?;
    }
    // Past Genesys' edit window: a change cannot be applied, and stays listed as it was.
    if s.edit_window_closed.is_some() && !back {
        return Ok(());
    }
    if s.synced_hash.is_none()
        || (back && s.sync_state.as_deref() != Some("update"))
        || matches!(s.sync_state.as_deref(), Some("edited" | "updating"))
    {
        return Ok(());
    }
    let before = ledger.plan(r.id)?;
    let mut p = match &r.canonical {
        Some(text) => {
            let ev: CanonicalEvaluation = serde_json::from_str(text).with_context(|| {
                format!("ledger record {} holds unreadable canonical JSON", r.id)
            })?;
            let mut p = plan_one(&planner.ctx, r.id, &r.locator, ev.clone(), None);
            if p.match_at.is_some() {
                // Only `match` could link it, and it did: it stays on that conversation (the
                // agent's day is not queried again).
                let strategy = before
                    .as_ref()
                    .and_then(|p| p.link_strategy.clone())
                    .unwrap_or_else(|| "kept".into());
                let kept = Some((s.conversation_id.clone(), strategy));
                p = plan_one(&planner.ctx, r.id, &r.locator, ev, kept);
            }
            if p.row.disposition.is_none() && p.candidate.is_some() {
                prepare_one(cfg, &planner.def, &planner.mirrors, &mut p);
            }
            p
        }
        None => decided(
            r.id,
            Disposition::Quarantined,
            format!("{}: now unreadable", r.locator),
        ),
    };
    let same_target = p.row.answers.is_some()
        && p.row
            .disposition
            .is_none_or(|d| d == Disposition::Evaluation)
        && p.candidate
            .as_ref()
            .is_some_and(|(c, _)| *c == s.conversation_id)
        && p.agent.as_ref().is_some_and(|a| a.id == s.agent_user_id);
    if !same_target {
        let why = format!(
            "changed in Calabrio and no longer this evaluation: now {} ({})",
            p.row.disposition.map_or("unlinked", |d| d.as_str()),
            p.row.reason
        );
        return withdraw_or_flag(cfg, ledger, r.id, &why, counts);
    }
    // The conversation is the same: its start as plan read it before.
    p.row.conversation_start = before.and_then(|b| b.conversation_start);
    if back {
        // The change was undone before it was sent: the plan is Genesys' content again.
        p.row.record_hash = Some(r.hash.clone());
        p.row.disposition = Some(Disposition::Evaluation);
        ledger.put_plan(&p.row)?;
        ledger.set_sync(
            r.id,
            None,
            Some("the change was undone in Calabrio before it was sent"),
        )?;
    } else if cfg.sync.on_change == "update" {
        p.row.record_hash = Some(r.hash.clone());
        p.row.disposition = Some(Disposition::Evaluation);
        ledger.put_plan(&p.row)?;
        let why = format!(
            "changed in Calabrio (now {:.2} %): Genesys is to take the new answers",
            p.row.predicted.unwrap_or_default()
        );
        ledger.set_sync(r.id, Some("update"), Some(&why))?;
        counts.0 += 1;
    } else {
        let why = format!(
            "changed in Calabrio (now {:.2} %); left as it is in Genesys ([sync] on_change = \"flag\")",
            p.row.predicted.unwrap_or_default()
        );
        ledger.set_sync(r.id, Some("flagged"), Some(&why))?;
        counts.1 += 1;
    }
    Ok(())
}
