//! The Legacy Migration Form in *container* mode (DESIGN §3) and the answers that encode a Calabrio
//! evaluation on it.
//!
//! Genesys computes scores itself from integer answer values (reference/genesys-api.md §3–4), so a
//! Calabrio total can only arrive as an answer whose option *is* the score:
//!
//! * group **Calabrio score** (weight 1): one multiple-choice question whose options are 0–100 % at
//!   `[form] score_step`; the only group that counts toward the total, so the Genesys total equals the
//!   chosen option (within half a step);
//! * group **Calabrio KPI (auto-fail)** (weight 1, N/A enabled): a fatal (`isKill`) question. A KPI
//!   failure is answered `Failed`, which makes Genesys score the evaluation 0 % exactly as Calabrio
//!   zeroed it, while the score question keeps the pre-KPI score; otherwise the group is marked N/A,
//!   which counts 0 of 0;
//! * one group per configured Calabrio section (weight 0, N/A enabled): the section's score as an
//!   option, visible per section in Genesys without moving the total (weight semantics: unverified
//!   #15; `provision` has the org score planted answers with the scoring dry run on each new
//!   published version and stops before the first create when the org's total is not ours).
//!
//! The definition carries *logical* ids (`g:total`, `q:total`, `o:total:80`, …). The planner predicts
//! the Genesys total by scoring answers against this definition with the same formula the server uses;
//! `provision` maps every logical id to the id of the *published* version; `load` translates.

use std::collections::BTreeMap;

use genesys::models::{
    AnswerOption, EvaluationForm, GroupScore, Question, QuestionGroup, QuestionScore, ScoringSet,
};

use crate::config::FormConfig;

/// Logical id of the total group.
pub const TOTAL_GROUP: &str = "g:total";
const TOTAL_QUESTION: &str = "q:total";
/// Logical id of the KPI group.
pub const KPI_GROUP: &str = "g:kpi";
const KPI_QUESTION: &str = "q:kpi";
const KPI_PASS: &str = "o:kpi:pass";
const KPI_FAIL: &str = "o:kpi:fail";

