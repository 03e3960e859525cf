//! The evidence folder: what a compliance officer checks without trusting this tool.
//!
//! `write` puts in one folder, every file mode 0600:
//!
//! - `manifest.json` — the tool and its version, the configuration's SHA-256, every source file read
//!   (SHA-256 as it stands now, size, records it gave; an API source by its address), each run (id,
//!   command, start, end), the totals and the record-count invariant, the last verify in one line;
//! - `records.csv` — every record accounted for: its Calabrio identity, where it stood, the SHA-256 of
//!   its raw text, disposition, reason, load state, Genesys evaluation id, total sent, total Genesys
//!   answered;
//! - `report.html` (the migration report), `exceptions.csv` (every record not migrated as an
//!   evaluation, with why), `verify.json` (the last verify, with the audit cross-check);
//! - `SHA256SUMS` — the SHA-256 of each of them in the format `sha256sum -c` reads;
//! - with a key, `SHA256SUMS.minisig` — a minisign signature of `SHA256SUMS` (`minisign -Vm
//!   SHA256SUMS -p KEY.pub` verifies it).
//!
//! `check` verifies a folder offline: every listed file present with its hash, no file unlisted, and
//! the signature when a public key is given; each problem names its file. The folder never holds a
//! secret: credentials come from the environment and are never written; the signing key stays where
//! it is.

use std::collections::BTreeSet;
use std::io::Cursor;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::json;

use crate::config::Config;
use crate::fsutil::{sha256_hex, write_private};
use crate::ledger::Ledger;

/// The checksum file.
pub const SUMS: &str = "SHA256SUMS";
/// The signature of the checksum file.
pub const SIGNATURE: &str = "SHA256SUMS.minisig";
/// The environment variable holding the password of an encrypted signing key.
pub const KEY_PASSWORD_ENV: &str = "QM_MIGRATE_SIGN_PASSWORD";

/// What `write` produced.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Written {
    /// The folder.
    pub dir: PathBuf,
    /// The files `SHA256SUMS` covers, in its order.
    pub files: Vec<String>,
    /// Records listed.
    pub records: usize,
    /// Source files (or API addresses) listed.
    pub sources: usize,
    /// `SHA256SUMS` is signed.
    pub signed: bool,
}

/// What `check` found.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Checked {
    /// Files whose hash matched.
    pub ok: Vec<String>,
    /// Each problem, naming its file.
    pub problems: Vec<String>,
    /// `verified`, `not signed`, or `signed, not checked (no public key given)`.
    pub signature: String,
}

impl Checked {
    /// Nothing wrong.
    pub fn passed(&self) -> bool {
        self.problems.is_empty()
    }
}

/// The SHA-256 and size of a source file as it stands, or why there is none.
fn source_entry(file: &str, records: i64) -> serde_json::Value {
    let path = Path::new(file);
    match std::fs::read(path) {
        Ok(bytes) => json!({
            "file": file, "sha256": sha256_hex(&bytes), "bytes": bytes.len(), "records": records,
        }),
        Err(_) if file.contains("://") || !path.exists() => json!({
            "file": file, "sha256": null, "records": records,
            "note": if file.contains("://") { "read from the Calabrio API: no file to hash; each record's SHA-256 is in records.csv" }
                    else { "no longer on disk where it was read: each record's SHA-256 is in records.csv" },
        }),
        Err(e) => {
            json!({"file": file, "sha256": null, "records": records, "note": format!("cannot be read: {e}")})
        }
    }
}

