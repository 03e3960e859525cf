//! `evidence`: write the folder a compliance officer checks (`--out`, `--sign`), check one offline
//! (`--check`, `--public-key`), or make a signing key pair (`--new-key`).

use std::path::PathBuf;

use anyhow::Result;
use serde_json::json;

use super::Outcome;
use crate::context::*;
use crate::evidence;
use crate::ledger::Ledger;

pub(crate) async fn command(
    config_path: PathBuf,
    out: Option<PathBuf>,
    sign: Option<PathBuf>,
    check: Option<PathBuf>,
    public_key: Option<PathBuf>,
    new_key: Option<PathBuf>,
) -> Result<Outcome> {
    if let Some(path) = new_key {
        let public = evidence::new_key(&path)?;
        return Ok(Outcome {
            code: 0,
            human: format!(
                "evidence: secret key {} (mode 0600; keep it off the evidence), public key {} (give it to the auditor)",
                path.display(),
                public.display()
            ),
            json: json!({"command": "evidence", "secret_key": path, "public_key": public}),
        });
    }
    if let Some(dir) = check {
        let c = evidence::check(&dir, public_key.as_deref())?;
        let mut human = format!(
            "evidence --check {}: {} files match {}, {} problems; signature: {}",
            dir.display(),
            c.ok.len(),
            evidence::SUMS,
            c.problems.len(),
            c.signature
        );
        for p in &c.problems {
            human.push_str(&format!("\n  {p}"));
        }
        return Ok(Outcome {
            code: u8::from(!c.passed()),
            human,
            json: json!({"command": "evidence", "check": dir, "result": c}),
        });
    }
    let Some(dir) = out else {
        anyhow::bail!("evidence: give --out DIR, --check DIR or --new-key FILE");
    };
    let cfg = load_config(&config_path)?;
    let ledger = Ledger::open(&cfg.ledger.path)?;
    let w = evidence::write(&cfg, &ledger, &dir, sign.as_deref())?;
    Ok(Outcome {
        code: 0,
        human: format!(
            "evidence: {} records and {} sources in {} ({} files{}); check with `sha256sum -c {}` in that folder or `qm-migrate evidence --check {}`",
            w.records,
            w.sources,
            dir.display(),
            w.files.len() + 1,
            if w.signed { ", SHA256SUMS signed" } else { "" },
            evidence::SUMS,
            dir.display()
        ),
        json: json!({"command": "evidence", "written": w}),
    })
}
