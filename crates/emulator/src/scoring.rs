//! The emulator's own scoring: the judge of every create and dry run, written from the documented
//! rules (reference/genesys-api.md §4, HELP "Evaluation form scoring") and sharing no code with the
//! client's prediction (`genesys::scoring`), so a wrong formula on either side fails a test instead
//! of agreeing with itself.
//!
//! The rules, as documented:
//! * a question's points are the `value` of the chosen option; it can earn at most its highest
//!   option's value;
//! * a group's points and possible points are the sums over its answered questions; N/A questions,
//!   unanswered questions and N/A groups count 0 of 0;
//! * total = Σ(group points × group weight) / Σ(group possible × group weight), as a percentage (0
//!   when nothing is possible); with `weightMode` `OFF` every group weighs 1 (assumption: the form
//!   is not weighted);
//! * critical questions (`isCritical`) count in the total and also in the critical score, the others
//!   in the non-critical score, both weighted alike;
//! * a fatal question (`isKill`) answered with anything but its highest option fails the
//!   evaluation, which scores 0 % (unverified #10).

use genesys::models::{EvaluationForm, GroupScore, QuestionScore, ScoringSet};

/// A refused answer set: the Genesys error code and a message.
pub type Refusal = (&'static str, String);

/// What one question contributes: (points, possible points, critical, failed fatal).
struct Contribution {
    points: f64,
    possible: f64,
    critical: bool,
    failed_fatal: bool,
}

/// The documented rules, or an org that reads two of them otherwise (unverified #10 and #15), so the
/// tool's checks (the provision dry run, `probe`) can be shown to notice.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Rules {
    /// A group of weight 0 counts as weight 1.
    pub zero_weight_counts: bool,
    /// A failed fatal question is flagged but does not zero the total.
    pub fatal_keeps_total: bool,
}

/// Scores `answers` on `form` by the documented rules. `finished`: every question must be answered.
///
/// # Errors
/// The Genesys code and message a create or dry run is refused with.
pub fn judge(
    form: &EvaluationForm,
    answers: &ScoringSet,
    finished: bool,
) -> Result<ScoringSet, Refusal> {
    judge_with(Rules::default(), form, answers, finished)
}

