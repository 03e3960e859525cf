//! The binary as a user runs it: `demo`, `--json`, exit codes, and secrets kept out of every output.

use std::process::{Command, Output};

use base64::Engine;
use emulator::EmulatorState;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_qm-migrate"));
    c.env_remove("GENESYS_CLIENT_ID")
        .env_remove("GENESYS_CLIENT_SECRET")
        .env_remove("GENESYS_CLIENT_ID_FILE")
        .env_remove("GENESYS_CLIENT_SECRET_FILE")
        .env_remove("QM_MIGRATE_CONFIG")
        .env("NO_COLOR", "1");
    c
}

async fn output(mut c: Command) -> Output {
    tokio::task::spawn_blocking(move || c.output().unwrap())
        .await
        .unwrap()
}

fn json(o: &Output) -> serde_json::Value {
    serde_json::from_slice(&o.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}\nstderr: {}",
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        )
    })
}

#[tokio::test]
async fn demo_json_accounts_for_every_record_and_a_second_run_creates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("demo-out");
    let mut c = bin();
    c.args(["demo", "--json", "--evaluations", "300", "--out"])
        .arg(&out_dir);
    let first = output(c).await;
    assert_eq!(
        first.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&first.stderr)
    );
    let a = json(&first);
    for key in ["records", "dispositions", "load", "requests"] {
        assert!(a.get(key).is_some(), "--json lacks {key}");
    }
    let records = a["records"].as_u64().unwrap();
    let sum: u64 = a["dispositions"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(records, sum);
    let evaluations = a["dispositions"]["evaluation"].as_u64().unwrap();
    assert!(evaluations > 0);
    assert_eq!(a["load"]["created"].as_u64().unwrap(), evaluations);
    assert_eq!(a["created_this_run"].as_u64().unwrap(), evaluations);
    assert_eq!(a["score_check"]["mismatched"], 0);

    let mut c = bin();
    c.args(["demo", "--json", "--evaluations", "300", "--out"])
        .arg(&out_dir);
    let second = output(c).await;
    assert_eq!(second.status.code(), Some(0));
    let b = json(&second);
    assert_eq!(
        b["created_this_run"], 0,
        "running demo twice creates nothing twice"
    );
    // The first demo's second pass (Calabrio changed while it ran) added one evaluation and updated
    // one in place.
    let pass = &a["second_pass"];
    assert_eq!(pass["ok"], true, "{pass}");
    assert_eq!(
        (pass["updated"].as_u64(), pass["created"].as_u64()),
        (Some(1), Some(1))
    );
    assert!(
        b["second_pass"].is_null(),
        "the second pass runs once per folder"
    );
    assert_eq!(b["load"]["created"].as_u64().unwrap(), evaluations + 1);
    // Apart from the audit cross-check's reads (#27), a fixed cost of every verify.
    let audit = |j: &serde_json::Value| j["verify"]["audit"]["requests"].as_u64().unwrap();
    assert!(b["requests"].as_u64().unwrap() - audit(&b) < a["requests"].as_u64().unwrap() / 10);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for f in [
            "ledger.db",
            "exceptions.csv",
            "summary.txt",
            "emulator-state.json",
        ] {
            let mode = std::fs::metadata(out_dir.join(f))
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            assert_eq!(mode, 0o600, "{f}");
        }
    }
}

