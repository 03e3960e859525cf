//! The whole pipeline against the in-process emulator: dispositions of every planted edge case,
//! scores as Genesys computes them, exactly-once loading, the per-agent cap.

use std::collections::HashMap;

use qm_migrate::ledger::state;

use crate::support::{Env, fast_settings, setup};

fn check_manifest(env: &Env, kind: &str) -> usize {
    let file = if kind == "csv" {
        env.path("calabrio-export.csv")
    } else {
        env.path("calabrio-export.jsonl")
    };
    let mut checked = 0;
    for case in &env.manifest {
        let line = if kind == "csv" {
            case.csv_line
        } else {
            case.jsonl_line
        };
        let Some(line) = line else { continue };
        let locator = format!("{}:{line}", file.display());
        let (disposition, reason) = env
            .plan_at(&locator)
            .unwrap_or_else(|| panic!("{}: no plan for {locator}", case.case));
        assert_eq!(
            disposition, case.disposition,
            "{} ({locator}): reason was: {reason}",
            case.case
        );
        assert!(
            reason.contains(&case.reason_contains),
            "{} ({locator}): reason '{reason}' lacks '{}'",
            case.case,
            case.reason_contains
        );
        if disposition == "quarantined" {
            assert!(
                reason.contains(&format!(
                    "calabrio-export.{}:{line}",
                    if kind == "csv" { "csv" } else { "jsonl" }
                )),
                "{}: a quarantine reason names file and line: {reason}",
                case.case
            );
        }
        checked += 1;
    }
    checked
}

#[tokio::test]
async fn every_planted_edge_case_lands_in_its_disposition_with_its_reason() {
    let env = setup(240, "csv", fast_settings()).await;
    let out = env.run().await;
    assert_eq!(out.code, 1, "quarantined records make the run exit 1");
    let checked = check_manifest(&env, "csv");
    assert!(checked >= 24, "only {checked} cases checked");
    // Field-level errors name the field.
    let (_, reason) = env
        .plan_at(&format!(
            "{}:{}",
            env.path("calabrio-export.csv").display(),
            env.manifest
                .iter()
                .find(|c| c.case.contains("not a number"))
                .unwrap()
                .csv_line
                .unwrap()
        ))
        .unwrap();
    assert!(
        reason.contains("field 'total_score'") && reason.contains("eighty"),
        "{reason}"
    );
}

#[tokio::test]
async fn json_lines_source_lands_the_same_cases() {
    let env = setup(240, "json", fast_settings()).await;
    env.run().await;
    let checked = check_manifest(&env, "json");
    assert!(checked >= 22, "only {checked} cases checked");
}

