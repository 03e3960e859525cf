//! Genesys' published rules on day one and day ninety (#24): comments within its limits with nothing
//! lost, the 90-day edit window, one evaluation's refusal never stopping a run, a stop that is
//! always clean (signals, outages), and the compliance line after a record leaves the source.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Duration;

use crate::support::{
    Env, columns, created_ids, cycle, edit_row, evaluation_of, fast_settings, field, held, id_of,
    rows, setup, setup_with, verify, write,
};

/// `n` characters of words ("w0 w1 w2 …"), so a cut at a space is possible.
fn words(n: usize) -> String {
    let mut s = String::new();
    let mut i = 0;
    while s.len() < n {
        s.push_str(&format!("w{i} "));
        i += 1;
    }
    s.truncate(n);
    // Sources trim comments: end on a letter, not a space.
    if s.ends_with(' ') {
        s.pop();
        s.push('x');
    }
    s
}

fn utf16(s: &str) -> usize {
    s.encode_utf16().count()
}

/// The evaluation the emulator holds for Calabrio evaluation `id` (by our marker).
fn held_for(env: &Env, id: &str) -> genesys::models::Evaluation {
    let marker = format!("calabrio_evaluation_id={id};");
    env.emu
        .state
        .evaluations()
        .into_iter()
        .find(|e| {
            e.answers
                .as_ref()
                .and_then(|a| a.private_comments.as_deref())
                .is_some_and(|c| c.contains(&marker))
        })
        .unwrap_or_else(|| panic!("no evaluation in Genesys for Calabrio evaluation {id}"))
}

/// Every history entry.
fn history_entries(env: &Env) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    for f in std::fs::read_dir(env.cfg.history.dir.join("agents")).unwrap() {
        let text = std::fs::read_to_string(f.unwrap().path()).unwrap();
        out.extend(text.lines().map(|l| serde_json::from_str(l).unwrap()));
    }
    out
}

