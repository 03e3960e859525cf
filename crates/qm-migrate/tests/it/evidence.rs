//! Evidence a compliance officer can check (#27): `verify` cross-checks Genesys' own audit trail
//! with the ledger's writes, and `evidence` writes a folder `sha256sum -c` and minisign verify.

use jiff::Timestamp;

use crate::support::{fast_settings, setup, setup_org, verify};

/// The time of the emulator's audit entry for `action` on `evaluation`.
fn trail_time(env: &crate::support::Env, evaluation: &str, action: &str) -> Timestamp {
    env.emu
        .state
        .audit_trail()
        .into_iter()
        .find(|e| e.evaluation_id == evaluation && e.action == action)
        .unwrap()
        .at
}

#[tokio::test]
async fn the_audit_cross_check_names_a_person_s_edit_and_deletion_with_who_and_when() {
    let env = setup(60, "csv", fast_settings()).await;
    env.run().await;
    let clean = verify(&env).await;
    let audit = clean
        .audit
        .clone()
        .expect("[verify] audit is on by default");
    let created = env.emu.state.evaluations().len() as u64;
    assert!(created > 20, "{created}");
    // Every create of ours is in Genesys' trail, made by our OAuth client; nothing else is listed.
    assert_eq!(audit.writes, created, "{audit:?}");
    assert_eq!(audit.matched, created, "{audit:?}");
    assert!(audit.findings.is_empty(), "{audit:?}");
    assert!(
        audit.pending.is_empty() && audit.unchecked.is_none(),
        "{audit:?}"
    );
    assert_eq!(audit.queries, 3, "one query per action: {audit:?}");
    assert!(clean.clean(), "{}", clean.line());
    assert!(
        clean.line().contains("Genesys audit trail:"),
        "{}",
        clean.line()
    );

    let ids: Vec<(String, String)> = env
        .ledger()
        .conn()
        .prepare("SELECT l.evaluation_id, 'calabrio_one evaluation ' || r.evaluation_id FROM loads l JOIN records r ON r.id = l.record_id WHERE l.state = 'created' ORDER BY l.record_id LIMIT 2")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let (edited, deleted) = (&ids[0], &ids[1]);
    assert!(
        env.emu
            .state
            .edit_evaluation_by(emulator::SUPERVISOR, &edited.0, |e| {
                e.status = Some("FINISHED".into());
            })
    );
    assert!(
        env.emu
            .state
            .delete_evaluation_by(emulator::SUPERVISOR, &deleted.0)
    );

    let v = verify(&env).await;
    let audit = v.audit.clone().unwrap();
    assert!(!v.clean());
    assert_eq!(audit.findings.len(), 2, "{audit:#?}");
    assert_eq!(audit.matched, created, "our own creates still match");
    let find = |action: &str| audit.findings.iter().find(|f| f.action == action).unwrap();
    let (u, d) = (find("Update"), find("Delete"));
    assert_eq!(
        (u.evaluation_id.as_str(), u.record.as_str()),
        (edited.0.as_str(), edited.1.as_str())
    );
    assert_eq!(
        (d.evaluation_id.as_str(), d.record.as_str()),
        (deleted.0.as_str(), deleted.1.as_str())
    );
    assert!(u.what.contains("changed in Genesys by a person"), "{u:?}");
    assert!(d.what.contains("deleted in Genesys by a person"), "{d:?}");
    for (f, action) in [(u, "Update"), (d, "Delete")] {
        assert!(f.who.contains(emulator::SUPERVISOR), "who: {f:?}");
        let when: Timestamp = f.when.parse().unwrap();
        assert_eq!(
            when.as_millisecond(),
            trail_time(&env, &f.evaluation_id, action).as_millisecond(),
            "when: {f:?}"
        );
        assert!(v.line().contains("2 findings"), "{}", v.line());
    }
    // The report shows both, escaped like every other string.
    let html = env.path("audit.html");
    qm_migrate::report::write(&env.cfg, &env.ledger(), "html", &html).unwrap();
    let page = std::fs::read_to_string(&html).unwrap();
    let list = &page[page
        .find("id=\"audit-findings\"")
        .expect("audit findings listed")..];
    assert!(
        list.contains(&edited.0) && list.contains(&deleted.0),
        "{list}"
    );
}

