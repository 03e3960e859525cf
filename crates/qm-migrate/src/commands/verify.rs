//! `verify`: reconciles Genesys with the ledger and with the source as it stands now.

use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;

use super::Outcome;
use crate::config::Credentials;
use crate::context::*;
use crate::ledger::Ledger;
#[allow(clippy::wildcard_imports)]
use crate::*;

pub(crate) async fn command(config_path: PathBuf) -> Result<Outcome> {
    let cfg = load_config(&config_path)?;
    let ledger = Ledger::open(&cfg.ledger.path)?;
    let client = client_for(&cfg, Credentials::from_env()?)?;
    let v = crate::interrupt::or_stop("verify", "verify", verify::verify(&cfg, &ledger, &client))
        .await?;
    let (records, dispositions, _) = ledger_counts(&ledger)?;
    let mut human = format!("verify: {}", v.line());
    for (record, id) in &v.missing {
        human.push_str(&format!("\n  missing: {record} (Genesys evaluation {id})"));
    }
    for m in &v.mismatched {
        human.push_str(&format!(
            "\n  mismatched: {} (Genesys evaluation {}; last seen at {}) {}: ledger {} / Genesys {}",
            m.record, m.evaluation_id, m.last_seen, m.field, m.ledger, m.genesys
        ));
    }
    for id in &v.unknown {
        human.push_str(&format!("\n  unknown to the ledger: {id}"));
    }
    for d in &v.drift {
        human.push_str(&format!(
            "\n  drift: {} (Genesys evaluation {}; last seen at {}) {}: Genesys {} / source now {}{}",
            d.record,
            d.evaluation_id,
            d.last_seen,
            d.what,
            d.genesys_total.map_or("—".into(), |t| format!("{t:.2}")),
            d.source_now.map_or("—".into(), |t| format!("{t:.2}")),
            if d.note.is_empty() {
                String::new()
            } else {
                format!(" — {}", d.note)
            }
        ));
    }
    if let Some(t) = &v.timeline {
        for d in &t.differing {
            human.push_str(&format!("\n  timeline: {}", d.line()));
        }
    }
    if let Some(a) = &v.audit {
        for f in &a.findings {
            human.push_str(&format!("\n  audit: {}", f.line()));
        }
        for f in &a.pending {
            human.push_str(&format!("\n  audit (pending): {}", f.line()));
        }
    }
    for a in &v.agents_differing {
        human.push_str(&format!(
            "\n  agent {}: ledger {} evaluations (mean {}), Genesys {} (mean {})",
            a.agent,
            a.ledger_count,
            a.ledger_mean.map_or("—".into(), |m| format!("{m:.2}")),
            a.genesys_count,
            a.genesys_mean.map_or("—".into(), |m| format!("{m:.2}"))
        ));
    }
    Ok(Outcome {
        code: u8::from(!v.clean()),
        json: json!({"command": "verify", "records": records, "dispositions": dispositions, "verify": v}),
        human,
    })
}
