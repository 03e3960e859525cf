//! Every run is a sync: a record is its Calabrio evaluation wherever it stands in the export, a
//! changed record updates its Genesys evaluation once, a deleted one is flagged or deleted, an edit
//! made in Genesys is never overwritten, and verify compares Genesys with the source as it stands.

use std::collections::BTreeMap;
use std::sync::atomic::Ordering::Relaxed;

use crate::support::{
    Env, columns, created_ids, cycle, dispositions, edit_row, evaluation_of, fast_settings, field,
    held, id_of, rows, setup, verify, write,
};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resorted_and_a_split_export_is_the_same_source() {
    let mut env = setup(60, "csv", fast_settings()).await;
    let (_, first) = cycle(&env).await;
    assert!(first.created_now > 20, "{first:?}");
    let made = env.emu.state.stats().evaluations_created.load(Relaxed);
    let before = dispositions(&env);
    let path = env.cfg.source.path.clone();
    let (header, mut all) = rows(&path);

    // The same export, rows in reverse order.
    all.reverse();
    write(&path, &header, &all);
    let (x, l) = cycle(&env).await;
    // Rows without a readable id keep an identity by position: they alone are new (quarantined).
    assert_eq!((x.new, x.changed), (x.unreadable, 0), "{x:?}");
    assert_eq!(l.created_now, 0);
    assert_eq!(
        dispositions(&env),
        before,
        "every record keeps its disposition"
    );
    assert_eq!(
        env.emu.state.stats().evaluations_created.load(Relaxed),
        made
    );

    // The same export in two parts that overlap by a third.
    let n = all.len();
    let part1 = env.path("part-1.csv");
    let part2 = env.path("part-2.csv");
    write(&part1, &header, &all[..2 * n / 3]);
    write(&part2, &header, &all[n / 3..]);
    env.cfg.source.path = part1;
    env.cfg.source.more_paths = vec![part2];
    let (x, l) = cycle(&env).await;
    assert_eq!(x.changed, 0, "{x:?}");
    let overlap = (2 * n / 3 - n / 3) as u64;
    assert!(
        x.new >= overlap && x.new <= overlap + x.unreadable,
        "the overlap's second copies (and the unreadable rows, by position) are new records: {x:?}"
    );
    assert_eq!(l.created_now, 0, "nothing sent again");
    assert_eq!(l.updated_now, 0);
    assert_eq!(
        env.emu.state.stats().evaluations_created.load(Relaxed),
        made
    );
    assert_eq!(env.emu.state.stats().evaluations_updated.load(Relaxed), 0);
    let after = dispositions(&env);
    for (k, d) in &before {
        assert_eq!(after.get(k), Some(d), "record {k:?} kept its disposition");
    }
    for (k, d) in after.iter().filter(|(k, _)| !before.contains_key(k)) {
        assert_eq!(
            d, "excluded",
            "a second copy {k:?} is a superseded duplicate"
        );
    }
    let v = verify(&env).await;
    assert!(v.clean(), "{}", v.line());
}

