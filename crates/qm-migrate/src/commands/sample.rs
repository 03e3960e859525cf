//! `sample`: writes a synthetic Calabrio dataset with its manifest of planted cases.

use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;

use super::Outcome;
#[allow(clippy::wildcard_imports)]
use crate::*;

pub(crate) async fn command(
    _config_path: PathBuf,
    evaluations: usize,
    out: PathBuf,
    seed: u64,
    csv_only: bool,
) -> Result<Outcome> {
    let s = sample::generate_with(evaluations, seed, &out, !csv_only)?;
    Ok(Outcome {
        human: format!(
            "wrote a synthetic Calabrio dataset to {}: {} evaluations, {} CSV records, {} JSON Lines records, {} Genesys users, {} conversations, {} planted edge cases (sample-manifest.json)",
            out.display(),
            s.evaluations,
            s.csv_records,
            s.jsonl_records,
            s.users,
            s.conversations,
            s.cases
        ),
        json: json!({"command": "sample", "sample": s}),
        code: 0,
    })
}
