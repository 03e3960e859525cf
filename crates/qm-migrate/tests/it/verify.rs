//! `verify` names exactly what was tampered with; `rollback` then a new load ends with exactly one
//! evaluation per record.

use crate::support::{fast_settings, setup};

#[tokio::test]
async fn verify_names_exactly_the_deleted_and_the_changed_evaluation() {
    let env = setup(120, "csv", fast_settings()).await;
    env.run().await;
    let ledger = env.ledger();
    let clean = qm_migrate::verify::verify(&env.cfg, &ledger, &env.client)
        .await
        .unwrap();
    assert!(clean.clean(), "{clean:?}");
    assert!(
        clean.checked > 50 && clean.matched == clean.checked,
        "{clean:?}"
    );
    assert!(
        clean.requests <= clean.checked,
        "one query per conversation: {clean:?}"
    );

    assert!(clean.agents_checked > 10 && clean.agents_differing.is_empty());
    let ids: Vec<(String, String, String)> = ledger
        .conn()
        .prepare("SELECT l.evaluation_id, 'calabrio_one evaluation ' || r.evaluation_id, l.agent_user_id FROM loads l JOIN records r ON r.id = l.record_id WHERE l.state = 'created' ORDER BY l.record_id LIMIT 2")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let (gone, changed) = (&ids[0], &ids[1]);
    assert!(env.emu.state.tamper_remove_evaluation(&gone.0));
    assert!(env.emu.state.tamper_set_total(&changed.0, 12.5));

    let v = qm_migrate::verify::verify(&env.cfg, &ledger, &env.client)
        .await
        .unwrap();
    // The missing one is named by what it is in Calabrio (#24), not by where it stood in a file.
    assert_eq!(v.missing, vec![(gone.1.clone(), gone.0.clone())], "{v:?}");
    assert_eq!(v.mismatched.len(), 1, "{v:?}");
    let m = &v.mismatched[0];
    assert_eq!(
        (
            m.evaluation_id.as_str(),
            m.field.as_str(),
            m.genesys.as_str()
        ),
        (changed.0.as_str(), "total_score", "12.50")
    );
    assert_eq!(v.matched, clean.matched - 2);
    assert!(v.unknown.is_empty());
    // Per agent: the agent who lost one has one fewer in Genesys; the changed one's mean moved.
    let mut differing: Vec<&str> = v
        .agents_differing
        .iter()
        .map(|a| a.agent.as_str())
        .collect();
    differing.sort_unstable();
    differing.dedup();
    let mut expected = vec![gone.2.as_str(), changed.2.as_str()];
    expected.sort_unstable();
    expected.dedup();
    assert_eq!(differing, expected, "{v:?}");
    let lost = v
        .agents_differing
        .iter()
        .find(|a| a.agent == gone.2)
        .unwrap();
    assert_eq!(lost.genesys_count + 1, lost.ledger_count);
    // The report shows the last verify: both findings, by evaluation id.
    let html = env.path("findings.html");
    qm_migrate::report::write(&env.cfg, &ledger, "html", &html).unwrap();
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(
        page.contains("2 mismatched") || page.contains("1 missing, 1 mismatched"),
        "verify line"
    );
    assert!(page.contains(&gone.0) && page.contains(&changed.0));
}