/// [`judge`] under `rules`.
///
/// # Errors
/// As [`judge`].
pub fn judge_with(
    rules: Rules,
    form: &EvaluationForm,
    answers: &ScoringSet,
    finished: bool,
) -> Result<ScoringSet, Refusal> {
    // Every id the answers name must be on this form version.
    for g in &answers.question_group_scores {
        let Some(group) = form
            .question_groups
            .iter()
            .find(|fg| fg.id.as_deref() == Some(g.question_group_id.as_str()))
        else {
            return Err((
                "quality.scoring.question.group.not.in.evaluation.form",
                format!(
                    "Question group {} is not in the evaluation form",
                    g.question_group_id
                ),
            ));
        };
        for q in &g.question_scores {
            if !group
                .questions
                .iter()
                .any(|fq| fq.id.as_deref() == Some(q.question_id.as_str()))
            {
                return Err((
                    "quality.scoring.question.not.in.evaluation.form",
                    format!("Question {} is not in the evaluation form", q.question_id),
                ));
            }
        }
    }
    let unweighted = form.weight_mode.as_deref() == Some("OFF");
    let mut scored = answers.clone();
    scored.question_group_scores = Vec::new();
    let mut contributions: Vec<(f64, Contribution)> = Vec::new();
    for group in &form.question_groups {
        let gid = group.id.clone().unwrap_or_default();
        let given = answers
            .question_group_scores
            .iter()
            .find(|g| g.question_group_id == gid);
        let group_na = given.is_some_and(|g| g.marked_na);
        if group_na && !group.na_enabled {
            return Err(("bad.request", format!("Group {gid} cannot be marked N/A")));
        }
        let weight = if unweighted || (rules.zero_weight_counts && group.weight == 0.0) {
            1.0
        } else {
            group.weight
        };
        let mut out = GroupScore {
            question_group_id: gid.clone(),
            marked_na: group_na,
            system_marked_na: Some(group_na),
            ..GroupScore::default()
        };
        let (mut points, mut possible) = (0.0, 0.0);
        for question in &group.questions {
            let qid = question.id.clone().unwrap_or_default();
            let answer =
                given.and_then(|g| g.question_scores.iter().find(|q| q.question_id == qid));
            let mut q = answer.cloned().unwrap_or_else(|| QuestionScore {
                question_id: qid.clone(),
                ..QuestionScore::default()
            });
            let highest = question
                .answer_options
                .iter()
                .map(|o| o.value)
                .max()
                .unwrap_or(0);
            if group_na {
                q.score = Some(0);
                q.system_marked_na = Some(true);
            } else if q.marked_na {
                if !question.na_enabled {
                    return Err((
                        "bad.request",
                        format!("Question {qid} cannot be marked N/A"),
                    ));
                }
                q.score = Some(0);
                q.system_marked_na = Some(false);
            } else if let Some(aid) = q.answer_id.clone() {
                let Some(option) = question
                    .answer_options
                    .iter()
                    .find(|o| o.id.as_deref() == Some(aid.as_str()))
                else {
                    return Err((
                        "quality.scoring.answer.not.in.evaluation.form",
                        format!("Answer {aid} is not in the evaluation form"),
                    ));
                };
                if question.comments_required
                    && q.comments.as_deref().is_none_or(|c| c.trim().is_empty())
                {
                    return Err((
                        "quality.scoring.unanswered.required.comments",
                        format!("Question {qid} needs a comment"),
                    ));
                }
                let failed = question.is_kill && option.value != highest;
                q.score = Some(option.value);
                q.system_marked_na = Some(false);
                if question.is_kill {
                    q.failed_kill_question = Some(failed);
                }
                points += f64::from(option.value);
                possible += f64::from(highest);
                contributions.push((
                    weight,
                    Contribution {
                        points: f64::from(option.value),
                        possible: f64::from(highest),
                        critical: question.is_critical,
                        failed_fatal: failed,
                    },
                ));
            } else if finished {
                return Err((
                    "quality.scoring.unanswered.required.questions",
                    format!("Question {qid} has no answer"),
                ));
            }
            out.question_scores.push(q);
        }
        out.total_score = Some(points * weight);
        out.max_total_score = Some(possible * weight);
        out.total_score_unweighted = Some(points);
        out.max_total_score_unweighted = Some(possible);
        scored.question_group_scores.push(out);
    }
    let percent = |keep: &dyn Fn(&Contribution) -> bool| {
        let (mut n, mut d) = (0.0, 0.0);
        for (w, c) in contributions.iter().filter(|(_, c)| keep(c)) {
            n += c.points * w;
            d += c.possible * w;
        }
        if d > 0.0 { 100.0 * n / d } else { 0.0 }
    };
    let failed = contributions.iter().any(|(_, c)| c.failed_fatal);
    scored.total_score = Some(if failed && !rules.fatal_keeps_total {
        0.0
    } else {
        percent(&|_| true)
    });
    scored.total_critical_score = Some(percent(&|c| c.critical));
    scored.total_non_critical_score = Some(percent(&|c| !c.critical));
    scored.max_total_raw_score = Some(contributions.iter().map(|(_, c)| c.possible).sum());
    scored.max_total_raw_critical_score = Some(
        contributions
            .iter()
            .filter(|(_, c)| c.critical)
            .map(|(_, c)| c.possible)
            .sum(),
    );
    scored.any_failed_kill_questions = Some(failed);
    Ok(scored)
}

#[cfg(test)]
mod tests {
    use super::*;
    use genesys::models::{AnswerOption, Question, QuestionGroup};