#[tokio::test]
async fn no_secret_reaches_a_log_line_an_error_or_the_ledger() {
    let dir = tempfile::tempdir().unwrap();
    qm_migrate::sample::generate(80, 3, dir.path()).unwrap();
    let fixture_path = dir.path().join("genesys-fixture.json");
    let mut fixture: emulator::Fixture =
        serde_json::from_str(&std::fs::read_to_string(&fixture_path).unwrap()).unwrap();
    let secret = "S3CRET-do-not-print-4f1e9c";
    fixture.oauth_clients[0].client_secret = secret.into();
    let h = emulator::spawn(
        "127.0.0.1:0",
        EmulatorState::new(
            fixture,
            emulator::Settings {
                requests_per_minute: 100_000,
                ..Default::default()
            },
        ),
    )
    .await
    .unwrap();
    let cfg_path = dir.path().join("qm-migrate.toml");
    let cfg = std::fs::read_to_string(&cfg_path)
        .unwrap()
        .replace("http://127.0.0.1:8080", &h.url())
        .replace("requests_per_minute = 300", "requests_per_minute = 100000");
    std::fs::write(&cfg_path, cfg).unwrap();

    let mut c = bin();
    c.args(["--config"])
        .arg(&cfg_path)
        .args(["run", "--json"])
        .env("QM_MIGRATE_LOG", "trace")
        .env("GENESYS_CLIENT_ID", "qm-migrate-demo")
        .env("GENESYS_CLIENT_SECRET", secret);
    let ok = output(c).await;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&ok.stdout),
        String::from_utf8_lossy(&ok.stderr)
    );
    assert_eq!(
        ok.status.code(),
        Some(1),
        "the sample has quarantined records: {text}"
    );
    assert!(json(&ok)["load"]["created"].as_u64().unwrap() > 0);
    // The secret, the Basic credentials as sent (base64 of id:secret, in either padding), and every
    // bearer token the run was given: in no output, no log line and nowhere in the ledger.
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("qm-migrate-demo:{secret}"));
    let tokens = h.state.issued_tokens();
    assert!(!tokens.is_empty());
    let ledger = std::fs::read(dir.path().join("qm-migrate.db")).unwrap();
    let history: Vec<u8> = walk(&dir.path().join("history"));
    let report = std::fs::read(dir.path().join("report.html")).unwrap_or_default();
    let mut needles = vec![
        secret.to_owned(),
        basic.clone(),
        basic.trim_end_matches('=').to_owned(),
    ];
    needles.extend(tokens);
    for needle in &needles {
        assert!(!text.contains(needle.as_str()), "printed: {needle}");
        for (what, bytes) in [
            ("ledger", &ledger),
            ("history", &history),
            ("report", &report),
        ] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
                "{what} holds {needle}"
            );
        }
    }
    assert!(
        !text.to_lowercase().contains("authorization: basic"),
        "an auth header was logged"
    );

    // A wrong secret: exit 2, an error that says what failed, and not the secret itself.
    let wrong = "WRONG-secret-value-9d2b";
    let mut c = bin();
    c.args(["--config"])
        .arg(&cfg_path)
        .args(["plan", "--refresh-users"])
        .env("QM_MIGRATE_LOG", "trace")
        .env("GENESYS_CLIENT_ID", "qm-migrate-demo")
        .env("GENESYS_CLIENT_SECRET", wrong);
    let bad = output(c).await;
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&bad.stdout),
        String::from_utf8_lossy(&bad.stderr)
    );
    assert_eq!(bad.status.code(), Some(2), "{text}");
    assert!(text.contains("OAuth token request failed"), "{text}");
    assert!(!text.contains(wrong) && !text.contains(secret), "{text}");

    // Secrets from a file work the same way.
    let secret_file = dir.path().join("secret.txt");
    std::fs::write(&secret_file, format!("{secret}\n")).unwrap();
    let mut c = bin();
    c.args(["--config"])
        .arg(&cfg_path)
        .args(["provision", "--json"])
        .env("GENESYS_CLIENT_ID", "qm-migrate-demo")
        .env("GENESYS_CLIENT_SECRET_FILE", &secret_file);
    let from_file = output(c).await;
    assert_eq!(
        from_file.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&from_file.stderr)
    );
    assert_eq!(json(&from_file)["provision"]["created"], false);
    h.stop().await;
}

#[tokio::test]
async fn fatal_errors_exit_2_naming_the_problem() {
    let dir = tempfile::tempdir().unwrap();
    let cfg_path = dir.path().join("qm-migrate.toml");
    let mut c = bin();
    c.args(["--config"]).arg(&cfg_path).arg("init");
    assert_eq!(output(c).await.status.code(), Some(0));

    // The source file does not exist.
    let mut c = bin();
    c.args(["--config"]).arg(&cfg_path).arg("extract");
    let o = output(c).await;
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("calabrio-export.csv"));

    // No credentials.
    let mut c = bin();
    c.args(["--config"]).arg(&cfg_path).arg("plan");
    let o = output(c).await;
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("GENESYS_CLIENT_SECRET"));

    // An unknown key in the file.
    std::fs::write(&cfg_path, "[genesys]\nrequests_per_minut = 5\n").unwrap();
    let mut c = bin();
    c.args(["--config"])
        .arg(&cfg_path)
        .args(["status", "--json"]);
    let o = output(c).await;
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("requests_per_minut"));

    // A fresh ledger: status reports zero records, as JSON.
    std::fs::write(&cfg_path, "").unwrap();
    let mut c = bin();
    c.current_dir(dir.path())
        .args(["--config"])
        .arg(&cfg_path)
        .args(["status", "--json"]);
    let o = output(c).await;
    assert_eq!(o.status.code(), Some(0));
    assert_eq!(json(&o)["records"], 0);
}

