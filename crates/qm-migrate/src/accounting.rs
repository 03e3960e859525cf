//! The compliance line every summary prints: records accounted for = Σ dispositions.
//!
//! A record is accounted for while it is in the latest extract, and also after it left the source
//! as long as its evaluation is (or may be) in Genesys: it keeps the disposition it had, and the
//! line says how many such records it counts. A record that left and whose evaluation was deleted
//! (load state `withdrawn`) is no longer counted on either side.

use std::collections::BTreeMap;

use anyhow::Result;

use crate::ledger::Ledger;

/// Counts per disposition (all four keys), the records accounted for, and those not yet planned.
///
/// # Errors
/// Ledger errors.
pub fn ledger_counts(ledger: &Ledger) -> Result<(u64, BTreeMap<String, u64>, u64)> {
    let mut dispositions: BTreeMap<String, u64> = qm_model::Disposition::ALL
        .iter()
        .map(|d| (d.as_str().to_owned(), 0))
        .collect();
    let mut records = 0;
    let mut unplanned = 0;
    for (d, n) in ledger.disposition_counts()? {
        let n = u64::try_from(n).unwrap_or(0);
        records += n;
        if d == "unplanned" {
            unplanned += n;
        } else {
            *dispositions.entry(d).or_insert(0) += n;
        }
    }
    Ok((records, dispositions, unplanned))
}

/// Counts per load state (all keys).
///
/// # Errors
/// Ledger errors.
pub fn load_counts(ledger: &Ledger) -> Result<BTreeMap<String, u64>> {
    let mut out: BTreeMap<String, u64> = crate::ledger::state::ALL
        .iter()
        .map(|s| ((*s).to_owned(), 0))
        .collect();
    for (s, n) in ledger.load_counts()? {
        out.insert(s, u64::try_from(n).unwrap_or(0));
    }
    Ok(out)
}

/// 1 when some records are quarantined or some items rejected or unknown, else 0.
pub fn exit_code(dispositions: &BTreeMap<String, u64>, load: Option<&BTreeMap<String, u64>>) -> u8 {
    let q = dispositions.get("quarantined").copied().unwrap_or(0);
    let bad = load.map_or(0, |l| {
        l.get("rejected").copied().unwrap_or(0) + l.get("unknown").copied().unwrap_or(0)
    });
    u8::from(q > 0 || bad > 0)
}

/// `records N (M in the source + K that left it) = evaluation + history + excluded + quarantined
/// (+ not yet planned) = Σ (invariant holds)`, checked.
pub fn invariant_line(
    records: u64,
    d: &BTreeMap<String, u64>,
    unplanned: u64,
    left_source: u64,
) -> String {
    let sum: u64 = d.values().sum::<u64>() + unplanned;
    let pending = if unplanned > 0 {
        format!(" + not yet planned {unplanned}")
    } else {
        String::new()
    };
    let left = if left_source > 0 {
        format!(
            " ({} in the source + {left_source} that left it, {} still in Genesys)",
            records.saturating_sub(left_source),
            if left_source == 1 {
                "its evaluation"
            } else {
                "their evaluations"
            }
        )
    } else {
        String::new()
    };
    format!(
        "records {records}{left} = evaluation {} + history {} + excluded {} + quarantined {}{pending} = {sum} ({})",
        d.get("evaluation").unwrap_or(&0),
        d.get("history").unwrap_or(&0),
        d.get("excluded").unwrap_or(&0),
        d.get("quarantined").unwrap_or(&0),
        if sum == records {
            "invariant holds"
        } else {
            "INVARIANT BROKEN"
        }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_line_counts_records_that_left_the_source() {
        let d: BTreeMap<String, u64> = [
            ("evaluation", 300),
            ("history", 95),
            ("excluded", 2),
            ("quarantined", 3),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        let line = invariant_line(400, &d, 0, 1);
        assert!(
            line.starts_with("records 400 (399 in the source + 1 that left it, its evaluation still in Genesys) = evaluation 300"),
            "{line}"
        );
        assert!(line.ends_with("= 400 (invariant holds)"), "{line}");
        assert!(invariant_line(399, &d, 0, 0).ends_with("(INVARIANT BROKEN)"));
    }
}
