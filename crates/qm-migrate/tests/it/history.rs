//! The history channel: one entry per source record, agents without a Genesys account under the
//! configured group, every source string escaped in the site, and a re-run that rewrites rather than
//! appends.

use std::collections::BTreeMap;

use crate::support::{fast_settings, setup};

fn jsonl_entries(dir: &std::path::Path) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for f in std::fs::read_dir(dir.join("agents")).unwrap().flatten() {
        let text = std::fs::read_to_string(f.path()).unwrap();
        out.extend(
            text.lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()),
        );
    }
    out
}

#[tokio::test]
async fn every_record_has_exactly_one_history_entry_and_a_rerun_rewrites_it() {
    let env = setup(120, "csv", fast_settings()).await;
    let out = env.run().await;
    let records = out.json["records"].as_u64().unwrap();
    assert_eq!(out.json["history"]["entries"].as_u64(), Some(records));
    let entries = jsonl_entries(&env.cfg.history.dir);
    assert_eq!(
        entries.len() as u64,
        records,
        "records read = history entries"
    );
    let mut ids: BTreeMap<i64, usize> = BTreeMap::new();
    for e in &entries {
        *ids.entry(e["record"]["id"].as_i64().unwrap()).or_default() += 1;
        assert!(e["raw"].as_str().is_some_and(|r| !r.is_empty()), "{e}");
        assert!(
            e["disposition"].is_string() && e["reason"].is_string(),
            "{e}"
        );
    }
    assert!(ids.values().all(|n| *n == 1), "one entry per record");
    // Migrated records carry the Genesys evaluation id and the request that created it.
    let created: Vec<&serde_json::Value> = entries
        .iter()
        .filter(|e| e["load"]["state"] == "created")
        .collect();
    assert_eq!(
        created.len() as u64,
        out.json["dispositions"]["evaluation"].as_u64().unwrap()
    );
    for e in &created {
        assert!(e["load"]["genesys_evaluation_id"].is_string(), "{e}");
        assert!(
            e["requests"].as_array().is_some_and(|r| !r.is_empty()),
            "{e}"
        );
    }
    // Quarantined records keep their raw text and the read error.
    assert!(entries.iter().any(|e| e["disposition"] == "quarantined"
        && e["canonical"].is_null()
        && e["error"]["message"].is_string()));
    // Files are private.
    use std::os::unix::fs::PermissionsExt;
    for f in std::fs::read_dir(env.cfg.history.dir.join("agents"))
        .unwrap()
        .flatten()
    {
        assert_eq!(f.metadata().unwrap().permissions().mode() & 0o777, 0o600);
    }
    // A second run rewrites: still one entry per record.
    env.run().await;
    assert_eq!(jsonl_entries(&env.cfg.history.dir).len() as u64, records);
}

#[tokio::test]
async fn agents_without_an_account_are_listed_under_the_configured_group() {
    let mut env = setup(60, "csv", fast_settings()).await;
    env.cfg.history.legacy_group = "Legacy Team (Calabrio only)".into();
    env.run().await;
    let index = std::fs::read_to_string(env.cfg.history.dir.join("site/index.html")).unwrap();
    let legacy = index
        .split("<h2>")
        .find(|s| s.starts_with("Legacy Team (Calabrio only)"))
        .expect("the legacy group has a section");
    // The agent the sample never gave a Genesys account is in it, with a page saying so.
    let ledger = env.ledger();
    let case = env
        .manifest
        .iter()
        .find(|c| c.case == "agent never given a Genesys account")
        .unwrap();
    let name: String = ledger
        .conn()
        .query_row(
            "SELECT json_extract(canonical, '$.agent.display_name') FROM records WHERE evaluation_id = ?1",
            [&case.evaluation_id],
            |r| r.get(0),
        )
        .unwrap();
    assert!(legacy.contains(&name), "{name} not under the legacy group");
    let row = legacy
        .split("<tr class=\"agent\"")
        .find(|r| r.contains(&name))
        .unwrap();
    let href = row
        .split("href=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap();
    let page = std::fs::read_to_string(env.cfg.history.dir.join("site").join(href)).unwrap();
    assert!(page.contains("no Genesys account"));
    assert!(
        page.contains("<svg") && page.contains("<circle"),
        "a timeline"
    );
    assert!(
        !index.contains("http://") && !index.contains("https://"),
        "no external assets"
    );
}

#[tokio::test]
async fn source_text_is_escaped_and_control_characters_are_made_visible() {
    let mut env = setup(60, "csv", fast_settings()).await;
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/corpus/script_and_control.csv");
    env.cfg.source.path = corpus;
    env.cfg.ledger.path = env.path("escape.db");
    env.cfg.history.dir = env.path("escape-history");
    env.prepare().await;
    let summary = qm_migrate::history::write(&env.cfg, &env.ledger()).unwrap();
    assert_eq!(summary.entries, 2);
    let mut pages = String::new();
    for f in std::fs::read_dir(env.cfg.history.dir.join("site/agents"))
        .unwrap()
        .flatten()
    {
        pages.push_str(&std::fs::read_to_string(f.path()).unwrap());
    }
    assert!(
        !pages.contains("<script>alert"),
        "a source <script> reached the page"
    );
    assert!(
        pages.contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || pages.contains("&lt;script&gt;alert(1)&lt;/script&gt;")
    );
    assert!(
        !pages.contains('\u{7}'),
        "a control character reached the page"
    );
    assert!(pages.contains("[U+0007]"), "the control character is shown");
    // The JSONL keeps the text verbatim (it is evidence, not a page).
    let entries = jsonl_entries(&env.cfg.history.dir);
    assert!(entries.iter().any(|e| {
        e["raw"]
            .as_str()
            .unwrap()
            .contains("<script>alert(1)</script>")
    }));
}

#[tokio::test]
async fn provision_registers_the_history_site_as_one_enabled_client_app() {
    let mut env = setup(60, "csv", fast_settings()).await;
    env.cfg.history.client_app_url =
        Some("https://intranet.example.com/qm-history/index.html".into());
    env.prepare().await;
    env.prepare().await; // idempotent: found by name and reconfigured, not duplicated
    let apps = env.emu.state.integrations();
    assert_eq!(apps.len(), 1, "{apps:?}");
    let app = &apps[0];
    assert_eq!(app["name"], "QM history (Calabrio)");
    assert_eq!(app["integrationType"]["id"], "embedded-client-app");
    assert_eq!(app["intendedState"], "ENABLED");
    assert_eq!(
        app["config"]["properties"]["url"],
        "https://intranet.example.com/qm-history/index.html"
    );
}
