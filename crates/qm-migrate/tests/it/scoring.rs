//! The planner's prediction (`genesys::scoring`) against the emulator's judge (`emulator::scoring`),
//! two implementations of the documented formula written apart: random forms and answers must score
//! alike, and both must give the documented worked examples.

use genesys::models::{
    AnswerOption, EvaluationForm, GroupScore, Question, QuestionGroup, QuestionScore, ScoringSet,
};
use proptest::prelude::*;
use proptest::test_runner::{Config as RunnerConfig, TestRunner};

/// One question: its options' values (0 included, duplicates allowed), N/A allowed, fatal, critical.
#[derive(Debug, Clone)]
struct Q {
    values: Vec<i32>,
    na_enabled: bool,
    kill: bool,
    critical: bool,
}

/// One answer: pick option i, mark N/A, or leave it unanswered.
#[derive(Debug, Clone)]
enum A {
    Pick(usize),
    Na,
    Blank,
}

fn question() -> impl Strategy<Value = Q> {
    (
        prop::collection::vec(0i32..=10, 1..5),
        any::<bool>(),
        prop::bool::weighted(0.15),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(values, na_enabled, kill, critical)| Q {
            values,
            na_enabled,
            kill,
            critical,
        })
}

/// A group: weight (0 included), N/A allowed, marked N/A, its questions with their answers.
type G = (f64, bool, bool, Vec<(Q, A)>);

fn group() -> impl Strategy<Value = G> {
    (
        prop_oneof![Just(0.0), Just(1.0), 0.0f64..50.0],
        any::<bool>(),
        prop::bool::weighted(0.15),
        prop::collection::vec(
            (
                question(),
                prop_oneof![8 => (0usize..5).prop_map(A::Pick), 1 => Just(A::Na), 1 => Just(A::Blank)],
            ),
            1..5,
        ),
    )
}

fn build(groups: &[G], weight_off: bool) -> (EvaluationForm, ScoringSet) {
    let mut form = EvaluationForm {
        name: "random".into(),
        weight_mode: weight_off.then(|| "OFF".to_owned()),
        ..EvaluationForm::default()
    };
    let mut set = ScoringSet::default();
    for (gi, (weight, na_enabled, marked_na, questions)) in groups.iter().enumerate() {
        let gid = format!("g{gi}");
        let mut g = QuestionGroup {
            id: Some(gid.clone()),
            name: gid.clone(),
            weight: *weight,
            na_enabled: *na_enabled,
            ..QuestionGroup::default()
        };
        let mut gs = GroupScore {
            question_group_id: gid.clone(),
            // Only where allowed: a refused N/A is tested apart.
            marked_na: *marked_na && *na_enabled,
            ..GroupScore::default()
        };
        for (qi, (q, a)) in questions.iter().enumerate() {
            let qid = format!("{gid}q{qi}");
            g.questions.push(Question {
                id: Some(qid.clone()),
                text: qid.clone(),
                kind: "multipleChoiceQuestion".into(),
                na_enabled: q.na_enabled,
                is_kill: q.kill,
                is_critical: q.critical,
                answer_options: q
                    .values
                    .iter()
                    .enumerate()
                    .map(|(oi, v)| AnswerOption {
                        id: Some(format!("{qid}o{oi}")),
                        text: v.to_string(),
                        value: *v,
                        ..AnswerOption::default()
                    })
                    .collect(),
                ..Question::default()
            });
            let answer = match a {
                A::Pick(i) => Some(QuestionScore {
                    question_id: qid.clone(),
                    answer_id: Some(format!("{qid}o{}", i % q.values.len())),
                    ..QuestionScore::default()
                }),
                A::Na if q.na_enabled => Some(QuestionScore {
                    question_id: qid.clone(),
                    marked_na: true,
                    ..QuestionScore::default()
                }),
                _ => None,
            };
            gs.question_scores.extend(answer);
        }
        form.question_groups.push(g);
        set.question_group_scores.push(gs);
    }
    (form, set)
}

