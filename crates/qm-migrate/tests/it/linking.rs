//! Linking by `match` and identifying people: the tolerance holds at its edge, the policy for
//! deleted Genesys users is followed both ways, the exceptions CSV says which key and which link
//! (or which candidates), and analytics requests grow with agent-days, not with evaluations.

use crate::support::{fast_settings, setup};

fn case<'a>(env: &'a crate::support::Env, name: &str) -> &'a qm_migrate::sample::Case {
    env.manifest
        .iter()
        .find(|c| c.case.starts_with(name))
        .unwrap_or_else(|| panic!("no planted case '{name}'"))
}

fn locator(env: &crate::support::Env, c: &qm_migrate::sample::Case) -> String {
    format!(
        "{}:{}",
        env.path("calabrio-export.csv").display(),
        c.csv_line.unwrap()
    )
}

#[tokio::test]
async fn match_tolerance_holds_at_its_edge_and_ambiguity_is_never_guessed() {
    let mut env = setup(60, "csv", fast_settings()).await;
    let near = locator(&env, case(&env, "match near miss"));
    let twice = locator(&env, case(&env, "match ambiguous"));
    let unique = locator(&env, case(&env, "linked only by match"));

    // 150 s is outside the default 120 s: history, naming the nearest conversation.
    env.prepare().await;
    let (d, reason) = env.plan_at(&near).unwrap();
    assert_eq!(d, "history", "{reason}");
    assert!(
        reason.contains("within ±120 s") && reason.contains("started +150 s from it"),
        "{reason}"
    );
    let (d, reason) = env.plan_at(&twice).unwrap();
    assert_eq!(d, "history", "{reason}");
    assert!(
        reason.contains("2 conversations of agent")
            && reason.contains("(+30 s)")
            && reason.contains("(-60 s)"),
        "{reason}"
    );

    // One second short of the conversation: still out. Exactly at it: linked.
    env.cfg.link.match_tolerance_s = 149;
    env.prepare().await;
    assert_eq!(env.plan_at(&near).unwrap().0, "history");
    env.cfg.link.match_tolerance_s = 150;
    env.prepare().await;
    let (d, reason) = env.plan_at(&near).unwrap();
    assert_eq!(d, "evaluation", "{reason}");
    assert!(
        reason.contains("by match (+150 s from the contact start)"),
        "{reason}"
    );
    // A tighter tolerance leaves only one of the two candidates: linked to the nearer one.
    env.cfg.link.match_tolerance_s = 45;
    env.prepare().await;
    let (d, reason) = env.plan_at(&twice).unwrap();
    assert_eq!(d, "evaluation", "{reason}");
    assert!(reason.contains("by match (+30 s"), "{reason}");
    let (d, reason) = env.plan_at(&unique).unwrap();
    assert_eq!(d, "evaluation", "{reason}");
}

#[tokio::test]
async fn a_deleted_genesys_user_follows_the_inactive_policy_both_ways() {
    let mut env = setup(60, "csv", fast_settings()).await;
    let deleted = locator(&env, case(&env, "agent deleted in Genesys"));
    env.prepare().await;
    let (d, reason) = env.plan_at(&deleted).unwrap();
    assert_eq!(d, "history", "{reason}");
    assert!(
        reason.contains("that is deleted") && reason.contains("inactive_policy = \"history\""),
        "{reason}"
    );
    env.cfg.users.inactive_policy = "allow".into();
    env.prepare().await;
    let (_, reason) = env.plan_at(&deleted).unwrap();
    assert!(
        !reason.contains("inactive_policy"),
        "allowed, the agent goes on to linking: {reason}"
    );
    assert!(
        reason.contains("agent matched by email=") || reason.contains("Genesys conversation"),
        "{reason}"
    );
}

#[tokio::test]
async fn exceptions_say_which_key_and_which_link_and_queries_grow_with_agent_days() {
    let env = setup(400, "csv", fast_settings()).await;
    let plan = env.prepare().await;
    let csv_path = env.path("exceptions.csv");
    qm_migrate::plan::write_exceptions(&env.ledger(), &csv_path).unwrap();
    let mut rdr = csv::Reader::from_path(&csv_path).unwrap();
    let headers = rdr.headers().unwrap().clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        [
            "record",
            "evaluation_id",
            "disposition",
            "reason",
            "agent_match",
            "link",
            "last_seen"
        ]
    );
    // A record is named by what it is in Calabrio, its place in the file a detail (#24).
    let first = rdr.records().next().unwrap().unwrap();
    assert_eq!(
        &first[0],
        format!("calabrio_one evaluation {}", &first[1]),
        "{first:?}"
    );
    assert!(first[6].contains("calabrio-export.csv:"), "{first:?}");
    let mut rdr = csv::Reader::from_path(&csv_path).unwrap();
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    let ambiguous = rows
        .iter()
        .find(|r| r[4].starts_with("ambiguous: windows_login=CORP\\twin"))
        .expect("the shared AD login is reported with its candidates");
    assert_eq!(ambiguous[2].to_owned(), "quarantined");
    assert_eq!(
        ambiguous[4].matches(", ").count(),
        1,
        "two candidate ids: {}",
        &ambiguous[4]
    );
    let unmatched = rows
        .iter()
        .find(|r| r[4].starts_with("none (tried"))
        .expect("an agent without a Genesys account says which keys were tried");
    assert!(unmatched[4].contains("email="), "{}", &unmatched[4]);
    let near = rows
        .iter()
        .find(|r| r[5].contains("match: no conversation"))
        .expect("a contact match could not link names why");
    assert!(near[5].contains("within ±120 s"), "{}", &near[5]);
    assert!(rows.iter().any(|r| r[5].contains("match: 2 conversations")));

    // Requests grow with agent-days that need `match`, not with evaluations.
    assert!(plan.match_tried > 20, "{plan:?}");
    assert!(plan.analytics_requests > 0, "{plan:?}");
    assert!(
        plan.analytics_requests <= plan.match_tried,
        "one query serves every evaluation of an agent-day: {plan:?}"
    );
    // A second plan asks Genesys nothing new.
    let snapshot =
        |env: &crate::support::Env| -> std::collections::BTreeMap<i64, (String, String)> {
            let l = env.ledger();
            let mut st = l
                .conn()
                .prepare("SELECT record_id, disposition, reason FROM plans")
                .unwrap();
            st.query_map([], |r| Ok((r.get(0)?, (r.get(1)?, r.get(2)?))))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
    let first = snapshot(&env);
    let again = {
        let mut ledger = env.ledger();
        qm_migrate::plan::run(&env.cfg, &mut ledger, &env.client, &Default::default())
            .await
            .unwrap()
    };
    assert_eq!(again.analytics_requests, 0, "{again:?}");
    assert_eq!(again.match_cache_hits, plan.analytics_requests, "{again:?}");
    let second = snapshot(&env);
    for (id, a) in &first {
        assert_eq!(
            Some(a),
            second.get(id),
            "record {id} planned differently the second time"
        );
    }
    assert_eq!(again.dispositions, plan.dispositions);
}