fn clip(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

fn percent_label(value: i32, step: f64) -> String {
    let p = f64::from(value) * step;
    if (p - p.round()).abs() < 1e-9 {
        format!("{p:.0}%")
    } else {
        let s = format!("{p:.2}");
        format!("{}%", s.trim_end_matches('0').trim_end_matches('.'))
    }
}

fn score_options(prefix: &str, step: f64) -> Vec<AnswerOption> {
    let n = (100.0 / step).round() as i32;
    (0..=n)
        .rev()
        .map(|v| AnswerOption {
            id: Some(format!("o:{prefix}:{v}")),
            text: percent_label(v, step),
            value: v,
            ..AnswerOption::default()
        })
        .collect()
}

fn section_key(name: &str) -> String {
    format!("sec:{name}")
}

/// The reconciliation marker carried in `answers.privateComments`: the record's identity in Calabrio
/// and the idempotency key of the attempt, so the evaluation can be found again in Genesys.
pub fn marker(system: &str, evaluation_id: &str, key: &str) -> String {
    format!(
        "qm-migrate marker: source={system}; calabrio_evaluation_id={evaluation_id}; idempotency_key={key}"
    )
}

/// The source system and Calabrio evaluation id a marker names.
pub fn parse_marker(text: &str) -> Option<(String, String)> {
    let rest = &text[text.find("qm-migrate marker:")?..];
    let field = |name: &str| -> Option<String> {
        let start = rest.find(&format!("{name}="))? + name.len() + 1;
        let value = rest[start..].split(';').next()?.trim();
        (!value.is_empty()).then(|| value.to_owned())
    };
    Some((field("source")?, field("calabrio_evaluation_id")?))
}

/// `marker` with its idempotency key replaced by `key` (a new key generation).
pub fn marker_with_key(marker: &str, key: &str) -> String {
    match marker.find("idempotency_key=") {
        Some(i) => format!("{}idempotency_key={key}", &marker[..i]),
        None => format!("{marker}; idempotency_key={key}"),
    }
}

/// The KPI (auto-fail) group: a fatal question answered Failed on a Calabrio KPI failure (Genesys
/// then scores 0 %, as Calabrio did), else marked N/A (0 of 0). Mirrored forms without a KPI
/// question of their own carry it too.
pub fn kpi_group() -> QuestionGroup {
    QuestionGroup {
        id: Some(KPI_GROUP.into()),
        name: "Calabrio KPI (auto-fail)".into(),
        kind: "questionGroup".into(),
        weight: 1.0,
        manual_weight: true,
        na_enabled: true,
        questions: vec![Question {
            id: Some(KPI_QUESTION.into()),
            text: "Did the evaluation fail a Calabrio KPI (auto-fail) question?".into(),
            help_text: Some(
                "Failed reproduces Calabrio's zero score; N/A means no KPI failure was recorded."
                    .into(),
            ),
            kind: "multipleChoiceQuestion".into(),
            na_enabled: true,
            is_kill: true,
            answer_options: vec![
                AnswerOption {
                    id: Some(KPI_PASS.into()),
                    text: "Passed".into(),
                    value: 1,
                    ..AnswerOption::default()
                },
                AnswerOption {
                    id: Some(KPI_FAIL.into()),
                    text: "Failed".into(),
                    value: 0,
                    ..AnswerOption::default()
                },
            ],
            ..Question::default()
        }],
        ..QuestionGroup::default()
    }
}

/// The KPI group's answer.
pub fn kpi_answer(failed: bool) -> GroupScore {
    if failed {
        GroupScore {
            question_group_id: KPI_GROUP.into(),
            question_scores: vec![QuestionScore {
                question_id: KPI_QUESTION.into(),
                answer_id: Some(KPI_FAIL.into()),
                ..QuestionScore::default()
            }],
            ..GroupScore::default()
        }
    } else {
        GroupScore {
            question_group_id: KPI_GROUP.into(),
            marked_na: true,
            ..GroupScore::default()
        }
    }
}

/// The container form definition, with logical ids.
pub fn definition(cfg: &FormConfig) -> EvaluationForm {
    let step = cfg.score_step;
    let mut groups = vec![
        QuestionGroup {
            id: Some(TOTAL_GROUP.into()),
            name: "Calabrio score".into(),
            kind: "questionGroup".into(),
            weight: 1.0,
            manual_weight: true,
            na_enabled: false,
            questions: vec![Question {
                id: Some(TOTAL_QUESTION.into()),
                text: "Calabrio total score (normalised to 0-100 %)".into(),
                help_text: Some(
                    "Migrated from Calabrio ONE: the selected option is the evaluation's score. Original date, evaluator and comments are in the evaluation comments.".into(),
                ),
                kind: "multipleChoiceQuestion".into(),
                answer_options: score_options("total", step),
                ..Question::default()
            }],
            ..QuestionGroup::default()
        },
        kpi_group(),
    ];
    for name in &cfg.sections {
        let key = section_key(name);
        groups.push(QuestionGroup {
            id: Some(format!("g:{key}")),
            name: clip(&format!("Section: {name}"), 250),
            kind: "questionGroup".into(),
            weight: 0.0,
            manual_weight: true,
            na_enabled: true,
            questions: vec![Question {
                id: Some(format!("q:{key}")),
                text: clip(&format!("Calabrio section score: {name}"), 500),
                help_text: Some(
                    "Informational: this group has weight 0 and does not change the total.".into(),
                ),
                kind: "multipleChoiceQuestion".into(),
                na_enabled: true,
                answer_options: score_options(&key, step),
                ..Question::default()
            }],
            ..QuestionGroup::default()
        });
    }
    EvaluationForm {
        name: clip(&cfg.name, 250),
        question_groups: groups,
        ..EvaluationForm::default()
    }
}

/// The definition as sent to Genesys: no ids at all.
pub fn for_create(def: &EvaluationForm) -> EvaluationForm {
    let mut f = def.clone();
    f.id = None;
    for g in &mut f.question_groups {
        g.id = None;
        for q in &mut g.questions {
            q.id = None;
            for o in &mut q.answer_options {
                o.id = None;
            }
        }
    }
    f
}

/// A stable hash of the definition (a changed config means a different form).
pub fn definition_hash(def: &EvaluationForm) -> String {
    let text = serde_json::to_string(def).unwrap_or_default();
    crate::fsutil::sha256_hex(text.as_bytes())
}

/// Maps every logical id of `def` to the id at the same place in `published`.
///
/// # Errors
/// When the published version's structure differs (names, texts, option values).
pub fn map_ids(
    def: &EvaluationForm,
    published: &EvaluationForm,
) -> anyhow::Result<BTreeMap<String, String>> {
    let mut map = BTreeMap::new();
    anyhow::ensure!(
        def.question_groups.len() == published.question_groups.len(),
        "published form '{}' has {} question groups, the definition {}",
        published.name,
        published.question_groups.len(),
        def.question_groups.len()
    );
    let mut put =
        |logical: &Option<String>, real: &Option<String>, what: &str| -> anyhow::Result<()> {
            let l = logical.clone().unwrap_or_default();
            let r = real
                .clone()
                .ok_or_else(|| anyhow::anyhow!("published {what} '{l}' has no id"))?;
            map.insert(l, r);
            Ok(())
        };
    put(&Some("form".into()), &published.id, "form")?;
    for (dg, pg) in def.question_groups.iter().zip(&published.question_groups) {
        anyhow::ensure!(
            dg.name == pg.name && dg.questions.len() == pg.questions.len(),
            "published group '{}' does not match the definition's '{}'",
            pg.name,
            dg.name
        );
        put(&dg.id, &pg.id, "group")?;
        for (dq, pq) in dg.questions.iter().zip(&pg.questions) {
            anyhow::ensure!(
                dq.text == pq.text && dq.answer_options.len() == pq.answer_options.len(),
                "published question '{}' does not match the definition",
                pq.text
            );
            put(&dq.id, &pq.id, "question")?;
            for (dopt, popt) in dq.answer_options.iter().zip(&pq.answer_options) {
                anyhow::ensure!(
                    dopt.value == popt.value,
                    "published option '{}' has value {}, the definition {}",
                    popt.text,
                    popt.value,
                    dopt.value
                );
                put(&dopt.id, &popt.id, "option")?;
            }
        }
    }
    Ok(map)
}

/// Replaces every logical id in `answers` by its published id.
///
/// # Errors
/// When an id has no mapping (the form was provisioned from another definition).
pub fn translate(
    answers: &ScoringSet,
    map: &BTreeMap<String, String>,
) -> anyhow::Result<ScoringSet> {
    let get = |k: &str| {
        map.get(k)
            .cloned()
            .ok_or_else(|| anyhow::anyhow!("no published id for '{k}': run provision again"))
    };
    let mut out = answers.clone();
    for g in &mut out.question_group_scores {
        g.question_group_id = get(&g.question_group_id)?;
        for q in &mut g.question_scores {
            q.question_id = get(&q.question_id)?;
            if let Some(a) = &q.answer_id {
                q.answer_id = Some(get(a)?);
            }
        }
    }
    Ok(out)
}

/// What the answers encode.
#[derive(Debug, Clone)]
pub struct Encoded {
    /// The score shown on the score question (pre-KPI when the KPI failed).
    pub shown_percent: f64,
    /// KPI failed.
    pub kpi_failed: bool,
    /// Section name → percent (None = N/A), for configured sections.
    pub sections: Vec<(String, Option<f64>)>,
    /// Section comments to attach to section questions.
    pub section_comments: BTreeMap<String, String>,
    /// `answers.comments`.
    pub comments: String,
    /// `answers.privateComments`.
    pub private_comments: String,
}

fn option_for(prefix: &str, percent: f64, step: f64) -> String {
    let n = (100.0 / step).round() as i32;
    let v = ((percent / step).round() as i32).clamp(0, n);
    format!("o:{prefix}:{v}")
}

/// Builds the answers (logical ids) for one evaluation.
pub fn answers(cfg: &FormConfig, enc: &Encoded) -> ScoringSet {
    let step = cfg.score_step;
    let mut groups = vec![GroupScore {
        question_group_id: TOTAL_GROUP.into(),
        question_scores: vec![QuestionScore {
            question_id: TOTAL_QUESTION.into(),
            answer_id: Some(option_for("total", enc.shown_percent, step)),
            ..QuestionScore::default()
        }],
        ..GroupScore::default()
    }];
    groups.push(kpi_answer(enc.kpi_failed));
    for name in &cfg.sections {
        let key = section_key(name);
        let value = enc
            .sections
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .and_then(|(_, v)| *v);
        let comment = enc
            .section_comments
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, c)| c.clone());
        groups.push(match value {
            Some(p) => GroupScore {
                question_group_id: format!("g:{key}"),
                question_scores: vec![QuestionScore {
                    question_id: format!("q:{key}"),
                    answer_id: Some(option_for(&key, p, step)),
                    comments: comment,
                    ..QuestionScore::default()
                }],
                ..GroupScore::default()
            },
            None => GroupScore {
                question_group_id: format!("g:{key}"),
                marked_na: true,
                ..GroupScore::default()
            },
        });
    }
    ScoringSet {
        comments: Some(enc.comments.clone()),
        private_comments: Some(enc.private_comments.clone()),
        question_group_scores: groups,
        ..ScoringSet::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(step: f64, sections: &[&str]) -> FormConfig {
        FormConfig {
            score_step: step,
            sections: sections.iter().map(|s| (*s).to_owned()).collect(),
            ..FormConfig::default()
        }
    }

    fn enc(p: f64, kpi: bool, sections: Vec<(String, Option<f64>)>) -> Encoded {
        Encoded {
            shown_percent: p,
            kpi_failed: kpi,
            sections,
            section_comments: BTreeMap::new(),
            comments: "c".into(),
            private_comments: "p".into(),
        }
    }

    #[test]
    fn predicted_total_is_the_score_within_half_a_step_and_sections_do_not_move_it() {
        let c = cfg(1.0, &["Opening", "Close"]);
        let def = definition(&c);
        for (p, want) in [
            (80.0, 80.0),
            (87.5, 88.0),
            (0.0, 0.0),
            (100.0, 100.0),
            (33.3, 33.0),
        ] {
            let a = answers(
                &c,
                &enc(
                    p,
                    false,
                    vec![("opening".into(), Some(10.0)), ("Close".into(), None)],
                ),
            );
            let s = genesys::scoring::score(&def, &a, true).unwrap();
            assert!(
                (s.total_score.unwrap() - want).abs() < 1e-9,
                "{p}: {:?}",
                s.total_score
            );
        }
        let half = cfg(0.5, &[]);
        let a = answers(&half, &enc(87.5, false, vec![]));
        let s = genesys::scoring::score(&definition(&half), &a, true).unwrap();
        assert_eq!(s.total_score, Some(87.5));
    }

    #[test]
    fn kpi_failure_scores_zero_and_keeps_the_shown_score() {
        let c = cfg(1.0, &[]);
        let a = answers(&c, &enc(85.0, true, vec![]));
        let s = genesys::scoring::score(&definition(&c), &a, true).unwrap();
        assert_eq!(s.total_score, Some(0.0));
        assert_eq!(s.any_failed_kill_questions, Some(true));
        assert_eq!(
            s.question_group_scores[0].total_score_unweighted,
            Some(85.0)
        );
    }

    #[test]
    fn ids_map_onto_a_published_copy_and_translate() {
        let c = cfg(1.0, &["Opening"]);
        let def = definition(&c);
        let mut published = for_create(&def);
        published.id = Some("F".into());
        let mut n = 0;
        for g in &mut published.question_groups {
            n += 1;
            g.id = Some(format!("G{n}"));
            for q in &mut g.questions {
                n += 1;
                q.id = Some(format!("Q{n}"));
                for o in &mut q.answer_options {
                    n += 1;
                    o.id = Some(format!("O{n}"));
                }
            }
        }
        let map = map_ids(&def, &published).unwrap();
        assert_eq!(map["form"], "F");
        let a = answers(&c, &enc(50.0, false, vec![("Opening".into(), Some(70.0))]));
        let t = translate(&a, &map).unwrap();
        let s = genesys::scoring::score(&published, &t, true).unwrap();
        assert_eq!(s.total_score, Some(50.0));
        let mut other = published.clone();
        other.question_groups[0].questions[0].answer_options[0].value = 7;
        assert!(map_ids(&def, &other).is_err());
    }

    #[test]
    fn labels_read_as_percentages() {
        assert_eq!(percent_label(80, 1.0), "80%");
        assert_eq!(percent_label(175, 0.5), "87.5%");
        assert_eq!(percent_label(1, 0.25), "0.25%");
    }
}