/// Rows of the sample: a created one to change, one to delete, and a new one copied from another
/// created row under a new evaluation id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_an_addition_and_a_deletion_flow_through_and_verify_sees_the_drift_first() {
    let mut env = setup(60, "csv", fast_settings()).await;
    cycle(&env).await;
    let path = env.cfg.source.path.clone();
    let (header, mut all) = rows(&path);
    let created = created_ids(&env);
    let headers = columns(&header);
    let col = |name: &str| headers.iter().position(|h| h == name).unwrap();
    let (change_ix, change_id) = all
        .iter()
        .enumerate()
        .find(|(_, r)| created.contains(&id_of(r)) && field(r, col("scoring_type")) == "percentage")
        .map(|(i, r)| (i, id_of(r)))
        .unwrap();
    let old_evaluation = evaluation_of(&env, &change_id);
    let old_total = held(&env, &old_evaluation)
        .answers
        .unwrap()
        .total_score
        .unwrap();
    let new_score = if old_total > 50.0 { 20.0 } else { 90.0 };
    let score_text = format!("{new_score}");
    all[change_ix] = edit_row(
        &all[change_ix],
        &[
            (col("total_score"), &score_text),
            (col("raw_additive_score"), ""),
            (col("evaluation_comment"), "Rescored after a dispute"),
        ],
    );
    // Deleted: another created row.
    let (delete_ix, delete_id) = all
        .iter()
        .enumerate()
        .find(|(_, r)| created.contains(&id_of(r)) && id_of(r) != change_id)
        .map(|(i, r)| (i, id_of(r)))
        .unwrap();
    let deleted_evaluation = evaluation_of(&env, &delete_id);
    // Added: a copy of a third created row under a new evaluation id.
    let template = all
        .iter()
        .find(|r| created.contains(&id_of(r)) && ![&change_id, &delete_id].contains(&&id_of(r)))
        .unwrap()
        .clone();
    let template_id = id_of(&template);
    let added = String::from_utf8_lossy(&template).replacen(&template_id, "99999001", 1);
    all.remove(delete_ix);
    all.push(added.into_bytes());
    write(&path, &header, &all);
    let made = env.emu.state.stats().evaluations_created.load(Relaxed);

    // Extract and plan: before the load, verify names the drift.
    let mut ledger = env.ledger();
    let bar = indicatif::ProgressBar::hidden();
    let x = qm_migrate::extract::run(&env.cfg, &mut ledger, &bar)
        .await
        .unwrap();
    // (Rows without a readable id are identified by position: the deletion moves them too.)
    assert!(
        x.new > x.unreadable.saturating_sub(1) && x.changed >= 1 && x.stale >= 1,
        "{x:?}"
    );
    let plan = qm_migrate::plan::run(&env.cfg, &mut ledger, &env.client, &Default::default())
        .await
        .unwrap();
    assert_eq!(
        (plan.sync_updates, plan.sync_flagged, plan.sync_withdrawals),
        (1, 1, 0)
    );
    let v = qm_migrate::verify::verify(&env.cfg, &ledger, &env.client)
        .await
        .unwrap();
    assert!(!v.clean());
    let what: BTreeMap<String, String> = v
        .drift
        .iter()
        .map(|d| (d.evaluation_id.clone(), d.what.clone()))
        .collect();
    assert_eq!(what.len(), 2, "{:?}", v.drift);
    assert!(what[&old_evaluation].starts_with("changed in Calabrio"));
    assert_eq!(what[&deleted_evaluation], "gone from the source");
    let changed = v
        .drift
        .iter()
        .find(|d| d.evaluation_id == old_evaluation)
        .unwrap();
    assert!((changed.genesys_total.unwrap() - old_total).abs() < 0.01);
    assert!(
        (changed.source_now.unwrap() - new_score).abs() < 0.6,
        "{changed:?}"
    );

    // The load: the change updates the one evaluation, the addition is created, the deletion is
    // listed.
    let l = qm_migrate::load::run(&env.cfg, &ledger, &env.client, &Default::default(), &bar)
        .await
        .unwrap();
    assert_eq!(
        (l.updated_now, l.created_now, l.withdrawn_now),
        (1, 1, 0),
        "{l:?}"
    );
    assert_eq!(
        env.emu.state.stats().evaluations_created.load(Relaxed),
        made + 1
    );
    let now = held(&env, &old_evaluation);
    let answers = now.answers.unwrap();
    assert!(
        (answers.total_score.unwrap() - new_score).abs() < 0.6,
        "Genesys holds the new score: {:?}",
        answers.total_score
    );
    let comments = answers.comments.unwrap_or_default();
    assert!(comments.contains("Rescored after a dispute"), "{comments}");
    assert!(comments.contains("Updated from Calabrio on"), "{comments}");
    assert_eq!(env.emu.state.evaluation_versions(&old_evaluation), Some(2));
    let on_conversation = env
        .emu
        .state
        .evaluations()
        .iter()
        .filter(|e| e.conversation == now.conversation)
        .count();
    assert_eq!(on_conversation, 1, "one evaluation, not two");
    let v = qm_migrate::verify::verify(&env.cfg, &ledger, &env.client)
        .await
        .unwrap();
    assert_eq!(v.drift.len(), 1, "{:?}", v.drift);
    assert_eq!(v.drift[0].evaluation_id, deleted_evaluation);
    assert!(v.mismatched.is_empty(), "{:?}", v.mismatched);

    // on_withdraw = delete: the deleted record's evaluation goes, and verify is clean.
    env.cfg.sync.on_withdraw = "delete".into();
    let (_, l) = cycle(&env).await;
    assert_eq!(
        (l.updated_now, l.created_now, l.withdrawn_now),
        (0, 0, 1),
        "{l:?}"
    );
    assert!(
        !env.emu
            .state
            .evaluations()
            .iter()
            .any(|e| e.id == deleted_evaluation)
    );
    let v = verify(&env).await;
    assert!(v.clean(), "{} {:?}", v.line(), v.drift);
}