/// Writes the evidence folder `dir` from the ledger, signing `SHA256SUMS` with the minisign secret
/// key at `sign` when given.
///
/// # Errors
/// Ledger and I/O errors naming the file; a signing key that cannot be read or opened.
pub fn write(cfg: &Config, ledger: &Ledger, dir: &Path, sign: Option<&Path>) -> Result<Written> {
    // Open the key first: a folder is not half-written for want of it.
    let key = sign.map(read_secret_key).transpose()?;
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let run = ledger.latest_extract()?.unwrap_or(0);
    let mut files: Vec<String> = Vec::new();
    let put = |files: &mut Vec<String>, name: &str, bytes: &[u8]| -> Result<()> {
        write_private(&dir.join(name), bytes)?;
        files.push(name.to_owned());
        Ok(())
    };

    let rows = ledger.evidence_rows(run)?;
    let mut w = csv::Writer::from_writer(Vec::new());
    for r in &rows {
        w.serialize(r)?;
    }
    put(
        &mut files,
        "records.csv",
        &w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?,
    )?;

    let html = dir.join("report.html");
    crate::report::write(cfg, ledger, "html", &html)?;
    files.push("report.html".into());
    let exceptions = dir.join("exceptions.csv");
    crate::plan::write_exceptions(ledger, &exceptions)?;
    files.push("exceptions.csv".into());

    let last_verify = ledger.last_verify()?;
    let verify_json = match &last_verify {
        Some((at, text)) => {
            json!({"at": at, "verify": serde_json::from_str::<serde_json::Value>(text)
            .unwrap_or(serde_json::Value::Null)})
        }
        None => json!({"at": null, "verify": null, "note": "verify has not run on this ledger"}),
    };
    put(
        &mut files,
        "verify.json",
        &serde_json::to_vec_pretty(&verify_json)?,
    )?;

    let sources: Vec<serde_json::Value> = ledger
        .source_files(run)?
        .iter()
        .map(|(f, n)| source_entry(f, *n))
        .collect();
    let (records, dispositions, unplanned) = crate::accounting::ledger_counts(ledger)?;
    let left_source = ledger.left_source_count()?;
    let verify_line = last_verify
        .as_ref()
        .and_then(|(_, t)| serde_json::from_str::<crate::verify::VerifySummary>(t).ok())
        .map(|v| v.line());
    let runs: Vec<serde_json::Value> = ledger
        .recent_runs(usize::MAX)?
        .into_iter()
        .rev()
        .map(|r| json!({"id": r.id, "command": r.command, "started_at": r.started_at, "finished_at": r.finished_at}))
        .collect();
    let manifest = json!({
        "tool": "qm-migrate",
        "version": env!("CARGO_PKG_VERSION"),
        "generated_at": jiff::Timestamp::now().to_string(),
        "config_sha256": cfg.file_sha256,
        "ledger": cfg.ledger.path.display().to_string(),
        "extract_run": run,
        "sources": sources,
        "runs": runs,
        "records": records,
        "dispositions": dispositions,
        "left_source": left_source,
        "invariant": crate::accounting::invariant_line(records, &dispositions, unplanned, left_source),
        "verify": verify_line,
        "files": files.iter().map(String::as_str).chain(["manifest.json"]).collect::<Vec<_>>(),
        "checksums": SUMS,
        "signature": key.as_ref().map(|_| SIGNATURE),
    });
    put(
        &mut files,
        "manifest.json",
        &serde_json::to_vec_pretty(&manifest)?,
    )?;

    let mut sums = String::new();
    for f in &files {
        let bytes = std::fs::read(dir.join(f))
            .with_context(|| format!("cannot read {}", dir.join(f).display()))?;
        sums.push_str(&format!("{}  {f}\n", sha256_hex(&bytes)));
    }
    write_private(&dir.join(SUMS), sums.as_bytes())?;
    let signed = if let Some((sk, pk)) = &key {
        let trusted = format!(
            "qm-migrate {} evidence {} records {}",
            env!("CARGO_PKG_VERSION"),
            jiff::Timestamp::now(),
            records
        );
        let sig = minisign::sign(
            pk.as_ref(),
            sk,
            Cursor::new(sums.as_bytes()),
            Some(&trusted),
            Some("signature of SHA256SUMS by qm-migrate evidence"),
        )
        .map_err(|e| anyhow::anyhow!("cannot sign {SUMS}: {e}"))?;
        write_private(&dir.join(SIGNATURE), sig.into_string().as_bytes())?;
        true
    } else {
        let _ = std::fs::remove_file(dir.join(SIGNATURE));
        false
    };
    Ok(Written {
        dir: dir.to_owned(),
        files,
        records: rows.len(),
        sources: sources.len(),
        signed,
    })
}

/// A minisign secret key (and its public key when it can be derived), decrypted with the password in
/// `QM_MIGRATE_SIGN_PASSWORD` when it is encrypted. Never prompts.
fn read_secret_key(path: &Path) -> Result<(minisign::SecretKey, Option<minisign::PublicKey>)> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the signing key {}", path.display()))?;
    let boxed = || {
        minisign::SecretKeyBox::from_string(&text)
            .map_err(|e| anyhow::anyhow!("{} is not a minisign secret key: {e}", path.display()))
    };
    let sk = match boxed()?.into_unencrypted_secret_key() {
        Ok(sk) => sk,
        Err(_) => {
            let Ok(password) = std::env::var(KEY_PASSWORD_ENV) else {
                bail!(
                    "the signing key {} is encrypted: put its password in {KEY_PASSWORD_ENV}",
                    path.display()
                );
            };
            boxed()?.into_secret_key(Some(password)).map_err(|e| {
                anyhow::anyhow!("cannot open the signing key {}: {e}", path.display())
            })?
        }
    };
    let pk = minisign::PublicKey::from_secret_key(&sk).ok();
    Ok((sk, pk))
}

