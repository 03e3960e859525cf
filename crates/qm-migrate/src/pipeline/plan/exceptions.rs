//! The exceptions CSV: every record that is not an `evaluation`, with its reason.

use super::*;

/// Writes every non-`evaluation` record as CSV: the record by its Calabrio identity
/// (`calabrio_one evaluation 80017`), its evaluation id, disposition, reason, which person key
/// matched, which link, and where it was last seen in the source (file:line) as a detail.
///
/// # Errors
/// Ledger and I/O errors.
pub fn write_exceptions(ledger: &Ledger, path: &std::path::Path) -> Result<usize> {
    let rows = ledger.exceptions()?;
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "record",
        "evaluation_id",
        "disposition",
        "reason",
        "agent_match",
        "link",
        "last_seen",
    ])?;
    for (name, loc, id, d, reason, agent, link) in &rows {
        w.write_record([
            name.as_str(),
            id.as_deref().unwrap_or(""),
            d.as_str(),
            reason.as_str(),
            agent.as_deref().unwrap_or(""),
            link.as_deref().unwrap_or(""),
            loc.as_str(),
        ])?;
    }
    let bytes = w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    crate::fsutil::write_private(path, &bytes)?;
    Ok(rows.len())
}
