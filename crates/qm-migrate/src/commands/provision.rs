//! `provision`: creates and publishes the form(s) and the metric definitions.

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
    let s = provision::run(&cfg, &ledger, &client).await?;
    let (records, dispositions, _) = ledger_counts(&ledger)?;
    Ok(Outcome {
        human: format!(
            "provision: form '{}' {} (published version {}, {} groups)",
            s.form,
            if s.created {
                "created and published"
            } else {
                "already provisioned"
            },
            s.published_id,
            s.groups
        ) + &s
            .mirrored_forms
            .iter()
            .map(|m| {
                format!(
                    "\nmirrored form '{}' (Calabrio form {}) {}: published version {}, option values = points × 10^{}",
                    m.name,
                    m.calabrio_form_id,
                    match m.outcome {
                        provision::Outcome::Created => "created and published",
                        provision::Outcome::UpToDate => "up to date",
                        provision::Outcome::NewVersion => "changed in Calabrio: new version published",
                    },
                    m.published_id,
                    m.scale
                )
            })
            .collect::<String>(),
        json: json!({"command": "provision", "records": records, "dispositions": dispositions,
            "requests": client.requests_sent(), "provision": s}),
        code: 0,
    })
}