/// Writes a new minisign key pair: the secret key at `path` (mode 0600; encrypted with the password
/// in `QM_MIGRATE_SIGN_PASSWORD` when it is set) and the public key at `path.pub`.
///
/// # Errors
/// An existing file at either path; I/O errors.
pub fn new_key(path: &Path) -> Result<PathBuf> {
    let public = PathBuf::from(format!("{}.pub", path.display()));
    for p in [path, public.as_path()] {
        if p.exists() {
            bail!("{} exists: a key is never overwritten", p.display());
        }
    }
    let pair = match std::env::var(KEY_PASSWORD_ENV).ok() {
        Some(p) => minisign::KeyPair::generate_encrypted_keypair(Some(p)),
        None => minisign::KeyPair::generate_unencrypted_keypair(),
    }
    .map_err(|e| anyhow::anyhow!("cannot make a key pair: {e}"))?;
    let sk = pair
        .sk
        .to_box(Some("qm-migrate evidence signing key"))
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    let pk = pair.pk.to_box().map_err(|e| anyhow::anyhow!("{e}"))?;
    write_private(path, sk.into_string().as_bytes())?;
    std::fs::write(&public, pk.into_string())
        .with_context(|| format!("cannot write {}", public.display()))?;
    Ok(public)
}

/// Verifies the evidence folder `dir` offline; `public_key` (a minisign public key file) checks the
/// signature.
///
/// # Errors
/// Only when `SHA256SUMS` cannot be read at all; everything else is a problem in [`Checked`].
pub fn check(dir: &Path, public_key: Option<&Path>) -> Result<Checked> {
    let sums_path = dir.join(SUMS);
    let sums = std::fs::read(&sums_path)
        .with_context(|| format!("{}: cannot be read", sums_path.display()))?;
    let mut out = Checked::default();
    let mut listed = BTreeSet::new();
    for (i, line) in String::from_utf8_lossy(&sums).lines().enumerate() {
        let Some((hash, name)) = line.split_once("  ").or_else(|| line.split_once(" *")) else {
            out.problems
                .push(format!("{SUMS} line {}: not `HASH  FILE`", i + 1));
            continue;
        };
        let name = name.trim_end();
        if name.contains('/') || name.contains("..") || name.is_empty() {
            out.problems.push(format!(
                "{SUMS} line {}: '{name}' is not a file of this folder",
                i + 1
            ));
            continue;
        }
        listed.insert(name.to_owned());
        match std::fs::read(dir.join(name)) {
            Ok(bytes) => {
                let found = sha256_hex(&bytes);
                if found.eq_ignore_ascii_case(hash) {
                    out.ok.push(name.to_owned());
                } else {
                    out.problems.push(format!(
                        "{name}: its SHA-256 is {found}, {SUMS} line {} says {hash}",
                        i + 1
                    ));
                }
            }
            Err(e) => out
                .problems
                .push(format!("{name}: listed in {SUMS} but cannot be read ({e})")),
        }
    }
    let entries =
        std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))?;
    let mut unlisted: Vec<String> = entries
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != SUMS && n != SIGNATURE && !listed.contains(n))
        .collect();
    unlisted.sort();
    for n in unlisted {
        out.problems
            .push(format!("{n}: in the folder but not covered by {SUMS}"));
    }
    let sig_path = dir.join(SIGNATURE);
    out.signature = match (sig_path.exists(), public_key) {
        (false, None) => "not signed".into(),
        (false, Some(_)) => {
            out.problems.push(format!(
                "{SIGNATURE}: missing, though a public key was given"
            ));
            "missing".into()
        }
        (true, None) => "signed, not checked (no --public-key given)".into(),
        (true, Some(pk_path)) => match verify_signature(&sums, &sig_path, pk_path) {
            Ok(trusted) => format!("verified ({trusted})"),
            Err(e) => {
                out.problems.push(format!("{SIGNATURE}: {e:#}"));
                "does not verify".into()
            }
        },
    };
    Ok(out)
}

fn verify_signature(sums: &[u8], sig_path: &Path, pk_path: &Path) -> Result<String> {
    let pk = minisign::PublicKey::from_file(pk_path)
        .map_err(|e| anyhow::anyhow!("{} is not a minisign public key: {e}", pk_path.display()))?;
    let sig = minisign::SignatureBox::from_file(sig_path)
        .map_err(|e| anyhow::anyhow!("not a minisign signature: {e}"))?;
    minisign::verify(&pk, &sig, Cursor::new(sums), true, false, false).map_err(|e| {
        anyhow::anyhow!(
            "does not verify {SUMS} with {} ({e}): {SUMS} or the signature changed, or another key signed it",
            pk_path.display()
        )
    })?;
    Ok(sig.trusted_comment().unwrap_or_default())
}
