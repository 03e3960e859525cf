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
    // 3 starts, then a few polls of each with a back-off from 100 ms: not a busy loop.
    assert!(
        audit.requests >= 6 && audit.requests <= 3 + 3 * 6,
        "{audit:?}"
    );
}
