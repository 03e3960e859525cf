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
use super::*;
use crate::ledger::SyncRow;

/// Records in a chunk between the two threads: three are alive at once (queued, being prepared,
/// being written), each record with its parsed evaluation and answers beside it.
const CHUNK: usize = 500;

/// Commit every so many writes, so the WAL can be checkpointed.
const COMMIT_EVERY: u64 = 5000;

/// What planning consults, owned, so the preparing thread can share it.
pub(super) struct Planner {
    pub(super) ctx: Ctx,
    /// The form the answers are scored against (the same for every record).
    pub(super) def: genesys::models::EvaluationForm,
    /// Mirror mode: every Calabrio form the source defined, mirrored once.
    pub(super) mirrors: Mirrors,
    /// Records already sent (or possibly sent): kept as they are.
    pub(super) keep: HashSet<i64>,
    /// Superseded records, with the record of the same evaluation that supersedes each.
    pub(super) superseded: HashMap<i64, i64>,
    /// Evaluation ids already sent, with where they were sent from: never sent again from
    /// another record.
    pub(super) sent_ids: HashMap<String, String>,
}

impl Planner {
    /// Decides record `record_id` and, if it is to be an evaluation, encodes its answers.
    /// `linked`: a conversation `match` found for it.
    pub(super) fn plan(
        &self,
        record_id: i64,
        locator: &str,
        ev: CanonicalEvaluation,
        linked: Option<(String, String)>,
    ) -> Pending {
        let mut p = plan_one(&self.ctx, record_id, locator, ev, linked);
        if p.row.disposition.is_none() {
            prepare_one(&self.ctx.cfg, &self.def, &self.mirrors, &mut p);
        }
        p
    }

    /// The part of planning a record that needs no ledger, for the preparing thread; `None` for
    /// the records the writing thread decides (kept, superseded, already sent, unreadable).
    fn prepare(&self, r: &RecordRow) -> Option<Result<Pending>> {
        if self.keep.contains(&r.id)
            || self.superseded.contains_key(&r.id)
            || r.evaluation_id
                .as_ref()
                .is_some_and(|id| self.sent_ids.contains_key(id))
        {
            return None;
        }
        let text = r.canonical.as_ref()?;
        Some(
            serde_json::from_str::<CanonicalEvaluation>(text)
                .with_context(|| format!("ledger record {} holds unreadable canonical JSON", r.id))
                .map(|ev| self.plan(r.id, &r.locator, ev, None)),
        )
    }
}

/// The load item a plan row arms: the key of its create, its conversation and agent.
pub(super) struct Load<'a> {
    pub(super) key: uuid::Uuid,
    pub(super) conversation: &'a str,
    pub(super) agent: &'a str,
}

/// Writes each record's plan, once, with its load item (armed for an evaluation, dropped
/// otherwise), and counts its disposition.
pub(super) struct Writer<'a> {
    pub(super) ledger: &'a Ledger,
    pub(super) dispositions: BTreeMap<String, u64>,
    written: u64,
}

impl<'a> Writer<'a> {
    pub(super) fn new(ledger: &'a Ledger) -> Self {
        Self {
            ledger,
            dispositions: Disposition::ALL
                .iter()
                .map(|d| (d.as_str().to_owned(), 0))
                .collect(),
            written: 0,
        }
    }

    /// Writes `row` (a row without a disposition is written quarantined, as it is counted).
    ///
    /// # Errors
    /// SQLite errors.
    pub(super) fn write(&mut self, row: &PlanRow, load: Option<Load<'_>>) -> Result<()> {
        let d = row.disposition.unwrap_or(Disposition::Quarantined);
        if row.disposition.is_some() {
            self.ledger.put_plan(row)?;
        } else {
            self.ledger.put_plan(&PlanRow {
                disposition: Some(d),
                ..row.clone()
            })?;
        }
        match load {
            Some(l) if d == Disposition::Evaluation => {
                self.ledger
                    .arm_load(row.record_id, &l.key.to_string(), l.conversation, l.agent)?;
            }
            _ => self.ledger.disarm_load(row.record_id)?,
        }
        *self.dispositions.entry(d.as_str().to_owned()).or_insert(0) += 1;
        self.written += 1;
        if self.written.is_multiple_of(COMMIT_EVERY) {
            self.ledger.commit_bulk_step()?;
        }
        Ok(())
    }
}

/// Counts of sync actions: (updates, flagged, withdrawals).
pub(super) type SyncCounts = (u64, u64, u64);

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