#[tokio::test]
async fn records_equal_dispositions_and_every_evaluation_is_created_with_the_source_score() {
    let env = setup(300, "csv", fast_settings()).await;
    let out = env.run().await;
    let j = &out.json;
    let records = j["records"].as_u64().unwrap();
    let sum: u64 = ["evaluation", "history", "excluded", "quarantined"]
        .iter()
        .map(|k| j["dispositions"][k].as_u64().unwrap())
        .sum();
    assert_eq!(records, sum);
    // Every CSV record (rows, including malformed ones) is accounted for.
    let rows = std::fs::read_to_string(env.path("calabrio-export.csv")).unwrap();
    let csv_records = csv::ReaderBuilder::new()
        .flexible(true)
        .from_reader(rows.as_bytes())
        .records()
        .count() as u64;
    assert_eq!(records, csv_records);
    let evaluations = j["dispositions"]["evaluation"].as_u64().unwrap();
    assert!(evaluations > 150, "{evaluations}");
    assert_eq!(j["load"]["created"].as_u64().unwrap(), evaluations);
    assert!(j["requests"].as_u64().unwrap() > evaluations);

    // The emulator's totals equal the normalised Calabrio totals.
    let ledger = env.ledger();
    let mut source: HashMap<String, f64> = HashMap::new();
    let mut stmt = ledger
        .conn()
        .prepare("SELECT r.evaluation_id, p.score FROM plans p JOIN records r ON r.id = p.record_id WHERE p.disposition = 'evaluation'")
        .unwrap();
    for row in stmt
        .query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, f64>(1)?)))
        .unwrap()
    {
        let (id, score) = row.unwrap();
        source.insert(id, score);
    }
    let stored = env.emu.state.evaluations();
    assert_eq!(stored.len() as u64, evaluations);
    let mut kpi = 0;
    for e in &stored {
        let answers = e.answers.as_ref().unwrap();
        let marker = answers.private_comments.as_deref().unwrap();
        let id = marker
            .split("calabrio_evaluation_id=")
            .nth(1)
            .unwrap()
            .split(';')
            .next()
            .unwrap();
        let want = source[id];
        let got = answers.total_score.unwrap();
        assert!(
            (got - want).abs() <= 0.5 + 1e-9,
            "evaluation {id}: Genesys {got}, Calabrio {want}"
        );
        if answers.any_failed_kill_questions == Some(true) {
            kpi += 1;
            assert_eq!(got, 0.0);
        }
        let comments = answers.comments.as_deref().unwrap();
        assert!(
            comments.starts_with(&format!("[Migrated from Calabrio ONE] evaluation {id} ")),
            "{comments}"
        );
        assert_eq!(e.status.as_deref(), Some("FINISHED"));
    }
    assert_eq!(
        kpi, 1,
        "the planted KPI failure arrives as a failed fatal question"
    );
}

#[tokio::test]
async fn rerunning_sends_no_duplicate_and_unknown_outcomes_are_reconciled() {
    let env = setup(150, "csv", fast_settings()).await;
    env.run().await;
    let first = env.emu.state.evaluations().len();
    assert!(first > 50);
    let created_before = env
        .emu
        .state
        .stats()
        .evaluations_created
        .load(std::sync::atomic::Ordering::Relaxed);

    // A plain re-run: nothing sent twice.
    let again = env.run().await;
    assert_eq!(again.json["load_run"]["created_now"], 0);
    assert_eq!(env.emu.state.evaluations().len(), first);

    let ledger = env.ledger();
    let items = ledger.loads_in(&[state::CREATED]).unwrap();
    // Crash after Genesys committed but before the ledger heard back: `sending` at start.
    let a = &items[0];
    ledger
        .conn()
        .execute(
            "UPDATE loads SET state = 'sending', sent_at = 0 WHERE record_id = ?1",
            [a.record_id],
        )
        .unwrap();
    // Lost answer, and the evaluation really is not there: `unknown`, deleted in Genesys.
    let b = &items[1];
    env.client
        .delete_evaluation(&b.conversation_id, b.evaluation_id.as_deref().unwrap())
        .await
        .unwrap();
    ledger
        .conn()
        .execute(
            "UPDATE loads SET state = 'unknown', sent_at = 0 WHERE record_id = ?1",
            [b.record_id],
        )
        .unwrap();
    let out = qm_migrate::load::run(
        &env.cfg,
        &ledger,
        &env.client,
        &qm_migrate::load::LoadOptions::default(),
        &indicatif::ProgressBar::hidden(),
    )
    .await
    .unwrap();
    assert_eq!(
        out.adopted, 1,
        "the committed one is found by its key, not re-sent"
    );
    assert_eq!(out.resent_after_unknown, 1);
    assert_eq!(out.created_now, 1);
    // Reconcile did the work, not the key replay: the emulator replayed nothing.
    assert_eq!(
        env.emu
            .state
            .stats()
            .idempotent_replays
            .load(std::sync::atomic::Ordering::Relaxed),
        0
    );
    assert_eq!(
        env.emu.state.evaluations().len(),
        first,
        "exactly one of each"
    );
    let after = ledger.loads_in(&[state::CREATED]).unwrap();
    let a_after = after.iter().find(|x| x.record_id == a.record_id).unwrap();
    assert_eq!(
        a_after.evaluation_id, a.evaluation_id,
        "adopted, same evaluation"
    );
    assert_eq!(
        env.emu
            .state
            .stats()
            .evaluations_created
            .load(std::sync::atomic::Ordering::Relaxed),
        created_before + 1
    );
    assert_eq!(out.load["created"] as usize, first);
}