    fn form(groups: Vec<(f64, Vec<Vec<i32>>)>) -> EvaluationForm {
        EvaluationForm {
            name: "f".into(),
            question_groups: groups
                .into_iter()
                .enumerate()
                .map(|(gi, (weight, qs))| QuestionGroup {
                    id: Some(format!("g{gi}")),
                    name: format!("g{gi}"),
                    weight,
                    questions: qs
                        .into_iter()
                        .enumerate()
                        .map(|(qi, values)| Question {
                            id: Some(format!("g{gi}q{qi}")),
                            text: "q".into(),
                            kind: "multipleChoiceQuestion".into(),
                            answer_options: values
                                .into_iter()
                                .map(|v| AnswerOption {
                                    id: Some(format!("g{gi}q{qi}v{v}")),
                                    text: v.to_string(),
                                    value: v,
                                    ..AnswerOption::default()
                                })
                                .collect(),
                            ..Question::default()
                        })
                        .collect(),
                    ..QuestionGroup::default()
                })
                .collect(),
            ..EvaluationForm::default()
        }
    }

    fn answer(picks: &[(usize, usize, i32)]) -> ScoringSet {
        let mut set = ScoringSet::default();
        for &(g, q, v) in picks {
            let gid = format!("g{g}");
            if !set
                .question_group_scores
                .iter()
                .any(|x| x.question_group_id == gid)
            {
                set.question_group_scores.push(GroupScore {
                    question_group_id: gid.clone(),
                    ..GroupScore::default()
                });
            }
            let group = set
                .question_group_scores
                .iter_mut()
                .find(|x| x.question_group_id == gid)
                .unwrap();
            group.question_scores.push(QuestionScore {
                question_id: format!("g{g}q{q}"),
                answer_id: Some(format!("g{g}q{q}v{v}")),
                ..QuestionScore::default()
            });
        }
        set
    }

    /// HELP's worked example: (1·40 + 1·20) / (2·40 + 1·20) = 60 %.
    #[test]
    fn the_help_pages_worked_example() {
        let f = form(vec![
            (40.0, vec![vec![1, 0], vec![1, 0]]),
            (20.0, vec![vec![1, 0]]),
        ]);
        let s = judge(&f, &answer(&[(0, 0, 1), (0, 1, 0), (1, 0, 1)]), true).unwrap();
        assert!((s.total_score.unwrap() - 60.0).abs() < 1e-9);
    }

    /// The example files: weights 1 and 2, scores 2/2 and 3/5 ⇒ (2 + 6) / (2 + 10) = 66.67 %.
    #[test]
    fn the_example_files_worked_example() {
        let f = form(vec![(1.0, vec![vec![2, 0]]), (2.0, vec![vec![5, 3, 0]])]);
        let s = judge(&f, &answer(&[(0, 0, 2), (1, 0, 3)]), true).unwrap();
        assert!((s.total_score.unwrap() - 200.0 / 3.0).abs() < 1e-9);
    }

    #[test]
    fn a_failed_fatal_question_zeroes_the_total_and_weight_mode_off_ignores_weights() {
        let mut f = form(vec![(3.0, vec![vec![10, 5]]), (1.0, vec![vec![1, 0]])]);
        f.question_groups[1].questions[0].is_kill = true;
        let s = judge(&f, &answer(&[(0, 0, 5), (1, 0, 0)]), true).unwrap();
        assert_eq!(s.total_score, Some(0.0));
        assert_eq!(s.any_failed_kill_questions, Some(true));
        let s = judge(&f, &answer(&[(0, 0, 5), (1, 0, 1)]), true).unwrap();
        assert!((s.total_score.unwrap() - 100.0 * 16.0 / 31.0).abs() < 1e-9);
        f.weight_mode = Some("OFF".into());
        let s = judge(&f, &answer(&[(0, 0, 5), (1, 0, 1)]), true).unwrap();
        assert!((s.total_score.unwrap() - 100.0 * 6.0 / 11.0).abs() < 1e-9);
    }
}