#[tokio::test]
async fn load_rollback_load_ends_with_exactly_one_evaluation_per_record() {
    let env = setup(120, "csv", fast_settings()).await;
    env.run().await;
    let created = env.emu.state.evaluations().len();
    assert!(created > 50);
    let r = qm_migrate::verify::rollback(&env.cfg, &env.ledger(), &env.client, None, false)
        .await
        .unwrap();
    assert_eq!(r.deleted as usize, created);
    assert_eq!(
        env.emu.state.evaluations().len(),
        0,
        "everything we created is gone"
    );
    let planned: i64 = env
        .ledger()
        .conn()
        .query_row(
            "SELECT count(*) FROM loads WHERE state = 'planned'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(planned as usize, created);
    env.run().await;
    assert_eq!(env.assert_exactly_once(), created);
    // The deletions stay in the items' attempts, so the history keeps them.
    let kept: i64 = env
        .ledger()
        .conn()
        .query_row(
            "SELECT count(*) FROM attempts WHERE outcome = 'deleted by rollback'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(kept as usize, created);
    let v = qm_migrate::verify::verify(&env.cfg, &env.ledger(), &env.client)
        .await
        .unwrap();
    assert!(v.clean(), "{v:?}");
}

#[tokio::test]
async fn the_report_has_one_row_per_record_with_genesys_ids() {
    let env = setup(60, "csv", fast_settings()).await;
    let out = env.run().await;
    let records = out.json["records"].as_u64().unwrap() as usize;
    let ledger = env.ledger();
    let csv_path = env.path("report.csv");
    assert_eq!(
        qm_migrate::report::write(&env.cfg, &ledger, "csv", &csv_path).unwrap(),
        records
    );
    let mut rdr = csv::Reader::from_path(&csv_path).unwrap();
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), records);
    let headers = rdr.headers().unwrap().clone();
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let created: Vec<_> = rows
        .iter()
        .filter(|r| &r[col("load_state")] == "created")
        .collect();
    assert_eq!(created.len(), env.emu.state.evaluations().len());
    assert!(
        created
            .iter()
            .all(|r| !r[col("genesys_evaluation_id")].is_empty()
                && &r[col("disposition")] == "evaluation")
    );
    let json_path = env.path("report.json");
    qm_migrate::report::write(&env.cfg, &ledger, "json", &json_path).unwrap();
    let j: serde_json::Value = serde_json::from_slice(&std::fs::read(&json_path).unwrap()).unwrap();
    assert_eq!(j["records"].as_u64(), Some(records as u64));
    use std::os::unix::fs::PermissionsExt;
    for p in [&csv_path, &json_path] {
        assert_eq!(
            std::fs::metadata(p).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
}

#[tokio::test]
async fn rollback_since_a_run_keeps_older_evaluations_and_forms_deletes_the_form_last() {
    let env = setup(120, "csv", fast_settings()).await;
    env.prepare().await;
    let ledger = env.ledger();
    let bar = indicatif::ProgressBar::hidden();
    let first = qm_migrate::load::LoadOptions {
        max: Some(20),
        ..Default::default()
    };
    qm_migrate::load::run(&env.cfg, &ledger, &env.client, &first, &bar)
        .await
        .unwrap();
    // A later load sends the rest; rollback --since that run deletes only those.
    std::thread::sleep(std::time::Duration::from_millis(5));
    qm_migrate::load::run(&env.cfg, &ledger, &env.client, &Default::default(), &bar)
        .await
        .unwrap();
    let second: i64 = ledger
        .conn()
        .query_row("SELECT max(id) FROM runs WHERE command = 'load'", [], |r| {
            r.get(0)
        })
        .unwrap();
    let total = env.emu.state.evaluations().len();
    assert!(total > 40);
    let r = qm_migrate::verify::rollback(&env.cfg, &ledger, &env.client, Some(second), true)
        .await
        .unwrap();
    assert_eq!((r.deleted, r.kept_older), (total as u64 - 20, 20), "{r:?}");
    assert_eq!(env.emu.state.evaluations().len(), 20);
    assert!(
        r.form.as_deref().unwrap().contains("stays"),
        "the form stays while older evaluations use it: {r:?}"
    );
    assert!(ledger.form(&env.cfg.form.name).unwrap().is_some());
    let e = qm_migrate::verify::rollback(&env.cfg, &ledger, &env.client, Some(9_999), false)
        .await
        .unwrap_err()
        .to_string();
    assert!(e.contains("no run 9999"), "{e}");

    // Everything, with --forms: the evaluations first, then the form with every version.
    let r = qm_migrate::verify::rollback(&env.cfg, &ledger, &env.client, None, true)
        .await
        .unwrap();
    assert_eq!(r.deleted, 20);
    assert_eq!(env.emu.state.evaluations().len(), 0);
    assert!(r.form.as_deref().unwrap().ends_with("deleted"), "{r:?}");
    assert!(ledger.form(&env.cfg.form.name).unwrap().is_none());
    assert!(
        env.client
            .list_forms(&env.cfg.form.name)
            .await
            .unwrap()
            .is_empty()
    );
    // A new run provisions the form again and creates each evaluation exactly once.
    env.run().await;
    assert_eq!(env.assert_exactly_once(), total);
}
