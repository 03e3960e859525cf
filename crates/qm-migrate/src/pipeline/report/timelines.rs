//! Where the history landed in Genesys: the evaluations created, counted per month by the Calabrio
//! evaluation date, by the conversation's start (what Genesys shows when asked by conversation date)
//! and by Genesys' creation date (what its default views count: the migration days). A supervisor
//! and a compliance officer see in one chart why a default view piles years of history onto a few
//! days, and where the calls' own dates put it.

use anyhow::Result;

use crate::chart::{Chart, Datum};
use crate::ledger::Ledger;

/// One month's three counts, for the table.
pub(super) struct TimelineRow {
    pub(super) month: String,
    pub(super) calabrio: u64,
    pub(super) conversation: u64,
    pub(super) created: u64,
}

/// The chart of the three timelines and the rows of its table.
pub(super) fn build(ledger: &Ledger) -> Result<(Option<Chart>, Vec<TimelineRow>)> {
    let months = ledger.timelines()?;
    let rows: Vec<TimelineRow> = months
        .iter()
        .map(|(m, c)| TimelineRow {
            month: m.clone(),
            calabrio: c[0],
            conversation: c[1],
            created: c[2],
        })
        .collect();
    if rows.is_empty() {
        return Ok((None, rows));
    }
    let last = rows.len().saturating_sub(1) as f64;
    let max = rows
        .iter()
        .map(|r| r.calabrio.max(r.conversation).max(r.created))
        .max()
        .unwrap_or(0) as f64;
    let mut chart = Chart::new(
        "migrated evaluations per month: three dates",
        (760, 240),
        (0.0, last.max(1.0)),
        (
            rows.first().map(|r| r.month.clone()).unwrap_or_default(),
            rows.last().map(|r| r.month.clone()).unwrap_or_default(),
        ),
        max,
        format!("{max:.0}"),
    );
    let series = |f: &dyn Fn(&TimelineRow) -> u64, what: &str| {
        rows.iter()
            .enumerate()
            .map(|(i, r)| Datum {
                x: i as f64,
                y: f(r) as f64,
                filled: true,
                label: format!("{}: {} {what}", r.month, f(r)),
            })
            .collect::<Vec<_>>()
    };
    chart.add(
        "Calabrio: evaluated",
        "#888",
        series(&|r| r.calabrio, "evaluated in Calabrio"),
    );
    chart.add(
        "Genesys: by call date",
        "#2a6",
        series(&|r| r.conversation, "by the conversation's start"),
    );
    chart.add(
        "Genesys: by creation",
        "#c33",
        series(&|r| r.created, "created in Genesys"),
    );
    Ok((Some(chart), rows))
}
