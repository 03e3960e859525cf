//! Writing the plan: each record's row once, with its load item armed or dropped, counted by
//! disposition. The pass, the links that wait for a conversation and the resync all write here.

use super::*;

/// Commit every so many writes, so the WAL can be checkpointed.
const COMMIT_EVERY: u64 = 5000;

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