/// `extract` from the Calabrio API as a user runs it: credentials from `CALABRIO_USER` and
/// `CALABRIO_PASSWORD_FILE`, never echoed, even at trace level; a wrong password is a fatal error
/// naming the user, not the password.
#[tokio::test]
async fn api_extract_takes_credentials_from_the_environment_and_never_shows_the_password() {
    let dir = tempfile::tempdir().unwrap();
    qm_migrate::sample::generate(60, 3, dir.path()).unwrap();
    let text = std::fs::read_to_string(dir.path().join("calabrio-api.json")).unwrap();
    let data: emulator::calabrio::Dataset = serde_json::from_str(&text).unwrap();
    // The extract searches only contacts with a scored evaluation (`[source] contact_filter`).
    let evaluations: usize = data
        .contacts
        .iter()
        .filter(|c| {
            c.evaluations
                .iter()
                .any(|e| e.detail["state"]["text"] == "SCORED")
        })
        .map(|c| c.evaluations.len())
        .sum();
    assert!(
        evaluations < 60,
        "the sample holds an evaluation in progress"
    );
    let user = data.api_users[0].clone();
    let emu = emulator::calabrio::spawn(
        "127.0.0.1:0",
        emulator::calabrio::CalabrioState::new(data, Default::default()),
    )
    .await
    .unwrap();
    let config = dir.path().join("api.toml");
    std::fs::write(
        &config,
        format!(
            "[source]\nkind = \"calabrio-api\"\nurl = \"{}\"\nfrom = \"2021-01-01\"\nto = \"2026-11-01\"\n[ledger]\npath = \"api.db\"\n",
            emu.base_url()
        ),
    )
    .unwrap();
    let password_file = dir.path().join("calabrio-api-password");
    let run = |password_file: &std::path::Path| {
        let mut c = bin();
        c.args(["--json", "--config"])
            .arg(&config)
            .arg("extract")
            .env("CALABRIO_USER", &user.user_id)
            .env("CALABRIO_PASSWORD_FILE", password_file)
            .env_remove("CALABRIO_PASSWORD")
            .env("QM_MIGRATE_LOG", "trace");
        c
    };
    let ok = output(run(&password_file)).await;
    let stderr = String::from_utf8_lossy(&ok.stderr);
    assert_eq!(ok.status.code(), Some(0), "stderr: {stderr}");
    let j = json(&ok);
    assert_eq!(j["records"].as_u64(), Some(evaluations as u64), "{j}");
    assert!(
        j["extract"]["api_requests"].as_u64().unwrap() > evaluations as u64,
        "{j}"
    );
    assert!(j["extract"]["days_read"].as_u64().unwrap() > 1000, "{j}");
    let ledger = std::fs::read(dir.path().join("api.db")).unwrap();
    for (what, bytes) in [
        ("stdout", &ok.stdout),
        ("stderr", &ok.stderr),
        ("ledger", &ledger),
    ] {
        assert!(
            !String::from_utf8_lossy(bytes).contains(&user.password),
            "the API password reached {what}"
        );
    }

    let wrong = dir.path().join("wrong-password");
    std::fs::write(&wrong, "not-the-password").unwrap();
    let bad = output(run(&wrong)).await;
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(bad.status.code(), Some(2), "stderr: {stderr}");
    assert!(
        stderr.contains(&format!("API user '{}'", user.user_id)),
        "{stderr}"
    );
    assert!(!stderr.contains("not-the-password"), "{stderr}");
}

/// Every file's bytes under `dir`, concatenated.
fn walk(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.extend(std::fs::read(&p).unwrap_or_default());
        }
    }
    out
}