#[tokio::test]
async fn per_agent_daily_cap_defers_then_resumes_without_duplicates() {
    let settings = emulator::Settings {
        per_agent_daily_cap: 2,
        ..fast_settings()
    };
    // The client and the emulator share a clock, so a day passes for both.
    let clock = genesys::Clock::system();
    let env = crate::support::setup_with(120, "csv", settings, clock.clone(), clock.clone()).await;
    let out = env.run().await;
    let evaluations = out.json["dispositions"]["evaluation"].as_u64().unwrap();
    let deferred = out.json["load"]["deferred"].as_u64().unwrap();
    assert!(deferred > 0, "a cap of 2 must defer someone");
    assert_eq!(out.json["load"]["rejected"], 0);
    assert!(
        env.emu
            .state
            .evaluations_per_agent()
            .values()
            .all(|n| *n <= 2)
    );

    let ledger = env.ledger();
    let mut rounds = 0;
    loop {
        let left = ledger.loads_in(&[state::DEFERRED]).unwrap();
        if left.is_empty() {
            break;
        }
        // Until is in the future; a day passes.
        for item in &left {
            let until: jiff::Timestamp = item.deferred_until.as_deref().unwrap().parse().unwrap();
            assert!(until > jiff::Timestamp::now() + jiff::SignedDuration::from_hours(23));
        }
        clock.advance(std::time::Duration::from_secs(25 * 3600));
        let round = qm_migrate::load::run(
            &env.cfg,
            &ledger,
            &env.client,
            &qm_migrate::load::LoadOptions::default(),
            &indicatif::ProgressBar::hidden(),
        )
        .await
        .unwrap();
        assert!(round.created_now > 0);
        rounds += 1;
        assert!(rounds < 30, "the cap never drains");
    }
    assert!(rounds >= 2);
    assert_eq!(env.emu.state.evaluations().len() as u64, evaluations);
}

#[tokio::test]
async fn provision_is_idempotent_and_sends_published_ids() {
    let env = setup(80, "csv", fast_settings()).await;
    let ledger = env.ledger();
    let a = qm_migrate::provision::run(&env.cfg, &ledger, &env.client)
        .await
        .unwrap();
    assert!(a.created);
    let b = qm_migrate::provision::run(&env.cfg, &ledger, &env.client)
        .await
        .unwrap();
    assert!(!b.created);
    assert_eq!(a.published_id, b.published_id);
    // A lost ledger adopts the existing form by name instead of creating a second one.
    let fresh = qm_migrate::ledger::Ledger::open(&env.path("other.db")).unwrap();
    let c = qm_migrate::provision::run(&env.cfg, &fresh, &env.client)
        .await
        .unwrap();
    assert!(!c.created);
    assert_eq!(c.published_id, a.published_id);
    let draft = ledger.form(&env.cfg.form.name).unwrap().unwrap().draft_id;
    assert_ne!(
        draft, a.published_id,
        "the published version has its own id"
    );
    // A changed definition is refused, not silently re-provisioned.
    let mut changed = env.cfg.clone();
    changed.form.score_step = 0.5;
    let err = qm_migrate::provision::run(&changed, &ledger, &env.client)
        .await
        .unwrap_err();
    assert!(format!("{err:#}").contains("another definition"), "{err:#}");
}