/// Changes the first plain created row's comment in the export; returns its evaluation id and
/// the Genesys evaluation.
fn change_a_comment(env: &Env, text: &str) -> (String, String) {
    let path = env.cfg.source.path.clone();
    let (header, mut all) = rows(&path);
    let created = created_ids(env);
    let ix = all
        .iter()
        .position(|r| created.contains(&id_of(r)))
        .unwrap();
    let id = id_of(&all[ix]);
    let headers = columns(&header);
    let col = headers
        .iter()
        .position(|h| h == "evaluation_comment")
        .unwrap();
    all[ix] = edit_row(&all[ix], &[(col, text)]);
    write(&path, &header, &all);
    let evaluation = evaluation_of(env, &id);
    (id, evaluation)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_made_in_genesys_is_reported_and_never_overwritten() {
    let env = setup(40, "csv", fast_settings()).await;
    cycle(&env).await;
    let (_, evaluation) = change_a_comment(&env, "Changed in Calabrio later");
    // A supervisor edits the evaluation in Genesys.
    assert!(env.emu.state.edit_evaluation(&evaluation, |e| {
        if let Some(a) = e.answers.as_mut() {
            a.comments = Some("Supervisor note in Genesys".into());
        }
    }));
    let (_, l) = cycle(&env).await;
    assert_eq!((l.updated_now, l.edited_in_genesys), (0, 1), "{l:?}");
    let held = held(&env, &evaluation);
    assert_eq!(
        held.answers.unwrap().comments.as_deref(),
        Some("Supervisor note in Genesys"),
        "not overwritten"
    );
    assert_eq!(env.emu.state.evaluation_versions(&evaluation), Some(2));
    assert_eq!(env.emu.state.stats().evaluations_updated.load(Relaxed), 0);
    let v = verify(&env).await;
    let d = v
        .drift
        .iter()
        .find(|d| d.evaluation_id == evaluation)
        .unwrap();
    assert_eq!(d.what, "edited in Genesys");
    // A later run leaves it so.
    let (_, l) = cycle(&env).await;
    assert_eq!(l.updated_now, 0);
    assert_eq!(env.emu.state.evaluation_versions(&evaluation), Some(2));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_interrupted_before_or_after_it_reached_genesys_is_applied_once() {
    // Every update's connection is dropped after Genesys applied it (a SIGKILL after the send
    // looks the same to the next run): the next run reads it back and does not send it again.
    let env = setup(40, "csv", emulator::Settings { ..fast_settings() }).await;
    cycle(&env).await;
    let (_, evaluation) = change_a_comment(&env, "First change");
    let mut ledger = env.ledger();
    let bar = indicatif::ProgressBar::hidden();
    qm_migrate::extract::run(&env.cfg, &mut ledger, &bar)
        .await
        .unwrap();
    qm_migrate::plan::run(&env.cfg, &mut ledger, &env.client, &Default::default())
        .await
        .unwrap();
    // Killed after marking the update as sent, before sending it.
    ledger
        .conn()
        .execute(
            "UPDATE loads SET sync_state = 'updating' WHERE evaluation_id = ?1",
            [&evaluation],
        )
        .unwrap();
    let l = qm_migrate::load::run(&env.cfg, &ledger, &env.client, &Default::default(), &bar)
        .await
        .unwrap();
    assert_eq!(l.updated_now, 1, "{l:?}");
    assert_eq!(env.emu.state.evaluation_versions(&evaluation), Some(2));

    // Applied by Genesys, answer lost.
    let (_, evaluation) = change_a_comment(&env, "Second change");
    qm_migrate::extract::run(&env.cfg, &mut ledger, &bar)
        .await
        .unwrap();
    qm_migrate::plan::run(&env.cfg, &mut ledger, &env.client, &Default::default())
        .await
        .unwrap();
    let versions_before = env.emu.state.evaluation_versions(&evaluation).unwrap();
    env.emu.state.drop_update_answers(true);
    let l = qm_migrate::load::run(&env.cfg, &ledger, &env.client, &Default::default(), &bar)
        .await
        .unwrap();
    assert_eq!((l.updated_now, l.update_unknown), (0, 1), "{l:?}");
    env.emu.state.drop_update_answers(false);
    let l = qm_migrate::load::run(&env.cfg, &ledger, &env.client, &Default::default(), &bar)
        .await
        .unwrap();
    assert_eq!(l.updated_now, 1, "{l:?}");
    assert_eq!(
        env.emu.state.evaluation_versions(&evaluation),
        Some(versions_before + 1),
        "the new version exactly once"
    );
    let held = held(&env, &evaluation);
    assert!(
        held.answers
            .unwrap()
            .comments
            .unwrap_or_default()
            .contains("Second change")
    );
    let v = qm_migrate::verify::verify(&env.cfg, &ledger, &env.client)
        .await
        .unwrap();
    assert!(v.clean(), "{} {:?}", v.line(), v.drift);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_random_moments_of_an_update_leaves_the_new_version_once() {
    use rand::{RngExt, SeedableRng};
    // Every request takes 40–120 ms, so a kill lands before, during or after the update.
    let env = setup(
        30,
        "csv",
        emulator::Settings {
            latency_ms: 40,
            latency_jitter_ms: 80,
            ..fast_settings()
        },
    )
    .await;
    cycle(&env).await;
    let (cfg_path, id, secret) = env.binary_config("kill.toml");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(18);
    let bar = indicatif::ProgressBar::hidden();
    let (mut applied_before_kill, mut killed_before_applied) = (0, 0);
    for round in 0..8 {
        let (_, evaluation) = change_a_comment(&env, &format!("Change number {round}"));
        let before = env.emu.state.evaluation_versions(&evaluation).unwrap();
        {
            let mut ledger = env.ledger();
            qm_migrate::extract::run(&env.cfg, &mut ledger, &bar)
                .await
                .unwrap();
            qm_migrate::plan::run(&env.cfg, &mut ledger, &env.client, &Default::default())
                .await
                .unwrap();
        }
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_qm-migrate"))
            .arg("--config")
            .arg(&cfg_path)
            .args(["--quiet", "load"])
            .env("GENESYS_CLIENT_ID", &id)
            .env("GENESYS_CLIENT_SECRET", &secret)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        tokio::time::sleep(std::time::Duration::from_millis(rng.random_range(20..500))).await;
        child.kill().ok();
        child.wait().unwrap();
        if env.emu.state.evaluation_versions(&evaluation) == Some(before + 1) {
            applied_before_kill += 1;
        } else {
            killed_before_applied += 1;
        }
        // The next run finishes what the killed one left.
        let ledger = env.ledger();
        qm_migrate::load::run(&env.cfg, &ledger, &env.client, &Default::default(), &bar)
            .await
            .unwrap();
        assert_eq!(
            env.emu.state.evaluation_versions(&evaluation),
            Some(before + 1),
            "round {round}: exactly one new version"
        );
        let held = held(&env, &evaluation);
        let comments = held.answers.unwrap().comments.unwrap_or_default();
        assert!(
            comments.contains(&format!("Change number {round}")),
            "{comments}"
        );
        let state: Option<String> = ledger
            .conn()
            .query_row(
                "SELECT sync_state FROM loads WHERE evaluation_id = ?1",
                [&evaluation],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(state, None, "round {round}: in step with the source");
    }
    eprintln!(
        "killed before the update applied: {killed_before_applied}, after: {applied_before_kill}"
    );
    assert!(
        applied_before_kill > 0 && killed_before_applied > 0,
        "kills landed on both sides of the update ({killed_before_applied} before, {applied_before_kill} after)"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_undone_and_a_record_restored_before_the_load_send_nothing() {
    let env = setup(40, "csv", fast_settings()).await;
    cycle(&env).await;
    let path = env.cfg.source.path.clone();
    let original = std::fs::read(&path).unwrap();
    let (_, evaluation) = change_a_comment(&env, "A change soon undone");
    // Also remove another created row.
    let (h2, mut changed_rows) = rows(&path);
    let changed_id = env
        .ledger()
        .conn()
        .query_row(
            "SELECT r.evaluation_id FROM loads l JOIN records r ON r.id = l.record_id WHERE l.evaluation_id = ?1",
            [&evaluation],
            |r| r.get::<_, String>(0),
        )
        .unwrap();
    let gone_ix = changed_rows
        .iter()
        .position(|r| {
            let id = id_of(r);
            id != changed_id && env.ledger().conn().query_row(
                "SELECT count(*) FROM loads l JOIN records r ON r.id = l.record_id WHERE r.evaluation_id = ?1 AND l.state = 'created'",
                [&id],
                |x| x.get::<_, i64>(0),
            ).unwrap() == 1
        })
        .unwrap();
    changed_rows.remove(gone_ix);
    write(&path, &h2, &changed_rows);
    let mut ledger = env.ledger();
    let bar = indicatif::ProgressBar::hidden();
    qm_migrate::extract::run(&env.cfg, &mut ledger, &bar)
        .await
        .unwrap();
    let p = qm_migrate::plan::run(&env.cfg, &mut ledger, &env.client, &Default::default())
        .await
        .unwrap();
    assert_eq!((p.sync_updates, p.sync_flagged), (1, 1));
    // Both undone in Calabrio before the next load.
    std::fs::write(&path, &original).unwrap();
    let (_, l) = cycle(&env).await;
    assert_eq!(
        (l.updated_now, l.created_now, l.withdrawn_now),
        (0, 0, 0),
        "{l:?}"
    );
    assert_eq!(env.emu.state.evaluation_versions(&evaluation), Some(1));
    assert_eq!(env.emu.state.stats().evaluations_updated.load(Relaxed), 0);
    let v = verify(&env).await;
    assert!(v.clean(), "{} {:?}", v.line(), v.drift);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_to_an_evaluation_linked_by_match_is_synced_like_any_other() {
    // `match` re-plans the records it links once the agent's day is queried; that plan must
    // carry the record's content hash like any other, or a later edit could never be synced.
    let env = setup(60, "csv", fast_settings()).await;
    cycle(&env).await;
    let id = env
        .manifest
        .iter()
        .find(|c| c.case.starts_with("linked only by match"))
        .unwrap()
        .evaluation_id
        .clone();
    assert!(
        created_ids(&env).contains(&id),
        "the match-linked evaluation was created"
    );
    let path = env.cfg.source.path.clone();
    let (header, mut all) = rows(&path);
    let ix = all.iter().position(|r| id_of(r) == id).unwrap();
    let col = columns(&header)
        .iter()
        .position(|h| h == "evaluation_comment")
        .unwrap();
    all[ix] = edit_row(&all[ix], &[(col, "Re-read after a complaint")]);
    write(&path, &header, &all);
    let evaluation = evaluation_of(&env, &id);

    let (_, l) = cycle(&env).await;
    assert_eq!(l.updated_now, 1, "{l:?}");
    let comments = held(&env, &evaluation)
        .answers
        .unwrap()
        .comments
        .unwrap_or_default();
    assert!(comments.contains("Re-read after a complaint"), "{comments}");
    assert_eq!(env.emu.state.evaluation_versions(&evaluation), Some(2));
}
