//! The planning pass: every record of the latest extract streams by once, in source order, and is
//! decided and written once.
//!
//! Two threads: one reads a chunk of records from the ledger and writes the plans; the other
//! decides the chunk after it (parse, people, link, answers, score: [`Planner::prepare`]), which
//! needs no ledger. A record linked to a conversation waits in [`Links`] for the conversation's
//! check; the checks run in the background, several at a time, while the pass goes on.

use std::sync::Arc;

use indicatif::ProgressBar;

use super::link::Links;
use super::planner::Planner;
use super::writer::{SyncCounts, Writer};
use super::*;
use crate::ledger::SyncRow;

/// Records in a chunk between the two threads: three are alive at once (queued, being prepared,
/// being written), each record with its parsed evaluation and answers beside it.
const CHUNK: usize = 500;

/// The pass over the records, and what it carries from one record to the next.
pub(super) struct Pass<'a> {
    pub(super) planner: Arc<Planner>,
    pub(super) writer: Writer<'a>,
    pub(super) links: Links,
    /// Load items in Genesys, by record.
    pub(super) synced: HashMap<i64, SyncRow>,
    pub(super) sync_counts: SyncCounts,
    pub(super) bar: ProgressBar,
}

impl Pass<'_> {
    /// Streams every record of the latest extract through [`Self::record`], prepared one chunk
    /// ahead on a second thread, then writes the records still waiting for a conversation check.
    ///
    /// # Errors
    /// Ledger errors, a failed conversation check, or the preparing thread stopping.
    pub(super) async fn run(&mut self) -> Result<()> {
        let ledger = self.writer.ledger;
        let (to_worker, mut chunks) = tokio::sync::mpsc::channel::<Vec<RecordRow>>(1);
        let (to_writer, mut prepared) = tokio::sync::mpsc::channel(1);
        let planner = Arc::clone(&self.planner);
        let worker = std::thread::Builder::new()
            .name("plan-prepare".into())
            .spawn(move || {
                while let Some(chunk) = chunks.blocking_recv() {
                    let out: Vec<(RecordRow, Option<Result<Pending>>)> = chunk
                        .into_iter()
                        .map(|r| {
                            let t = planner.prepare(&r);
                            (r, t)
                        })
                        .collect();
                    if to_writer.blocking_send(out).is_err() {
                        return; // the pass failed: nobody is listening
                    }
                }
            })
            .context("cannot start the planning thread")?;
        let stopped = || anyhow::anyhow!("the planning thread stopped");
        let mut cursor = ledger.current_records_cursor()?;
        let mut in_flight = 0usize;
        loop {
            let chunk = ledger.next_current_records(&mut cursor, CHUNK)?;
            let done = chunk.is_empty();
            if !done {
                to_worker.send(chunk).await.map_err(|_| stopped())?;
                in_flight += 1;
            }
            // One chunk stays with the worker while this thread writes the one before.
            while in_flight > usize::from(!done) {
                let out = prepared.recv().await.ok_or_else(stopped)?;
                in_flight -= 1;
                for (r, t) in out {
                    self.record(r, t).await?;
                    self.bar.inc(1);
                }
            }
            if done {
                break;
            }
        }
        drop(to_worker);
        worker.join().map_err(|_| stopped())?;
        self.bar.set_message("plan: conversations checked");
        tracing::info!(
            waiting = self.links.waiting(),
            "Plan: records read; the last conversation checks are coming back."
        );
        self.links.finish_checks(&mut self.writer).await
    }

    /// Plans record `r` (`prepared`: what the preparing thread made of it) and writes it, or
    /// hands it to the conversation check or to `match`.
    async fn record(&mut self, r: RecordRow, prepared: Option<Result<Pending>>) -> Result<()> {
        let planner = Arc::clone(&self.planner);
        if planner.keep.contains(&r.id) {
            // Already in Genesys: a change of its content since is a sync action.
            return match self.synced.get(&r.id) {
                Some(s) => super::resync::resync(
                    &planner,
                    self.writer.ledger,
                    &r,
                    s,
                    &mut self.sync_counts,
                ),
                None => Ok(()),
            };
        }
        let ledger = self.writer.ledger;
        let mut p = if let Some(loc) = r
            .evaluation_id
            .as_ref()
            .and_then(|id| planner.sent_ids.get(id))
        {
            decided(
                r.id,
                Disposition::Excluded,
                format!(
                    "evaluation {} was already sent to Genesys from {loc}; this other version is not sent again (reconcile it by hand)",
                    r.evaluation_id.as_deref().unwrap_or_default()
                ),
            )
        } else if let Some(p) = prepared {
            p?
        } else if let Some(text) = &r.canonical {
            let ev: CanonicalEvaluation = serde_json::from_str(text).with_context(|| {
                format!("ledger record {} holds unreadable canonical JSON", r.id)
            })?;
            match planner.superseded.get(&r.id) {
                Some(&winner) => decided(
                    r.id,
                    Disposition::Excluded,
                    format!(
                        "superseded duplicate: evaluation {} appears again at {}{}; the newest is kept",
                        ev.evaluation_id,
                        ledger.locator_of(winner)?,
                        if ledger.hash_of(winner)? == r.hash {
                            " (identical content)"
                        } else {
                            ""
                        }
                    ),
                ),
                None => planner.plan(r.id, &r.locator, ev, None),
            }
        } else {
            let what = match (&r.error_field, &r.error) {
                (Some(f), Some(e)) => format!("field '{f}': {e}"),
                (None, Some(e)) => e.clone(),
                _ => "unreadable".into(),
            };
            decided(
                r.id,
                Disposition::Quarantined,
                format!("{}: {what}", r.locator),
            )
        };
        p.row.record_hash = Some(r.hash);
        match (p.match_at, p.candidate.take(), p.agent.as_ref()) {
            (Some(at), _, Some(agent)) => {
                self.links
                    .defer_match(r.id, (&agent.id, &p.agent_label), at);
                Ok(())
            }
            (None, Some((conversation, _)), Some(agent)) => {
                let key = create_key(&planner.ctx.cfg, &p.evaluation_id);
                self.links
                    .check(
                        p.row,
                        &conversation,
                        (&agent.id, &p.agent_label),
                        key,
                        &mut self.writer,
                    )
                    .await
            }
            _ => self.writer.write(&p.row, None),
        }
    }
}