#[tokio::test]
async fn the_audit_cross_check_says_what_it_could_not_check() {
    // A client without the audit permission: verify goes on and says why the trail was not read.
    let env = setup_org(
        20,
        "csv",
        fast_settings(),
        genesys::Clock::system(),
        genesys::Clock::system(),
        |f| {
            f.oauth_clients[0].permissions = Some(
                emulator::permissions::ALL
                    .iter()
                    .filter(|p| **p != "audits:interactionDetails:view")
                    .map(|p| (*p).to_owned())
                    .collect(),
            );
        },
    )
    .await;
    env.run().await;
    let v = verify(&env).await;
    let audit = v.audit.unwrap();
    let why = audit.unchecked.clone().unwrap();
    assert!(why.contains("audits:interactionDetails:view"), "{why}");
    assert_eq!((audit.queries, audit.matched), (0, 0), "{audit:?}");
    assert!(audit.findings.is_empty());

    // A trail slower than [verify] audit_timeout_s: named, not judged, polled politely.
    let mut slow = setup(
        20,
        "csv",
        emulator::Settings {
            audit_query_delay_ms: 3_600_000,
            ..fast_settings()
        },
    )
    .await;
    slow.cfg.verify.audit_timeout_s = 2;
    slow.run().await;
    let started = std::time::Instant::now();
    let v = verify(&slow).await;
    let audit = v.audit.unwrap();
    let why = audit.unchecked.clone().unwrap();
    assert!(
        why.contains("did not finish within [verify] audit_timeout_s = 2 s"),
        "{why}"
    );
    assert!(
        audit.findings.is_empty(),
        "nothing judged on what was not read"
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(15));
    // 3 starts, then polls of the first query alone with a back-off from 0.5 s (at 0.5 and 1.5 s;
    // the limit is 2 s): not a busy loop, not one poll per query.
    assert!(audit.requests >= 4 && audit.requests <= 3 + 3, "{audit:?}");
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// `sha256sum -c SHA256SUMS` in `dir`: its exit status and what it printed.
fn sha256sum_check(dir: &std::path::Path) -> (bool, String) {
    let out = std::process::Command::new("sha256sum")
        .args(["-c", "SHA256SUMS"])
        .current_dir(dir)
        .output()
        .expect("coreutils' sha256sum");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// `qm-migrate evidence ARGS`: exit code and stdout + stderr.
fn evidence_cli(args: &[&std::ffi::OsStr]) -> (i32, String) {
    evidence_cli_env(args, &[])
}

/// [`evidence_cli`] with `env` set.
fn evidence_cli_env(args: &[&std::ffi::OsStr], env: &[(&str, &str)]) -> (i32, String) {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_qm-migrate"))
        .arg("evidence")
        .args(args)
        .env_remove("QM_MIGRATE_SIGN_PASSWORD")
        .envs(env.iter().copied())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// Flips one byte in the middle of `path`.
fn flip_one_byte(path: &std::path::Path) {
    let mut bytes = std::fs::read(path).unwrap();
    let i = bytes.len() / 2;
    bytes[i] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

#[tokio::test]
async fn an_evidence_folder_checks_with_standard_tools_and_names_the_one_changed_file() {
    let env = setup(40, "csv", fast_settings()).await;
    env.run().await;
    let ledger = env.ledger();
    let dir = env.path("evidence");
    let w = qm_migrate::evidence::write(&env.cfg, &ledger, &dir, None).unwrap();
    assert!(!w.signed);

    // The untouched folder passes our check and coreutils' own.
    let c = qm_migrate::evidence::check(&dir, None).unwrap();
    assert!(c.passed(), "{c:?}");
    assert_eq!(c.ok.len(), w.files.len());
    assert_eq!(c.signature, "not signed");
    let (ok, said) = sha256sum_check(&dir);
    assert!(ok, "{said}");
    assert_eq!(said.matches(": OK").count(), w.files.len(), "{said}");

    // What the manifest and the records say comes from the sources and the ledger.
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("manifest.json")).unwrap()).unwrap();
    let (records, _, _) = qm_migrate::ledger_counts(&ledger).unwrap();
    assert_eq!(manifest["records"].as_u64(), Some(records));
    let export = std::path::PathBuf::from(manifest["sources"][0]["file"].as_str().unwrap());
    assert_eq!(
        manifest["sources"][0]["sha256"].as_str().unwrap(),
        sha256_hex(&std::fs::read(&export).unwrap()),
        "the source file's hash"
    );
    assert_eq!(
        manifest["config_sha256"],
        serde_json::json!(env.cfg.file_sha256)
    );
    let mut csv = csv::Reader::from_path(dir.join("records.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = csv.records().map(Result::unwrap).collect();
    assert_eq!(rows.len() as u64, records);
    let created = env.emu.state.evaluations();
    let header = csv.headers().unwrap().clone();
    let col = |n: &str| header.iter().position(|h| h == n).unwrap();
    for e in &created {
        let row = rows
            .iter()
            .find(|r| &r[col("genesys_evaluation_id")] == e.id.as_str())
            .unwrap_or_else(|| panic!("{} not in records.csv", e.id));
        let read_back: f64 = row[col("total_read_back")].parse().unwrap();
        let held = e.answers.as_ref().unwrap().total_score.unwrap();
        assert!((read_back - held).abs() < 1e-9, "{row:?} vs {held}");
        assert_eq!(row[col("record_sha256")].len(), 64);
    }
    // No secret, and every file private.
    let (_, _, secret) = env.binary_config("bin.toml");
    for f in std::fs::read_dir(&dir).unwrap() {
        let f = f.unwrap().path();
        let text = std::fs::read(&f).unwrap();
        assert!(
            !String::from_utf8_lossy(&text).contains(&secret),
            "{} holds the secret",
            f.display()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&f).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", f.display());
        }
    }

    // One byte changed: the check names the file and exits 1; so does sha256sum.
    flip_one_byte(&dir.join("records.csv"));
    let c = qm_migrate::evidence::check(&dir, None).unwrap();
    assert_eq!(c.problems.len(), 1, "{c:?}");
    assert!(c.problems[0].starts_with("records.csv: "), "{c:?}");
    let (code, said) = evidence_cli(&["--check".as_ref(), dir.as_os_str()]);
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("records.csv: its SHA-256 is"), "{said}");
    assert!(
        !said.contains("report.html:"),
        "only the changed file: {said}"
    );
    let (ok, said) = sha256sum_check(&dir);
    assert!(!ok && said.contains("records.csv: FAILED"), "{said}");

    // A file slipped in is named too.
    flip_one_byte(&dir.join("records.csv"));
    std::fs::write(dir.join("extra.txt"), "added later").unwrap();
    let c = qm_migrate::evidence::check(&dir, None).unwrap();
    assert_eq!(c.problems.len(), 1, "{c:?}");
    assert!(c.problems[0].starts_with("extra.txt: "), "{c:?}");
}

#[tokio::test]
async fn a_signed_evidence_folder_verifies_and_fails_after_a_change() {
    let env = setup(20, "csv", fast_settings()).await;
    env.run().await;
    let key = env.path("signing.key");
    let (code, said) = evidence_cli(&["--new-key".as_ref(), key.as_os_str()]);
    assert_eq!(code, 0, "{said}");
    let public = env.path("signing.key.pub");
    assert!(
        std::fs::read_to_string(&public)
            .unwrap()
            .starts_with("untrusted comment:")
    );
    let dir = env.path("signed");
    let w = qm_migrate::evidence::write(&env.cfg, &env.ledger(), &dir, Some(&key)).unwrap();
    assert!(w.signed && dir.join("SHA256SUMS.minisig").exists());

    let (code, said) = evidence_cli(&[
        "--check".as_ref(),
        dir.as_os_str(),
        "--public-key".as_ref(),
        public.as_os_str(),
    ]);
    assert_eq!(code, 0, "{said}");
    assert!(said.contains("signature: verified"), "{said}");
    // Another key does not verify it.
    let other = env.path("other.key");
    qm_migrate::evidence::new_key(&other).unwrap();
    let other_pub = env.path("other.key.pub");
    let c = qm_migrate::evidence::check(&dir, Some(&other_pub)).unwrap();
    assert!(
        !c.passed() && c.problems[0].starts_with("SHA256SUMS.minisig: "),
        "{c:?}"
    );

    // A forger changes one byte of the manifest and writes SHA256SUMS again: every hash matches,
    // the signature does not.
    flip_one_byte(&dir.join("manifest.json"));
    let sums: String = std::fs::read_to_string(dir.join("SHA256SUMS"))
        .unwrap()
        .lines()
        .map(|l| {
            let (_, name) = l.split_once("  ").unwrap();
            format!(
                "{}  {name}\n",
                sha256_hex(&std::fs::read(dir.join(name)).unwrap())
            )
        })
        .collect();
    std::fs::write(dir.join("SHA256SUMS"), sums).unwrap();
    assert!(sha256sum_check(&dir).0, "the forged sums match the files");
    let (code, said) = evidence_cli(&[
        "--check".as_ref(),
        dir.as_os_str(),
        "--public-key".as_ref(),
        public.as_os_str(),
    ]);
    assert_eq!(code, 1, "{said}");
    assert!(
        said.contains("SHA256SUMS.minisig: does not verify SHA256SUMS"),
        "{said}"
    );
}

#[tokio::test]
async fn the_audit_cross_check_names_writes_the_ledger_and_the_trail_do_not_share() {
    let mut env = setup(30, "csv", fast_settings()).await;
    env.cfg.verify.audit_lag_s = 600;
    env.run().await;
    let ledger = env.ledger();
    let created: Vec<(i64, String)> = ledger
        .conn()
        .prepare("SELECT record_id, evaluation_id FROM loads WHERE state = 'created' ORDER BY record_id LIMIT 1")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let (record, ours) = &created[0];
    // The ledger loses the log of one of our creates: Genesys' trail still shows it, by our client.
    ledger
        .conn()
        .execute(
            "DELETE FROM genesys_writes WHERE evaluation_id = ?1",
            [ours],
        )
        .unwrap();
    // And the ledger claims two updates Genesys never saw: one an hour old, one just now.
    let hour_ago = (Timestamp::now() - jiff::SignedDuration::from_hours(1)).to_string();
    for (id, at) in [
        ("never-sent-1", hour_ago.as_str()),
        ("never-sent-2", &Timestamp::now().to_string()),
    ] {
        ledger
            .conn()
            .execute(
                "INSERT INTO genesys_writes (record_id, evaluation_id, action, at) VALUES (?1, ?2, 'Update', ?3)",
                rusqlite::params![record, id, at],
            )
            .unwrap();
    }
    let audit = verify(&env).await.audit.unwrap();
    assert!(audit.unchecked.is_none(), "{audit:?}");
    let named: Vec<(&str, &str, &str)> = audit
        .findings
        .iter()
        .map(|f| (f.evaluation_id.as_str(), f.action.as_str(), f.what.as_str()))
        .collect();
    assert_eq!(
        named,
        vec![
            (
                "never-sent-1",
                "Update",
                "in the ledger but not in Genesys' audit trail"
            ),
            (
                ours.as_str(),
                "Create",
                "written by this tool's OAuth client but not in the ledger"
            ),
        ],
        "{audit:#?}"
    );
    let ours_finding = &audit.findings[1];
    assert!(
        ours_finding.who.contains(&env.credentials().client_id),
        "{ours_finding:?}"
    );
    // The fresh one may still be on its way into the trail: pending, not a finding.
    assert_eq!(audit.pending.len(), 1);
    assert_eq!(audit.pending[0].evaluation_id, "never-sent-2");
}

#[tokio::test]
async fn an_encrypted_signing_key_opens_with_its_password_from_the_environment_only() {
    let env = setup(10, "csv", fast_settings()).await;
    env.run().await;
    let (config, _, _) = env.binary_config("bin.toml");
    let password = "correct horse battery staple";
    let key = env.path("locked.key");
    let (code, said) = evidence_cli_env(
        &["--new-key".as_ref(), key.as_os_str()],
        &[("QM_MIGRATE_SIGN_PASSWORD", password)],
    );
    assert_eq!(code, 0, "{said}");
    assert!(!std::fs::read_to_string(&key).unwrap().contains(password));
    let out = env.path("locked-evidence");
    let sign = |env_vars: &[(&str, &str)]| {
        let o = std::process::Command::new(env!("CARGO_BIN_EXE_qm-migrate"))
            .arg("--config")
            .arg(&config)
            .args(["evidence", "--out"])
            .arg(&out)
            .arg("--sign")
            .arg(&key)
            .env_remove("QM_MIGRATE_SIGN_PASSWORD")
            .envs(env_vars.iter().copied())
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned() + &String::from_utf8_lossy(&o.stderr),
        )
    };
    // Without the password: refused, naming where it goes; nothing written.
    let (code, said) = sign(&[]);
    assert_eq!(code, 2, "{said}");
    assert!(
        said.contains("is encrypted: put its password in QM_MIGRATE_SIGN_PASSWORD"),
        "{said}"
    );
    assert!(!out.join("SHA256SUMS").exists());
    // A wrong one: refused.
    let (code, said) = sign(&[("QM_MIGRATE_SIGN_PASSWORD", "hunter2-not-it")]);
    assert_eq!(code, 2, "{said}");
    assert!(said.contains("cannot open the signing key"), "{said}");
    assert!(
        !said.contains("hunter2"),
        "the password is never echoed: {said}"
    );
    // The right one: signed, and the public key verifies it.
    let (code, said) = sign(&[("QM_MIGRATE_SIGN_PASSWORD", password)]);
    assert_eq!(code, 0, "{said}");
    assert!(!said.contains(password));
    let public = env.path("locked.key.pub");
    let c = qm_migrate::evidence::check(&out, Some(&public)).unwrap();
    assert!(c.passed() && c.signature.starts_with("verified"), "{c:?}");
}