#[test]
fn prediction_and_judge_agree_on_a_thousand_random_forms() {
    let mut runner = TestRunner::new(RunnerConfig {
        cases: 2000,
        failure_persistence: None,
        ..RunnerConfig::default()
    });
    let compared = std::cell::Cell::new(0u32);
    let zeroed = std::cell::Cell::new(0u32);
    runner
        .run(
            &(
                prop::collection::vec(group(), 1..5),
                any::<bool>(),
                any::<bool>(),
            ),
            |(groups, weight_off, finished)| {
                let (form, set) = build(&groups, weight_off);
                let predicted = genesys::scoring::score(&form, &set, finished);
                let judged = emulator::scoring::judge(&form, &set, finished);
                match (predicted, judged) {
                    (Ok(p), Ok(j)) => {
                        compared.set(compared.get() + 1);
                        let close = |a: Option<f64>, b: Option<f64>| {
                            (a.unwrap_or(f64::NAN) - b.unwrap_or(f64::NAN)).abs() <= 0.01
                        };
                        prop_assert!(
                            close(p.total_score, j.total_score),
                            "total: prediction {:?}, judge {:?}",
                            p.total_score,
                            j.total_score
                        );
                        prop_assert!(close(p.total_critical_score, j.total_critical_score));
                        prop_assert!(close(
                            p.total_non_critical_score,
                            j.total_non_critical_score
                        ));
                        prop_assert_eq!(p.any_failed_kill_questions, j.any_failed_kill_questions);
                        if j.any_failed_kill_questions == Some(true) {
                            zeroed.set(zeroed.get() + 1);
                        }
                        let t = j.total_score.unwrap();
                        prop_assert!((-1e-9..=100.0 + 1e-9).contains(&t), "{}", t);
                    }
                    (Err(p), Err((code, _))) => prop_assert_eq!(p.code, code),
                    (p, j) => prop_assert!(false, "one refused: {:?} / {:?}", p, j),
                }
                Ok(())
            },
        )
        .unwrap();
    let (compared, zeroed) = (compared.get(), zeroed.get());
    eprintln!("{compared} scored alike ({zeroed} failed a fatal question)");
    assert!(compared >= 1000, "{compared} cases scored");
    assert!(zeroed > 20, "fatal questions were exercised: {zeroed}");
}

/// The documented worked examples, in both implementations (reference/genesys-api.md §4).
#[test]
fn both_give_the_documented_worked_examples() {
    let yes_no = || Q {
        values: vec![1, 0],
        na_enabled: false,
        kill: false,
        critical: false,
    };
    let help: Vec<G> = vec![
        (
            40.0,
            false,
            false,
            vec![(yes_no(), A::Pick(0)), (yes_no(), A::Pick(1))],
        ),
        (20.0, false, false, vec![(yes_no(), A::Pick(0))]),
    ];
    let files: Vec<G> = vec![
        (
            1.0,
            false,
            false,
            vec![(
                Q {
                    values: vec![2, 0],
                    ..yes_no()
                },
                A::Pick(0),
            )],
        ),
        (
            2.0,
            false,
            false,
            vec![(
                Q {
                    values: vec![5, 3, 0],
                    ..yes_no()
                },
                A::Pick(1),
            )],
        ),
    ];
    for (groups, want) in [(help, 60.0), (files, 200.0 / 3.0)] {
        let (form, set) = build(&groups, false);
        let p = genesys::scoring::score(&form, &set, true).unwrap();
        let j = emulator::scoring::judge(&form, &set, true).unwrap();
        assert!((p.total_score.unwrap() - want).abs() < 1e-9, "{p:?}");
        assert!((j.total_score.unwrap() - want).abs() < 1e-9, "{j:?}");
    }
}

/// `provision` has the org score planted answers (the scoring dry run) on each new published version:
/// an org that reads weights or fatal questions otherwise stops the migration before the first
/// create, and says how.
#[tokio::test]
async fn provision_dry_run_catches_an_org_that_scores_otherwise_before_the_first_create() {
    use crate::support::{fast_settings, setup};
    let mut env = setup(30, "csv", fast_settings()).await;
    env.cfg.form.sections = vec!["Greeting".into()];
    let mut ledger = env.ledger();
    let bar = indicatif::ProgressBar::hidden();
    qm_migrate::extract::run(&env.cfg, &mut ledger, &bar)
        .await
        .unwrap();
    let p = qm_migrate::provision::run(&env.cfg, &ledger, &env.client)
        .await
        .unwrap();
    assert_eq!(
        p.scoring_checks, 2,
        "two planted answer sets on the new version"
    );
    // Checked once per published version.
    let again = qm_migrate::provision::run(&env.cfg, &ledger, &env.client)
        .await
        .unwrap();
    assert_eq!(again.scoring_checks, 0);

    for (settings, what) in [
        (
            emulator::Settings {
                zero_weight_counts: true,
                ..fast_settings()
            },
            "every section answered 10 %",
        ),
        (
            emulator::Settings {
                fatal_keeps_total: true,
                ..fast_settings()
            },
            "KPI failed",
        ),
    ] {
        let mut env = setup(30, "csv", settings).await;
        env.cfg.form.sections = vec!["Greeting".into()];
        let ledger = env.ledger();
        let e = qm_migrate::provision::run(&env.cfg, &ledger, &env.client)
            .await
            .unwrap_err();
        let said = format!("{e:#}");
        assert!(
            said.contains("scores form")
                && said.contains(what)
                && said.contains("Nothing was created"),
            "{said}"
        );
        assert!(env.emu.state.evaluations().is_empty());
        // Not recorded as checked: the next provision asks again.
        assert_eq!(ledger.scoring_checked(&env.cfg.form.name).unwrap(), None);
    }
}
