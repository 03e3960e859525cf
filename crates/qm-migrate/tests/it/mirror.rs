//! Mirror mode (#9, in progress): each Calabrio form rebuilt in Genesys question by question, and
//! evaluations answered option by option, scored by the emulator as Genesys would.

use std::collections::BTreeMap;

use genesys::models::{EntityRef, EvaluationCreateBody};
use qm_migrate::mirror::{self, Mirrored};

use crate::support::{fast_settings, setup};

/// Provisions `m` (a new version when its definition changed): published id, created.
async fn provision(
    env: &crate::support::Env,
    ledger: &qm_migrate::ledger::Ledger,
    m: &mirror::MirrorForm,
) -> (String, bool) {
    qm_migrate::provision::provision_definition(
        ledger,
        &env.client,
        &m.definition,
        qm_migrate::provision::OnChange::NewVersion,
    )
    .await
    .map(|p| {
        (
            p.published_id,
            p.outcome == qm_migrate::provision::Outcome::Created,
        )
    })
    .unwrap()
}

#[tokio::test]
async fn mirrored_evaluations_score_in_genesys_as_in_calabrio_and_fallbacks_say_why() {
    let mut env = setup(300, "csv", fast_settings()).await;
    env.cfg.source.kind = "tables".into();
    env.cfg.source.path = env.path("calabrio-tables");
    env.prepare().await;
    let catalog = calabrio::tables::read_catalog(&env.path("calabrio-tables")).unwrap();
    assert!(!catalog.forms.is_empty());
    let ledger = env.ledger();

    // Provision every mirrored form (twice: the second time creates nothing).
    let mut forms: BTreeMap<String, (mirror::MirrorForm, String, BTreeMap<String, String>)> =
        BTreeMap::new();
    for (id, def) in &catalog.forms {
        let m = mirror::build(def).unwrap();
        let (pid, created) = provision(&env, &ledger, &m).await;
        assert!(created);
        let row = ledger.form(&m.definition.name).unwrap().unwrap();
        let map: BTreeMap<String, String> =
            serde_json::from_str(row.id_map.as_deref().unwrap()).unwrap();
        forms.insert(id.clone(), (m, pid, map));
    }
    let listed = env.client.list_forms("").await.unwrap().len();
    for (m, pid, _) in forms.values() {
        let (again, created) = provision(&env, &ledger, m).await;
        assert_eq!((again.as_str(), created), (pid.as_str(), false));
    }
    assert_eq!(env.client.list_forms("").await.unwrap().len(), listed);

    // Answer every planned evaluation on its mirrored form; create the mirrored ones.
    let rows: Vec<(String, f64, String, String, String)> = ledger
        .conn()
        .prepare(
            "SELECT r.canonical, p.score, p.conversation_id, p.agent_user_id, p.evaluator_user_id
             FROM records r JOIN plans p ON p.record_id = r.id
             WHERE p.disposition = 'evaluation' AND r.last_seen_run = (SELECT max(last_seen_run) FROM records)",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert!(rows.len() > 150, "{} evaluation records", rows.len());
    let (mut mirrored, mut fallbacks) = (0, BTreeMap::<String, usize>::new());
    let mut worst: f64 = 0.0;
    for (canonical, score, conversation, agent, evaluator) in &rows {
        let ev: qm_model::CanonicalEvaluation = serde_json::from_str(canonical).unwrap();
        let fid = ev.form.form_id.clone().unwrap();
        let (m, pid, map) = &forms[&fid];
        match mirror::answer(m, &ev, *score, 0.5) {
            Mirrored::Answers { answers, predicted } => {
                let body = EvaluationCreateBody {
                    evaluation_form: EntityRef::id(pid),
                    evaluator: EntityRef::id(evaluator),
                    agent: EntityRef::id(agent),
                    answers: qm_migrate::form::translate(&answers, map).unwrap(),
                    status: Some("FINISHED".into()),
                    release_date: None,
                    never_release: None,
                    agent_has_read: None,
                };
                let created = env
                    .client
                    .create_evaluation(conversation, &body, None)
                    .await
                    .unwrap();
                // Genesys' own total, as the emulator computed it from the option values.
                let total = created.answers.and_then(|a| a.total_score).unwrap();
                assert!((total - predicted).abs() < 1e-6);
                worst = worst.max((total - score).abs());
                mirrored += 1;
            }
            Mirrored::Fallback(reason) => {
                let kind = if reason.contains("negative points") {
                    "negative points"
                } else if reason.contains("Genesys' rules would score it") && reason.contains("N/A")
                {
                    "formula differs"
                } else {
                    panic!("unexplained fallback: {reason}")
                };
                *fallbacks.entry(kind.into()).or_default() += 1;
            }
        }
    }
    eprintln!(
        "mirror: {mirrored} mirrored (max |Genesys − Calabrio| {worst:.3}), fallbacks {fallbacks:?}"
    );
    assert!(worst <= 0.5, "a mirrored total is {worst} points off");
    assert!(
        mirrored * 10 >= rows.len() * 7,
        "{mirrored} of {}",
        rows.len()
    );
    assert_eq!(
        mirrored + fallbacks.values().sum::<usize>(),
        rows.len(),
        "every record is mirrored or falls back"
    );
}

#[tokio::test]
async fn a_mirrored_form_round_trips_through_the_emulator() {
    let env = setup(40, "csv", fast_settings()).await;
    let catalog = calabrio::tables::read_catalog(&env.path("calabrio-tables")).unwrap();
    let ledger = env.ledger();
    for def in catalog.forms.values() {
        let m = mirror::build(def).unwrap();
        assert!(
            m.negative_options.is_empty(),
            "the sample has no negative points"
        );
        let (pid, _) = provision(&env, &ledger, &m).await;
        let back = env.client.get_published_form(&pid).await.unwrap();
        let factor = 10f64.powi(m.scale as i32);
        assert_eq!(
            back.name,
            format!("{} (Calabrio)", def.name.clone().unwrap())
        );
        // The sections, then the added KPI group when no question is a KPI question.
        let kpi_added = !def
            .sections
            .iter()
            .flat_map(|s| &s.questions)
            .any(|q| q.is_kpi == Some(true));
        assert_eq!(
            back.question_groups.len(),
            def.sections.len() + usize::from(kpi_added)
        );
        if kpi_added {
            let g = back.question_groups.last().unwrap();
            assert!(g.questions[0].is_kill && g.na_enabled);
        }
        for (g, s) in back.question_groups.iter().zip(&def.sections) {
            assert_eq!(Some(&g.name), s.name.as_ref());
            assert_eq!(g.weight, s.weight.unwrap_or(1.0));
            assert_eq!(g.questions.len(), s.questions.len());
            for (q, sq) in g.questions.iter().zip(&s.questions) {
                assert_eq!(Some(&q.text), sq.text.as_ref());
                assert_eq!(q.is_kill, sq.is_kpi == Some(true));
                let na = sq.options.iter().any(|o| o.is_na());
                assert_eq!(q.na_enabled, na);
                let applicable: Vec<_> = sq.options.iter().filter(|o| !o.is_na()).collect();
                assert_eq!(q.answer_options.len(), applicable.len());
                for (o, so) in q.answer_options.iter().zip(applicable) {
                    assert_eq!(Some(&o.text), so.label.as_ref());
                    let points = so.points.unwrap_or(0.0);
                    assert_eq!(
                        f64::from(o.value) / factor,
                        points,
                        "option {} of question {}",
                        so.id,
                        sq.id
                    );
                }
            }
        }
    }
}

#[tokio::test]
async fn mirror_mode_end_to_end_scores_as_in_calabrio_and_reprovisioning_creates_nothing() {
    let mut env = setup(300, "csv", fast_settings()).await;
    env.cfg.source.kind = "tables".into();
    env.cfg.source.path = env.path("calabrio-tables");
    env.cfg.form.mode = "mirror".into();
    let out = env.run().await;
    let ledger = env.ledger();
    let plan: serde_json::Value = serde_json::from_str(
        &ledger
            .conn()
            .query_row(
                "SELECT summary FROM runs WHERE command = 'plan' ORDER BY id DESC LIMIT 1",
                [],
                |r| r.get::<_, String>(0),
            )
            .unwrap(),
    )
    .unwrap();
    let mirrored = plan["mirrored"].as_u64().unwrap();
    let fallbacks = plan["mirror_fallbacks"].as_object().unwrap();
    let fell_back: u64 = fallbacks.values().map(|v| v.as_u64().unwrap()).sum();
    let evaluations = out.json["dispositions"]["evaluation"].as_u64().unwrap();
    assert_eq!(mirrored + fell_back, evaluations, "{plan}");
    assert!(mirrored * 10 >= evaluations * 7, "{plan}");
    // Every fallback is counted under its explanation.
    for reason in fallbacks.keys() {
        assert!(
            reason.starts_with(
                "Genesys' rules would score it # where Calabrio scored #: N/A answers"
            ),
            "unexplained fallback: {reason}"
        );
    }
    eprintln!("mirror mode: {mirrored} mirrored, fallbacks {fallbacks:?}");

    // Each mirrored evaluation: created on its mirrored form, Genesys' own total (as the emulator
    // computed it from the option values) within half a point of Calabrio's.
    let rows: Vec<(String, f64, f64, String)> = ledger
        .conn()
        .prepare(
            "SELECT p.form_name, p.score, l.genesys_total, l.evaluation_id FROM plans p
             JOIN loads l ON l.record_id = p.record_id
             WHERE p.form_name IS NOT NULL AND l.state = 'created'",
        )
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(rows.len() as u64, mirrored);
    let stored = env.emu.state.evaluations();
    for (form_name, score, total, id) in &rows {
        assert!(
            (score - total).abs() <= 0.5,
            "{form_name}: {score} vs {total}"
        );
        let e = stored.iter().find(|e| &e.id == id).unwrap();
        let published = ledger
            .form(form_name)
            .unwrap()
            .unwrap()
            .published_id
            .unwrap();
        assert_eq!(e.evaluation_form.as_ref().unwrap().id, published);
        // Question by question: more than the container form's three groups of answers.
        let answered: usize = e
            .answers
            .as_ref()
            .unwrap()
            .question_group_scores
            .iter()
            .map(|g| g.question_scores.len())
            .sum();
        assert!(answered >= 4, "{answered} answers on {form_name}");
    }
    assert_eq!(env.assert_exactly_once() as u64, evaluations);
    assert_eq!(out.json["verify"]["matched"].as_u64(), Some(evaluations));

    // Re-provisioning creates nothing new.
    let forms_before = env.client.list_forms("").await.unwrap().len();
    let again = qm_migrate::provision::run(&env.cfg, &ledger, &env.client)
        .await
        .unwrap();
    assert!(!again.created && !again.mirrored_forms.is_empty());
    assert!(again.mirrored_forms.iter().all(|m| !m.created));
    assert_eq!(env.client.list_forms("").await.unwrap().len(), forms_before);
}

#[tokio::test]
async fn a_changed_calabrio_form_becomes_a_new_version_of_its_genesys_form() {
    let mut env = setup(120, "csv", fast_settings()).await;
    env.cfg.source.kind = "tables".into();
    env.cfg.source.path = env.path("calabrio-tables");
    env.cfg.form.mode = "mirror".into();
    env.run().await;
    let ledger = env.ledger();
    let name = "Inbound Support v3 (Calabrio)";
    let before = ledger.form(name).unwrap().expect("form 12 is mirrored");
    let old_pid = before.published_id.clone().unwrap();
    let created_before = env.emu.state.evaluations().len();
    let forms_before = env.client.list_forms("").await.unwrap().len();

    // Calabrio changes a question's wording on form 12 (section 121).
    let questions = env.path("calabrio-tables/questions.csv");
    let text = std::fs::read_to_string(&questions).unwrap();
    assert!(text.contains("121,1211,Opening: followed the standard?"));
    std::fs::write(
        &questions,
        text.replace(
            "121,1211,Opening: followed the standard?",
            "121,1211,Opening: followed the 2024 greeting standard?",
        ),
    )
    .unwrap();
    let second = env.run().await;

    let outcomes: Vec<(String, String)> = second.json["provision"]["mirrored_forms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap().to_owned(),
                m["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert!(
        outcomes.contains(&(name.to_owned(), "new_version".to_owned())),
        "{outcomes:?}"
    );
    assert!(
        outcomes.iter().all(|(n, o)| n == name || o == "up_to_date"),
        "{outcomes:?}"
    );
    let after = ledger.form(name).unwrap().unwrap();
    let new_pid = after.published_id.clone().unwrap();
    assert_ne!(new_pid, old_pid, "a new version was published");
    assert_ne!(after.definition_hash, before.definition_hash);
    assert_eq!(
        after.context_id, before.context_id,
        "the same Genesys form, not a new one"
    );
    assert_eq!(env.client.list_forms("").await.unwrap().len(), forms_before);
    let published = env.client.get_published_form(&new_pid).await.unwrap();
    assert_eq!(published.id.as_deref(), Some(new_pid.as_str()));
    assert_eq!(
        published.question_groups[0].questions[0].text,
        "Opening: followed the 2024 greeting standard?"
    );
    // The old version is as it was, and the evaluations made on it are still ours: verify is
    // clean and nothing was created twice.
    let old = env
        .client
        .probe_get(&format!("/api/v2/quality/forms/evaluations/{old_pid}"), &[])
        .await
        .unwrap();
    assert_eq!(
        old["questionGroups"][0]["questions"][0]["text"],
        "Opening: followed the standard?"
    );
    assert_eq!(env.emu.state.evaluations().len(), created_before);
    let v = qm_migrate::verify::verify(&env.cfg, &ledger, &env.client)
        .await
        .unwrap();
    assert!(v.clean(), "{v:?}");
}