fn query<T: rusqlite::types::FromSql>(env: &Env, sql: &str) -> Vec<T> {
    env.ledger()
        .conn()
        .prepare(sql)
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn long_comments_are_shortened_to_genesys_limits_and_the_history_keeps_them_whole() {
    // The emulator enforces Genesys' published limits (4000 overall, 2000 private and per answer).
    let mut env = setup(300, "csv", fast_settings()).await;
    env.cfg.source.kind = "tables".into();
    env.cfg.source.path = env.path("calabrio-tables");
    env.cfg.form.mode = "mirror".into();
    let before = env.prepare().await;
    let evaluations: Vec<String> = query(
        &env,
        "SELECT r.evaluation_id FROM records r JOIN plans p ON p.record_id = r.id
         WHERE p.disposition = 'evaluation' AND p.form_name IS NULL ORDER BY r.id",
    );
    let mirrored: Vec<String> = query(
        &env,
        "SELECT r.evaluation_id FROM records r JOIN plans p ON p.record_id = r.id
         WHERE p.disposition = 'evaluation' AND p.form_name IS NOT NULL ORDER BY r.id",
    );
    let (a, b, m) = (&evaluations[0], &evaluations[1], &mirrored[0]);
    // A question the mirrored evaluation answered.
    let scores = std::fs::read_to_string(env.path("calabrio-tables/scores.csv")).unwrap();
    let (section, question) = scores
        .lines()
        .map(|l| l.split(',').collect::<Vec<_>>())
        .find(|f| f[0] == m.as_str())
        .map(|f| (f[1].to_owned(), f[2].to_owned()))
        .unwrap();
    // 4500 characters; 3900 (which the provenance line pushes over 4000); an answer of 2100.
    let comments_path = env.path("calabrio-tables/comments.csv");
    let mut text = std::fs::read_to_string(&comments_path).unwrap();
    if !text.ends_with('\n') {
        text.push('\n');
    }
    let (long, longish, answer) = (words(4500), words(3900), words(2100));
    text.push_str(&format!(
        "cx1,{a},,,2024-01-02T03:04:05Z,,{long}\ncx2,{b},,,2024-01-02T03:04:05Z,,{longish}\ncx3,{m},{section},{question},2024-01-02T03:04:05Z,,{answer}\n"
    ));
    std::fs::write(&comments_path, text).unwrap();

    let out = env.run().await;
    assert_eq!(out.json["load"]["rejected"], 0, "{}", out.json["load"]);
    assert_eq!(
        out.json["dispositions"]["quarantined"].as_u64(),
        Some(before.dispositions["quarantined"]),
        "no record is quarantined for a comment's length"
    );
    let created: Vec<String> = created_ids(&env);
    for id in [a, b, m] {
        assert!(created.contains(id), "Calabrio evaluation {id} was created");
    }
    let note = |id: &str| {
        format!(
            "more characters: the full text is in the migration history of calabrio_one evaluation {id}]"
        )
    };
    for id in [a, b] {
        let held = held_for(&env, id);
        let c = held.answers.unwrap().comments.unwrap();
        assert!(utf16(&c) <= 4000, "{id}: {} characters", utf16(&c));
        assert!(
            c.starts_with(&format!("[Migrated from Calabrio ONE] evaluation {id} ")),
            "the provenance line stays first: {}",
            &c[..80]
        );
        assert!(c.contains(&note(id)), "{id}: says where the rest is");
    }
    let mirrored_held = held_for(&env, m);
    let question_comments: Vec<String> = mirrored_held
        .answers
        .unwrap()
        .question_group_scores
        .iter()
        .flat_map(|g| &g.question_scores)
        .filter_map(|q| q.comments.clone())
        .collect();
    let cut = question_comments
        .iter()
        .find(|c| c.contains("w0 w1 w2"))
        .expect("the mirrored answer carries its comment");
    assert!(utf16(cut) <= 2000, "{}", utf16(cut));
    assert!(cut.contains(&note(m)), "{cut}");
    // The history keeps every character.
    let entries = history_entries(&env);
    for (id, full) in [(a, &long), (b, &longish), (m, &answer)] {
        let e = entries
            .iter()
            .find(|e| e["record"]["evaluation_id"] == id.as_str())
            .unwrap();
        let texts: Vec<&str> = e["canonical"]["comments"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|c| c["text"].as_str())
            .collect();
        assert!(
            texts.contains(&full.as_str()),
            "{id}: the history holds the whole comment"
        );
        assert!(
            e["plan"]["comments_shortened"].as_i64().unwrap() >= 1,
            "{e}"
        );
    }
    // The report counts them.
    let report = std::fs::read_to_string(env.path("report.html")).unwrap();
    assert!(
        report.contains("3 comments of 3 evaluations were longer"),
        "{}",
        report
            .split("id=\"comments\"")
            .nth(1)
            .unwrap_or("")
            .get(..400)
            .unwrap_or("")
    );
}

/// A percentage-scored created row to re-score, and another created row to delete, in `all`.
fn change_and_delete(env: &Env, header: &[u8], all: &mut Vec<Vec<u8>>) -> (String, String) {
    let created = created_ids(env);
    let headers = columns(header);
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (ix, changed) = all
        .iter()
        .enumerate()
        .find(|(_, r)| created.contains(&id_of(r)) && field(r, col("scoring_type")) == "percentage")
        .map(|(i, r)| (i, id_of(r)))
        .unwrap();
    let score = if field(&all[ix], col("total_score"))
        .parse::<f64>()
        .unwrap_or(0.0)
        > 50.0
    {
        "20"
    } else {
        "90"
    };
    all[ix] = edit_row(
        &all[ix],
        &[
            (col("total_score"), score),
            (col("raw_additive_score"), ""),
            (col("evaluation_comment"), "Rescored after a dispute"),
        ],
    );
    let (dx, deleted) = all
        .iter()
        .enumerate()
        .find(|(_, r)| created.contains(&id_of(r)) && id_of(r) != changed)
        .map(|(i, r)| (i, id_of(r)))
        .unwrap();
    all.remove(dx);
    (changed, deleted)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_edit_window_changes_are_listed_not_sent_and_rollback_keeps_what_it_cannot_delete()
{
    // One clock for the org and the tool, moved 91 days on after the first load.
    let clock = genesys::Clock::scaled(1.0);
    let mut env = setup_with(80, "csv", fast_settings(), clock.clone(), clock.clone()).await;
    env.cfg.sync.on_withdraw = "delete".into();
    cycle(&env).await;
    let first = env.emu.state.evaluations().len();
    assert!(first > 20);
    clock.advance(Duration::from_secs(91 * 86_400));

    let path = env.cfg.source.path.clone();
    let (header, mut all) = rows(&path);
    let (changed, deleted) = change_and_delete(&env, &header, &mut all);
    let (changed_eval, deleted_eval) =
        (evaluation_of(&env, &changed), evaluation_of(&env, &deleted));
    // And one evaluation Calabrio adds now: its window opens today.
    let template = all
        .iter()
        .find(|r| created_ids(&env).contains(&id_of(r)) && id_of(r) != changed)
        .unwrap()
        .clone();
    let added = String::from_utf8_lossy(&template).replacen(&id_of(&template), "99999002", 1);
    all.push(added.into_bytes());
    write(&path, &header, &all);
    let requests_before = env.emu.state.stats().requests.load(Relaxed);

    let out = env.run().await;
    assert_eq!(out.code, 1, "drift remains: {}", out.human);
    let l = &out.json["load_run"];
    assert_eq!(l["past_edit_window"], 2, "{l}");
    assert_eq!(
        (l["updated_now"].as_u64(), l["withdrawn_now"].as_u64()),
        (Some(0), Some(0))
    );
    assert_eq!(l["created_now"], 1, "the new evaluation is created");
    assert_eq!(env.emu.state.stats().evaluations_updated.load(Relaxed), 0);
    assert!(
        env.emu
            .state
            .evaluations()
            .iter()
            .any(|e| e.id == deleted_eval)
    );
    assert_eq!(
        held(&env, &changed_eval).changed_date,
        held(&env, &changed_eval).created_date
    );
    let v = &out.json["verify"]["drift"];
    let drift: BTreeMap<&str, (&str, &str)> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["evaluation_id"].as_str().unwrap(),
                (d["what"].as_str().unwrap(), d["note"].as_str().unwrap()),
            )
        })
        .collect();
    for (eval, what) in [
        (
            &changed_eval,
            "changed in Calabrio, past Genesys' edit window",
        ),
        (
            &deleted_eval,
            "gone from the source, past Genesys' edit window",
        ),
    ] {
        let (w, note) = drift[eval.as_str()];
        assert_eq!(w, what);
        assert!(
            note.starts_with("past Genesys' 90-day edit window, created ")
                && note.contains(": listed, not applied"),
            "{note}"
        );
    }
    // Known by the date: nothing was sent for them (the run read, created one, and verified).
    // (The audit cross-check's reads, #27, are counted apart: 3 queries per 30-day window of the
    // 91 days the org's clock moved.)
    let audit = out.json["verify"]["audit"]["requests"].as_u64().unwrap();
    let sent = env.emu.state.stats().requests.load(Relaxed) - requests_before - audit;
    assert!(sent < 40, "{sent} requests");

    // rollback --dry-run on the org's clock: the new one could go, the rest are past the window.
    let dry = qm_migrate::pipeline::rollback::rollback_with(
        &env.cfg,
        &env.ledger(),
        &env.client,
        &qm_migrate::pipeline::rollback::RollbackOptions {
            dry_run: true,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(dry.would_delete, 1, "{dry:?}");
    assert_eq!(dry.not_deleted.len(), first, "{dry:?}");
    assert!(
        dry.not_deleted
            .iter()
            .all(|n| n.record.starts_with("calabrio_one evaluation ")
                && n.reason.contains("edit window"))
    );

    // rollback --yes as a process on the real clock: it does not know the window has closed, so
    // it learns it from Genesys' refusals; it deletes what it can and names the rest.
    let (cfg_path, id, secret) = env.binary_config("rollback.toml");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_qm-migrate"))
            .arg("--config")
            .arg(&cfg_path)
            .args(["rollback", "--yes"])
            .env("GENESYS_CLIENT_ID", &id)
            .env("GENESYS_CLIENT_SECRET", &secret)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 evaluations deleted"), "{stdout}");
    assert!(
        stdout.contains(&format!("{first} evaluations could not be deleted")),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "calabrio_one evaluation {changed} (Genesys evaluation {changed_eval})"
        )),
        "{stdout}"
    );
    // Nothing lost or duplicated: what could not be deleted is still `created` and in Genesys.
    let still: Vec<String> = query(
        &env,
        "SELECT evaluation_id FROM loads WHERE state = 'created'",
    );
    assert_eq!(still.len(), first);
    let held_ids: Vec<String> = env
        .emu
        .state
        .evaluations()
        .into_iter()
        .map(|e| e.id)
        .collect();
    assert_eq!(held_ids.len(), first);
    assert!(still.iter().all(|i| held_ids.contains(i)));
    let learned: Vec<i64> = query(
        &env,
        "SELECT count(*) FROM loads WHERE state = 'created' AND edit_window_closed IS NOT NULL",
    );
    assert_eq!(learned[0] as usize, first, "the refusals are remembered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_evaluations_refused_read_or_delete_is_flagged_and_the_others_sync() {
    let mut env = setup(80, "csv", fast_settings()).await;
    env.cfg.sync.on_withdraw = "delete".into();
    cycle(&env).await;
    let path = env.cfg.source.path.clone();
    let (header, mut all) = rows(&path);
    // Two changes and two deletions; Genesys refuses the read of one changed evaluation (400) and
    // the deletion of one deleted evaluation (409).
    let (changed_a, deleted_c) = change_and_delete(&env, &header, &mut all);
    let keep: Vec<String> = vec![changed_a.clone(), deleted_c.clone()];
    let created = created_ids(&env);
    let headers = columns(&header);
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let ix = all
        .iter()
        .position(|r| {
            created.contains(&id_of(r))
                && !keep.contains(&id_of(r))
                && field(r, col("scoring_type")) == "percentage"
        })
        .unwrap();
    let changed_b = id_of(&all[ix]);
    all[ix] = edit_row(&all[ix], &[(col("evaluation_comment"), "Second look")]);
    let dx = all
        .iter()
        .position(|r| {
            created.contains(&id_of(r)) && !keep.contains(&id_of(r)) && id_of(r) != changed_b
        })
        .unwrap();
    let deleted_d = id_of(&all.remove(dx));
    write(&path, &header, &all);
    let eval = |id: &str| evaluation_of(&env, id);
    let (a, b, c, d) = (
        eval(&changed_a),
        eval(&changed_b),
        eval(&deleted_c),
        eval(&deleted_d),
    );
    env.emu.state.refuse("GET", &a, 400, "bad.request");
    env.emu.state.refuse("DELETE", &c, 409, "request.conflict");

    let (_, l) = cycle(&env).await;
    assert_eq!(
        (l.updated_now, l.withdrawn_now, l.sync_refused),
        (1, 1, 2),
        "{l:?}"
    );
    assert_eq!(
        env.emu.state.evaluation_versions(&b),
        Some(2),
        "b was updated"
    );
    assert!(
        env.emu.state.evaluation_versions(&d).is_none(),
        "d was deleted"
    );
    assert_eq!(env.emu.state.evaluation_versions(&a), Some(1));
    assert!(env.emu.state.evaluation_versions(&c).is_some());
    let notes: Vec<(String, Option<String>, Option<String>)> = env
        .ledger()
        .conn()
        .prepare("SELECT evaluation_id, sync_state, sync_note FROM loads WHERE evaluation_id IN (?1, ?2)")
        .unwrap()
        .query_map([&a, &c], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    for (id, state, note) in notes {
        assert_eq!(state.as_deref(), Some("flagged"), "{id}");
        let code = if id == a {
            "400 bad.request"
        } else {
            "409 request.conflict"
        };
        assert!(note.as_deref().unwrap().contains(code), "{id}: {note:?}");
    }
    let v = verify(&env).await;
    let drifting: Vec<&str> = v.drift.iter().map(|d| d.evaluation_id.as_str()).collect();
    assert!(
        drifting.contains(&a.as_str()) && drifting.contains(&c.as_str()),
        "{drifting:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_migrated_row_leaves_the_export_run_json_keeps_the_compliance_line() {
    let env = setup(80, "csv", fast_settings()).await;
    let (cfg_path, id, secret) = env.binary_config("run.toml");
    let run = || {
        let (cfg_path, id, secret) = (cfg_path.clone(), id.clone(), secret.clone());
        tokio::task::spawn_blocking(move || {
            let out = std::process::Command::new(env!("CARGO_BIN_EXE_qm-migrate"))
                .arg("--config")
                .arg(&cfg_path)
                .args(["--json", "--quiet", "run"])
                .env("GENESYS_CLIENT_ID", &id)
                .env("GENESYS_CLIENT_SECRET", &secret)
                .output()
                .unwrap();
            assert!(out.status.code().is_some_and(|c| c <= 1), "{out:?}");
            serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()
        })
    };
    let first = run().await.unwrap();
    let records = first["records"].as_u64().unwrap();
    let path = env.cfg.source.path.clone();
    let (header, mut all) = rows(&path);
    let created = created_ids(&env);
    let gone = all
        .iter()
        .position(|r| created.contains(&id_of(r)))
        .unwrap();
    let gone_id = id_of(&all.remove(gone));
    write(&path, &header, &all);

    let second = run().await.unwrap();
    let sum: u64 = second["dispositions"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(
        second["invariant_holds"], true,
        "{}",
        second["dispositions"]
    );
    assert_eq!(second["records"].as_u64(), Some(sum));
    assert_eq!(
        second["records"].as_u64(),
        Some(records),
        "the record that left is still counted"
    );
    assert_eq!(second["plan"]["records_left_source"], 1);
    let drift = second["verify"]["drift"].as_array().unwrap();
    assert_eq!(drift.len(), 1, "{drift:?}");
    assert_eq!(
        drift[0]["record"],
        format!("calabrio_one evaluation {gone_id}")
    );
    assert!(
        drift[0]["last_seen"]
            .as_str()
            .unwrap()
            .contains("calabrio-export.csv:"),
        "{}",
        drift[0]
    );
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_and_sigterm_stop_run_cleanly_during_its_load_and_the_next_run_finishes_exactly_once()
 {
    for signal in ["INT", "TERM"] {
        let settings = emulator::Settings {
            latency_ms: 40,
            ..fast_settings()
        };
        let env = setup(600, "csv", settings).await;
        let (cfg_path, id, secret) = env.binary_config("signal.toml");
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_qm-migrate"))
            .arg("--config")
            .arg(&cfg_path)
            .args(["--quiet", "run"])
            .env("GENESYS_CLIENT_ID", &id)
            .env("GENESYS_CLIENT_SECRET", &secret)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        // Into its load.
        let waited = std::time::Instant::now();
        while env.emu.state.stats().evaluations_created.load(Relaxed) < 10 {
            assert!(
                waited.elapsed() < Duration::from_secs(120),
                "the load never started"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let sent = std::time::Instant::now();
        let killed = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
            .await
            .unwrap();
        let took = sent.elapsed();
        println!(
            "SIG{signal} during run's load: exited {:?} after {took:?}",
            out.status.code()
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(took < Duration::from_secs(10), "SIG{signal}: took {took:?}");
        assert_eq!(
            out.status.code(),
            Some(1),
            "SIG{signal}: {:?} {stderr}",
            out.status
        );
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("run `qm-migrate run` again to resume"),
            "SIG{signal}: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        let ledger = env.ledger();
        assert!(
            ledger.loads_in(&["sending"]).unwrap().is_empty(),
            "SIG{signal}: no item left sending"
        );
        let created = env.emu.state.evaluations().len();
        let planned = ledger.loads_in(&["planned"]).unwrap().len();
        assert!(
            planned > 0,
            "SIG{signal}: stopped mid-way ({created} created)"
        );
        drop(ledger);
        env.run().await;
        env.assert_exactly_once();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_minute_outage_under_load_follow_is_waited_out_with_a_handful_of_requests() {
    // Ten times real time: two minutes of outage take twelve seconds.
    let clock = genesys::Clock::scaled(10.0);
    let settings = emulator::Settings {
        latency_ms: 40,
        ..fast_settings()
    };
    let mut env = setup_with(400, "csv", settings, clock.clone(), clock.clone()).await;
    // The reconcile wait `probe` recommends for an org whose query shows a create within a second.
    env.cfg.genesys.reconcile_after_s = None;
    env.cfg.genesys.query_lag_s = Some(1.0);
    env.prepare().await;
    let planned = env.ledger().loads_in(&["planned"]).unwrap().len();
    let state = env.emu.state.clone();
    let outage = tokio::spawn(async move {
        while state.stats().evaluations_created.load(Relaxed) < 40 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        state.outage(Duration::from_secs(120));
    });
    let opts = qm_migrate::load::LoadOptions {
        follow: true,
        ..Default::default()
    };
    let l = qm_migrate::load::run(
        &env.cfg,
        &env.ledger(),
        &env.client,
        &opts,
        &indicatif::ProgressBar::hidden(),
    )
    .await
    .unwrap();
    outage.await.unwrap();
    let during = env.emu.state.stats().outage_answers.load(Relaxed);
    println!(
        "two minutes of outage under load --follow: {during} requests reached Genesys during it; the load took {:.0} s of the migration's clock",
        l.elapsed_seconds
    );
    assert!(during >= 1, "the outage was met");
    assert!(
        during <= 20,
        "{during} requests during two minutes of outage"
    );
    assert_eq!(l.outage, None);
    assert!(l.elapsed_seconds >= 120.0, "{l:?}");
    assert_eq!(l.load["created"] as usize, planned);
    env.assert_exactly_once();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_follow_an_outage_stops_the_load_cleanly_and_a_rerun_resumes() {
    let clock = genesys::Clock::scaled(10.0);
    let settings = emulator::Settings {
        latency_ms: 40,
        ..fast_settings()
    };
    let env = setup_with(200, "csv", settings, clock.clone(), clock.clone()).await;
    env.prepare().await;
    let state = env.emu.state.clone();
    let outage = tokio::spawn(async move {
        while state.stats().evaluations_created.load(Relaxed) < 20 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        state.outage(Duration::from_secs(3600));
    });
    let bar = indicatif::ProgressBar::hidden();
    let l = qm_migrate::load::run(
        &env.cfg,
        &env.ledger(),
        &env.client,
        &Default::default(),
        &bar,
    )
    .await
    .expect("an outage is a clean stop, not an error");
    outage.await.unwrap();
    assert!(l.outage.is_some(), "{l:?}");
    let during = env.emu.state.stats().outage_answers.load(Relaxed);
    assert!(during <= 20, "{during} requests during the outage");
    assert!(env.ledger().loads_in(&["sending"]).unwrap().is_empty());
    assert!(!env.ledger().loads_in(&["planned"]).unwrap().is_empty());
    // Once Genesys is back, a plain re-run finishes, exactly once.
    clock.advance(Duration::from_secs(3600));
    qm_migrate::load::run(
        &env.cfg,
        &env.ledger(),
        &env.client,
        &Default::default(),
        &bar,
    )
    .await
    .unwrap();
    env.assert_exactly_once();
}