#[tokio::test]
async fn reextract_is_idempotent_and_notices_a_changed_record() {
    let env = setup(80, "csv", fast_settings()).await;
    let mut ledger = env.ledger();
    let bar = indicatif::ProgressBar::hidden();
    let first = qm_migrate::extract::run(&env.cfg, &mut ledger, &bar)
        .await
        .unwrap();
    assert_eq!(first.new, first.records);
    let second = qm_migrate::extract::run(&env.cfg, &mut ledger, &bar)
        .await
        .unwrap();
    assert_eq!(
        (second.new, second.changed, second.unchanged),
        (0, 0, first.records)
    );
    let path = env.path("calabrio-export.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let changed = text.replacen("Good empathy overall", "Good empathy (edited)", 1);
    assert_ne!(text, changed);
    std::fs::write(&path, changed).unwrap();
    let third = qm_migrate::extract::run(&env.cfg, &mut ledger, &bar)
        .await
        .unwrap();
    assert_eq!(third.changed, 1, "{third:?}");
    assert_eq!(third.records, first.records);
}

#[tokio::test]
async fn unknown_agent_goes_to_history_with_the_keys_tried() {
    let env = setup(60, "csv", fast_settings()).await;
    let path = env.path("calabrio-export.csv");
    let mut text = std::fs::read_to_string(&path).unwrap();
    let header = text.lines().next().unwrap().to_owned();
    let width = header.split(',').count();
    let mut row = vec![String::new(); width];
    let cols: Vec<&str> = header.split(',').collect();
    let set = |row: &mut Vec<String>, name: &str, v: &str| {
        let i = cols.iter().position(|c| *c == name).unwrap();
        row[i] = v.to_owned();
    };
    set(&mut row, "evaluation_id", "77777");
    set(&mut row, "agent_email", "nobody.here@example.com");
    set(&mut row, "evaluated_at", "2024-01-02T03:04:05Z");
    set(&mut row, "total_score", "90");
    text.push_str(&row.join(","));
    text.push_str("\r\n");
    std::fs::write(&path, &text).unwrap();
    env.run().await;
    let ledger = env.ledger();
    let (d, reason): (String, String) = ledger
        .conn()
        .query_row(
            "SELECT p.disposition, p.reason FROM plans p JOIN records r ON r.id = p.record_id WHERE r.evaluation_id = '77777'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(d, "history");
    assert!(
        reason.contains("nobody.here@example.com") && reason.contains("no Genesys account"),
        "{reason}"
    );
}

#[tokio::test]
async fn a_changed_copy_of_an_already_sent_evaluation_is_not_sent_again() {
    let env = setup(80, "csv", fast_settings()).await;
    env.run().await;
    let before = env.emu.state.evaluations().len();
    let ledger = env.ledger();
    let item = &ledger.loads_in(&[state::CREATED]).unwrap()[0];
    let id: String = ledger
        .conn()
        .query_row(
            "SELECT evaluation_id FROM records WHERE id = ?1",
            [item.record_id],
            |r| r.get(0),
        )
        .unwrap();
    let path = env.path("calabrio-export.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    let mut reader = csv::ReaderBuilder::new().from_reader(text.as_bytes());
    let headers = reader.headers().unwrap().clone();
    let row = reader
        .records()
        .map(|r| r.unwrap())
        .find(|r| r.get(0) == Some(id.as_str()))
        .unwrap();
    let eval_col = headers.iter().position(|h| h == "evaluated_at").unwrap();
    let mut changed: Vec<String> = row.iter().map(str::to_owned).collect();
    changed[eval_col] = "2026-11-01T00:00:00Z".into();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(&changed).unwrap();
    let mut text = text;
    text.push_str(&String::from_utf8(w.into_inner().unwrap()).unwrap());
    std::fs::write(&path, text).unwrap();

    let out = env.run().await;
    assert_eq!(out.json["load_run"]["created_now"], 0);
    assert_eq!(env.emu.state.evaluations().len(), before);
    let reasons: Vec<String> = {
        let mut stmt = ledger
            .conn()
            .prepare("SELECT p.reason FROM plans p JOIN records r ON r.id = p.record_id WHERE r.evaluation_id = ?1 AND p.disposition = 'excluded'")
            .unwrap();
        stmt.query_map([&id], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect()
    };
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert!(reasons[0].contains("already sent"), "{}", reasons[0]);
}

#[tokio::test]
async fn every_request_body_the_tool_builds_matches_the_official_models() {
    use emulator::schema::{Mode, schemas};
    let env = setup(120, "csv", fast_settings()).await;
    env.prepare().await;
    let ledger = env.ledger();
    let s = schemas();

    let def = qm_migrate::form::definition(&env.cfg.form);
    s.validate_typed(
        "EvaluationForm",
        Mode::Request,
        &qm_migrate::form::for_create(&def),
    )
    .unwrap_or_else(|v| panic!("form create: {v:?}"));
    s.validate_typed(
        "PublishForm",
        Mode::Request,
        &genesys::models::PublishForm {
            id: "x".into(),
            published: true,
        },
    )
    .unwrap();

    let form = ledger.form(&env.cfg.form.name).unwrap().unwrap();
    let map: std::collections::BTreeMap<String, String> =
        serde_json::from_str(form.id_map.as_deref().unwrap()).unwrap();
    let items = ledger.loads_in(&[state::PLANNED]).unwrap();
    assert!(items.len() > 50);
    let mut last = None;
    for item in &items {
        let body = qm_migrate::load::create_body(
            &env.cfg,
            &ledger,
            item,
            &map["form"],
            &map,
            Some("2026-11-23T10:00:00.000Z".into()),
        )
        .unwrap();
        s.validate_typed("EvaluationCreateBody", Mode::Request, &body)
            .unwrap_or_else(|v| panic!("record {}: {}", item.record_id, v[0]));
        last = Some(body);
    }
    // The check can fail, and names the field when it does.
    let mut bad = serde_json::to_value(last.unwrap()).unwrap();
    bad["answers"]["questionGroupScores"][0]["markedNa"] = serde_json::Value::Bool(false);
    let v = s
        .validate("EvaluationCreateBody", Mode::Request, &bad)
        .unwrap_err();
    assert_eq!(v[0].path, "/answers/questionGroupScores/0");
    assert!(v[0].message.contains("'markedNa'"), "{}", v[0]);
}

#[tokio::test]
async fn a_conversation_already_evaluated_by_someone_else_follows_the_switch() {
    let mut env = setup(80, "csv", fast_settings()).await;
    env.cfg.genesys.on_existing_evaluation = "skip".into();
    env.prepare().await;
    let ledger = env.ledger();
    let bar = indicatif::ProgressBar::hidden();
    let form = ledger.form(&env.cfg.form.name).unwrap().unwrap();
    let map: std::collections::BTreeMap<String, String> =
        serde_json::from_str(form.id_map.as_deref().unwrap()).unwrap();
    let target = ledger.loads_in(&[state::PLANNED]).unwrap()[0].clone();
    // Someone evaluates that conversation in Genesys first (no marker of ours).
    let mut theirs =
        qm_migrate::load::create_body(&env.cfg, &ledger, &target, &map["form"], &map, None)
            .unwrap();
    theirs.answers.private_comments = None;
    env.client
        .create_evaluation(&target.conversation_id, &theirs, None)
        .await
        .unwrap();

    let out = qm_migrate::load::run(&env.cfg, &ledger, &env.client, &Default::default(), &bar)
        .await
        .unwrap();
    assert_eq!(out.rejected_now, 1);
    let (state, code): (String, String) = ledger
        .conn()
        .query_row(
            "SELECT state, code FROM loads WHERE record_id = ?1",
            [target.record_id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(
        (state.as_str(), code.as_str()),
        ("rejected", "existing.evaluation")
    );

    // With `create`, it is sent anyway (this emulator allows several per conversation).
    env.cfg.genesys.on_existing_evaluation = "create".into();
    ledger
        .conn()
        .execute(
            "UPDATE loads SET state = 'planned' WHERE record_id = ?1",
            [target.record_id],
        )
        .unwrap();
    let out = qm_migrate::load::run(&env.cfg, &ledger, &env.client, &Default::default(), &bar)
        .await
        .unwrap();
    assert_eq!(out.created_now, 1);
}

#[tokio::test]
async fn a_points_form_without_applicable_points_is_quarantined_with_the_reason() {
    let mut env = setup(80, "csv", fast_settings()).await;
    env.cfg.scoring.forms.insert(
        "Collections QA".into(),
        qm_migrate::config::MethodConfig {
            method: "points".into(),
            max: None,
            min: None,
        },
    );
    env.run().await;
    let ledger = env.ledger();
    let reasons: Vec<String> = ledger
        .conn()
        .prepare("SELECT p.reason FROM plans p JOIN records r ON r.id = p.record_id WHERE r.canonical LIKE '%Collections QA%'")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(!reasons.is_empty());
    let quarantined = reasons
        .iter()
        .filter(|r| r.contains("needs the record's applicable points"))
        .count();
    assert!(
        quarantined > 0 && quarantined + 3 >= reasons.len(),
        "{reasons:?}"
    );
}

#[tokio::test]
async fn a_long_csv_export_is_staged_one_record_per_evaluation() {
    let mut env = setup(60, "csv", fast_settings()).await;
    let path = env.path("long.csv");
    std::fs::copy(
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../calabrio/tests/data/evaluations_long.csv"
        ),
        &path,
    )
    .unwrap();
    env.cfg.source.kind = "csv-long".into();
    env.cfg.source.path = path;
    let mut ledger = env.ledger();
    let s = qm_migrate::extract::run(&env.cfg, &mut ledger, &indicatif::ProgressBar::hidden())
        .await
        .unwrap();
    assert_eq!((s.records, s.unreadable), (1, 0));
    let canonical: String = ledger
        .conn()
        .query_row(
            "SELECT canonical FROM records WHERE evaluation_id = '80517'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    let ev: qm_model::CanonicalEvaluation = serde_json::from_str(&canonical).unwrap();
    let questions: usize = ev.sections.iter().map(|s| s.questions.len()).sum();
    assert_eq!(questions, 3);
}

#[tokio::test]
async fn naive_timestamps_are_counted_with_their_reason_and_the_fix() {
    let mut env = setup(40, "csv", fast_settings()).await;
    let path = env.path("calabrio-export.csv");
    let text = std::fs::read_to_string(&path).unwrap();
    // Every timestamp of the export without its offset.
    let naive = regex_free_strip_z(&text);
    std::fs::write(&path, naive).unwrap();
    let mut ledger = env.ledger();
    let bar = indicatif::ProgressBar::hidden();
    let x = qm_migrate::extract::run(&env.cfg, &mut ledger, &bar)
        .await
        .unwrap();
    let top = &x.unreadable_reasons[0];
    assert_eq!(top.field, "evaluated_at", "{:?}", x.unreadable_reasons);
    assert!(top.records > 30, "{top:?}");
    let top_count = top.records;
    assert!(top.records <= x.unreadable);
    assert!(x.unreadable_reasons.len() <= 3);
    assert!(
        x.fix.as_deref().unwrap().contains("[source] time_zone"),
        "{:?}",
        x.fix
    );
    // The fix works.
    env.cfg.source.time_zone = Some("UTC".into());
    let x = qm_migrate::extract::run(&env.cfg, &mut ledger, &bar)
        .await
        .unwrap();
    assert!(x.fix.is_none());
    assert!(
        x.unreadable_reasons
            .iter()
            .all(|r| !r.example.contains("has no time zone") && r.records < top_count),
        "{:?}",
        x.unreadable_reasons
    );
}

/// `text` with the `Z` removed after every `…T..:..:..` timestamp.
fn regex_free_strip_z(text: &str) -> String {
    let b = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    while i < b.len() {
        // `HH:MM:SSZ`: a Z after two digits preceded by ':'.
        if b[i] == b'Z' && i >= 9 && b[i - 3] == b':' && b[i - 6] == b':' && b[i - 9] == b'T' {
            i += 1;
            continue;
        }
        let c = text[i..].chars().next().unwrap();
        out.push(c);
        i += c.len_utf8();
    }
    out
}
