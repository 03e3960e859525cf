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

    let ids: Vec<(String, String)> = ledger
        .conn()
        .prepare("SELECT l.evaluation_id, r.locator FROM loads l JOIN records r ON r.id = l.record_id WHERE l.state = 'created' ORDER BY l.record_id LIMIT 2")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let (gone, changed) = (&ids[0], &ids[1]);
    assert!(env.emu.state.tamper_remove_evaluation(&gone.0));
    assert!(env.emu.state.tamper_set_total(&changed.0, 12.5));

    let v = qm_migrate::verify::verify(&env.cfg, &ledger, &env.client)
        .await
        .unwrap();
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
}

#[tokio::test]
async fn load_rollback_load_ends_with_exactly_one_evaluation_per_record() {
    let env = setup(120, "csv", fast_settings()).await;
    env.run().await;
    let created = env.emu.state.evaluations().len();
    assert!(created > 50);
    let r = qm_migrate::verify::rollback(&env.ledger(), &env.client)
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
        qm_migrate::report::write(&ledger, "csv", &csv_path).unwrap(),
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
    qm_migrate::report::write(&ledger, "json", &json_path).unwrap();
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
