//! The scorecard channel against the emulator: only days inside the window are sent (the rest are
//! reported), a re-run adds no second point, and per-item failures in a 200 response are recorded.

use crate::support::{fast_settings, setup_with};

fn demo_clock() -> genesys::Clock {
    genesys::Clock::starting_at(
        std::time::SystemTime::UNIX_EPOCH
            + std::time::Duration::from_secs(qm_migrate::demo::DEMO_TODAY_UNIX_S),
        1.0,
    )
}

type Row = (String, String, String, f64, i64, Option<String>, String);

fn states(env: &crate::support::Env) -> Vec<Row> {
    let l = env.ledger();
    let mut st = l
        .conn()
        .prepare(
            "SELECT agent_user_id, day, state, value, count, code, metric_id FROM scorecard ORDER BY 1, 2",
        )
        .unwrap();
    st.query_map([], |r| {
        Ok((
            r.get(0)?,
            r.get(1)?,
            r.get(2)?,
            r.get(3)?,
            r.get(4)?,
            r.get(5)?,
            r.get(6)?,
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[tokio::test]
async fn recent_days_are_sent_once_and_the_rest_are_reported_not_sent() {
    let clock = demo_clock();
    let mut env = setup_with(2000, "csv", fast_settings(), clock.clone(), clock).await;
    env.cfg.scorecard.enabled = true;
    env.cfg.scorecard.sections = vec!["Compliance".into()];
    let out = env.run().await;
    let names: Vec<String> = env
        .client
        .list_metric_definitions()
        .await
        .unwrap()
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(
        names,
        [
            "Legacy QA score (Calabrio)",
            "Legacy QA score (Calabrio): Compliance"
        ]
    );
    let card = &out.json["scorecard"];
    let sent = card["sent"].as_u64().unwrap();
    let outside = card["outside_window"].as_u64().unwrap();
    assert!(sent > 0, "{card}");
    assert!(
        outside > sent,
        "most of a multi-year history is outside the window: {card}"
    );
    assert_eq!(card["unprocessed"], 0, "{card}");
    let rows = states(&env);
    assert_eq!(rows.len() as u64, sent + outside);
    // What Genesys holds is exactly what the ledger says was sent, with the same value and count.
    let points = env.emu.state.metric_points();
    let sent_rows: Vec<_> = rows.iter().filter(|r| r.2 == "sent").collect();
    assert_eq!(points.len(), sent_rows.len());
    for (user, metric, day, value, count) in &points {
        assert!(
            sent_rows.iter().any(|r| r.0 == *user
                && r.6 == *metric
                && r.1 == *day
                && (r.3 - value).abs() < 1e-9
                && r.4 == *count),
            "{user} {metric} {day} {value} {count}"
        );
    }
    let metrics: std::collections::BTreeSet<&String> = points.iter().map(|p| &p.1).collect();
    assert_eq!(
        metrics.len(),
        2,
        "the overall score and the Compliance section"
    );
    // Nothing outside -7 … +30 days of the emulator's today (2026-11-04) was sent.
    let (lo, hi) = ("2026-10-28", "2026-12-04");
    assert!(
        points
            .iter()
            .all(|p| p.2.as_str() >= lo && p.2.as_str() <= hi),
        "{points:?}"
    );
    assert!(
        rows.iter()
            .filter(|r| r.2 == "outside_window")
            .all(|r| r.1.as_str() < lo || r.1.as_str() > hi)
    );

    // A re-run sends nothing new and Genesys still holds one point per agent and day.
    let again = env.run().await;
    assert_eq!(
        again.json["scorecard"]["sent"], 0,
        "{}",
        again.json["scorecard"]
    );
    assert_eq!(again.json["scorecard"]["unchanged"].as_u64(), Some(sent));
    assert_eq!(env.emu.state.metric_points(), points);

    // A window wider than Genesys accepts: the extra days come back in unprocessedEntities of a 200
    // response, and each is recorded with Genesys' code, not lost.
    env.cfg.scorecard.days_back = 30;
    let wide = env.run().await;
    let unprocessed = wide.json["scorecard"]["unprocessed"].as_u64().unwrap();
    assert!(unprocessed > 0, "{}", wide.json["scorecard"]);
    let rows = states(&env);
    let failed: Vec<_> = rows.iter().filter(|r| r.2 == "unprocessed").collect();
    assert_eq!(failed.len() as u64, unprocessed);
    assert!(
        failed
            .iter()
            .all(|r| r.5.as_deref() == Some("date.out.of.range") && r.1.as_str() < lo)
    );
    assert_eq!(
        env.emu.state.metric_points(),
        points,
        "nothing outside Genesys' window was stored"
    );
}
