//! The documented Genesys scoring formula (HELP "Evaluation form scoring", reference/genesys-api.md §4).
//!
//! `totalScore = Σ(group points × weight) / Σ(group possible points × weight) × 100`; N/A questions and
//! groups count 0 of 0; a question's points are the chosen option's integer `value` and its possible
//! points the highest option's; a fatal (`isKill`) question answered with anything but its highest
//! option fails the evaluation, which then scores 0 % (unverified #10: the emulator's choice).
//!
//! The planner predicts with this function, so the prediction can be checked against the source
//! before anything is sent. The emulator does *not* use it: it judges with its own implementation
//! (`emulator::scoring`), and a differential test holds the two to the same totals.

use crate::models::{EvaluationForm, GroupScore, QuestionScore, ScoringSet};

/// A scoring rejection, with the Genesys error code it is answered with.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ScoringError {
    /// Genesys error code.
    pub code: &'static str,
    /// Human message naming the offending id.
    pub message: String,
}

fn err(code: &'static str, message: String) -> ScoringError {
    ScoringError { code, message }
}

/// Scores `answers` against the (published) `form`, returning the answers with every computed field
/// filled in. `require_complete` rejects unanswered questions (a `FINISHED` evaluation).
///
/// # Errors
/// [`ScoringError`] with `quality.scoring.question.group.not.in.evaluation.form`,
/// `quality.scoring.question.not.in.evaluation.form`, `quality.scoring.answer.not.in.evaluation.form`,
/// `quality.scoring.unanswered.required.questions` or `bad.request` (N/A where not enabled).
pub fn score(
    form: &EvaluationForm,
    answers: &ScoringSet,
    require_complete: bool,
) -> Result<ScoringSet, ScoringError> {
    let mut out = answers.clone();
    let mut numerator = 0.0;
    let mut denominator = 0.0;
    let mut crit_num = 0.0;
    let mut crit_den = 0.0;
    let mut max_raw = 0.0;
    let mut max_raw_crit = 0.0;
    let mut any_kill = false;

    for gs in &answers.question_group_scores {
        if !form
            .question_groups
            .iter()
            .any(|g| g.id.as_deref() == Some(gs.question_group_id.as_str()))
        {
            return Err(err(
                "quality.scoring.question.group.not.in.evaluation.form",
                format!(
                    "Submitted answers contained reference to a question group which is not in the evaluation form: {}",
                    gs.question_group_id
                ),
            ));
        }
    }

    // `weightMode` `OFF`: the form is not weighted, every group counts alike (an assumption).
    let unweighted = form.weight_mode.as_deref() == Some("OFF");
    let mut groups_out = Vec::with_capacity(form.question_groups.len());
    for group in &form.question_groups {
        let weight = if unweighted { 1.0 } else { group.weight };
        let gid = group.id.clone().unwrap_or_default();
        let submitted = answers
            .question_group_scores
            .iter()
            .find(|g| g.question_group_id == gid);
        let marked_na = submitted.is_some_and(|g| g.marked_na);
        if marked_na && !group.na_enabled {
            return Err(err(
                "bad.request",
                format!("Question group {gid} is not N/A enabled but was marked N/A"),
            ));
        }
        let empty = Vec::new();
        let submitted_questions = submitted.map(|g| &g.question_scores).unwrap_or(&empty);
        for qs in submitted_questions {
            if !group
                .questions
                .iter()
                .any(|q| q.id.as_deref() == Some(qs.question_id.as_str()))
            {
                return Err(err(
                    "quality.scoring.question.not.in.evaluation.form",
                    format!(
                        "Submitted answers contained reference to a question which is not in the evaluation form: {}",
                        qs.question_id
                    ),
                ));
            }
        }
        let mut g_score = 0.0;
        let mut g_max = 0.0;
        let mut g_crit = 0.0;
        let mut g_crit_max = 0.0;
        let mut q_out = Vec::with_capacity(group.questions.len());
        for question in &group.questions {
            let qid = question.id.clone().unwrap_or_default();
            let qs = submitted_questions.iter().find(|q| q.question_id == qid);
            let max_value = question
                .answer_options
                .iter()
                .map(|o| o.value)
                .max()
                .unwrap_or(0);
            let mut entry = qs.cloned().unwrap_or(QuestionScore {
                question_id: qid.clone(),
                ..QuestionScore::default()
            });
            if marked_na {
                entry.system_marked_na = Some(true);
                entry.score = Some(0);
                q_out.push(entry);
                continue;
            }
            if entry.marked_na {
                if !question.na_enabled {
                    return Err(err(
                        "bad.request",
                        format!("Question {qid} is not N/A enabled but was marked N/A"),
                    ));
                }
                entry.score = Some(0);
                entry.system_marked_na = Some(false);
                q_out.push(entry);
                continue;
            }
            let Some(answer_id) = entry.answer_id.clone() else {
                if require_complete {
                    return Err(err(
                        "quality.scoring.unanswered.required.questions",
                        format!("Question {qid} was not answered"),
                    ));
                }
                q_out.push(entry);
                continue;
            };
            let Some(option) = question
                .answer_options
                .iter()
                .find(|o| o.id.as_deref() == Some(answer_id.as_str()))
            else {
                return Err(err(
                    "quality.scoring.answer.not.in.evaluation.form",
                    format!(
                        "Submitted answers contained reference to an answer which is not in the evaluation form: {answer_id}"
                    ),
                ));
            };
            if question.comments_required
                && entry
                    .comments
                    .as_deref()
                    .is_none_or(|c| c.trim().is_empty())
            {
                return Err(err(
                    "quality.scoring.unanswered.required.comments",
                    format!("Question {qid} requires a comment"),
                ));
            }
            entry.score = Some(option.value);
            entry.system_marked_na = Some(false);
            if question.is_kill {
                let failed = option.value < max_value;
                entry.failed_kill_question = Some(failed);
                any_kill |= failed;
            }
            g_score += f64::from(option.value);
            g_max += f64::from(max_value);
            if question.is_critical {
                g_crit += f64::from(option.value);
                g_crit_max += f64::from(max_value);
            }
            q_out.push(entry);
        }
        numerator += g_score * weight;
        denominator += g_max * weight;
        crit_num += g_crit * weight;
        crit_den += g_crit_max * weight;
        max_raw += g_max;
        max_raw_crit += g_crit_max;
        groups_out.push(GroupScore {
            question_group_id: gid,
            marked_na,
            system_marked_na: Some(marked_na),
            total_score: Some(g_score * weight),
            max_total_score: Some(g_max * weight),
            total_score_unweighted: Some(g_score),
            max_total_score_unweighted: Some(g_max),
            question_scores: q_out,
        });
    }

    let pct = |n: f64, d: f64| if d > 0.0 { n / d * 100.0 } else { 0.0 };
    let total = if any_kill {
        0.0
    } else {
        pct(numerator, denominator)
    };
    out.question_group_scores = groups_out;
    out.total_score = Some(total);
    out.total_critical_score = Some(pct(crit_num, crit_den));
    out.total_non_critical_score = Some(pct(numerator - crit_num, denominator - crit_den));
    out.max_total_raw_score = Some(max_raw);
    out.max_total_raw_critical_score = Some(max_raw_crit);
    out.any_failed_kill_questions = Some(any_kill);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::{AnswerOption, Question, QuestionGroup};

    fn opt(id: &str, value: i32) -> AnswerOption {
        AnswerOption {
            id: Some(id.into()),
            text: id.into(),
            value,
            ..AnswerOption::default()
        }
    }

    fn q(id: &str, kill: bool, options: Vec<AnswerOption>) -> Question {
        Question {
            id: Some(id.into()),
            text: id.into(),
            kind: "multipleChoiceQuestion".into(),
            is_kill: kill,
            na_enabled: true,
            answer_options: options,
            ..Question::default()
        }
    }

    fn group(id: &str, weight: f64, questions: Vec<Question>) -> QuestionGroup {
        QuestionGroup {
            id: Some(id.into()),
            name: id.into(),
            weight,
            na_enabled: true,
            questions,
            ..QuestionGroup::default()
        }
    }

    fn answer(q: &str, a: &str) -> QuestionScore {
        QuestionScore {
            question_id: q.into(),
            answer_id: Some(a.into()),
            ..QuestionScore::default()
        }
    }

    /// The worked example of the Genesys help page: (1·40 + 1·20) / (2·40 + 1·20) = 60 %.
    #[test]
    fn documented_worked_example_gives_sixty_percent() {
        let yes_no = || vec![opt("y", 1), opt("n", 0)];
        let form = EvaluationForm {
            name: "f".into(),
            question_groups: vec![
                group(
                    "g1",
                    40.0,
                    vec![q("q1", false, yes_no()), q("q2", false, yes_no())],
                ),
                group("g2", 20.0, vec![q("q3", false, yes_no())]),
            ],
            ..EvaluationForm::default()
        };
        let mut y = yes_no();
        y[0].id = Some("y3".into());
        y[1].id = Some("n3".into());
        let mut form = form;
        form.question_groups[1].questions[0].answer_options = y;
        let answers = ScoringSet {
            question_group_scores: vec![
                GroupScore {
                    question_group_id: "g1".into(),
                    question_scores: vec![answer("q1", "y"), answer("q2", "n")],
                    ..GroupScore::default()
                },
                GroupScore {
                    question_group_id: "g2".into(),
                    question_scores: vec![answer("q3", "y3")],
                    ..GroupScore::default()
                },
            ],
            ..ScoringSet::default()
        };
        let scored = score(&form, &answers, true).unwrap();
        assert!((scored.total_score.unwrap() - 60.0).abs() < 1e-9);
        assert_eq!(scored.question_group_scores[0].total_score, Some(40.0));
    }

    #[test]
    fn failed_fatal_question_zeroes_total_and_na_group_counts_nothing() {
        let form = EvaluationForm {
            name: "f".into(),
            question_groups: vec![
                group(
                    "total",
                    1.0,
                    vec![q("t", false, vec![opt("t80", 80), opt("t100", 100)])],
                ),
                group(
                    "kpi",
                    1.0,
                    vec![q("k", true, vec![opt("pass", 1), opt("fail", 0)])],
                ),
            ],
            ..EvaluationForm::default()
        };
        let mut answers = ScoringSet {
            question_group_scores: vec![
                GroupScore {
                    question_group_id: "total".into(),
                    question_scores: vec![answer("t", "t80")],
                    ..GroupScore::default()
                },
                GroupScore {
                    question_group_id: "kpi".into(),
                    marked_na: true,
                    ..GroupScore::default()
                },
            ],
            ..ScoringSet::default()
        };
        let s = score(&form, &answers, true).unwrap();
        assert_eq!(s.total_score, Some(80.0));
        assert_eq!(s.any_failed_kill_questions, Some(false));

        answers.question_group_scores[1] = GroupScore {
            question_group_id: "kpi".into(),
            question_scores: vec![answer("k", "fail")],
            ..GroupScore::default()
        };
        let s = score(&form, &answers, true).unwrap();
        assert_eq!(s.total_score, Some(0.0));
        assert_eq!(s.any_failed_kill_questions, Some(true));
    }

    #[test]
    fn unknown_ids_are_rejected_with_documented_codes() {
        let form = EvaluationForm {
            name: "f".into(),
            question_groups: vec![group("g", 1.0, vec![q("q", false, vec![opt("a", 1)])])],
            ..EvaluationForm::default()
        };
        let with = |g: &str, qid: &str, a: &str| ScoringSet {
            question_group_scores: vec![GroupScore {
                question_group_id: g.into(),
                question_scores: vec![answer(qid, a)],
                ..GroupScore::default()
            }],
            ..ScoringSet::default()
        };
        assert_eq!(
            score(&form, &with("x", "q", "a"), true).unwrap_err().code,
            "quality.scoring.question.group.not.in.evaluation.form"
        );
        assert_eq!(
            score(&form, &with("g", "x", "a"), true).unwrap_err().code,
            "quality.scoring.question.not.in.evaluation.form"
        );
        assert_eq!(
            score(&form, &with("g", "q", "x"), true).unwrap_err().code,
            "quality.scoring.answer.not.in.evaluation.form"
        );
        let empty = ScoringSet::default();
        assert_eq!(
            score(&form, &empty, true).unwrap_err().code,
            "quality.scoring.unanswered.required.questions"
        );
    }
}
