//! The measurements: idempotent replay, query lag, the past release date, `neverRelease`, inactive
//! people, and each total Genesys computes against the prediction.

use super::*;

#[allow(clippy::too_many_lines)]
pub(super) async fn measure(
    p: &mut Probe<'_>,
    def: &EvaluationForm,
    published: &EvaluationForm,
    opts: &Options,
    inactive_agent: Option<&str>,
    inactive_evaluator: Option<&str>,
    report: &mut Report,
) {
    let (agent, evaluator) = (p.agent.clone(), p.evaluator.clone());
    let sets = [
        (
            "weight-0 group answered 0, one question N/A (documented: 100 %)",
            set_weight_zero_and_na(),
        ),
        (
            "fatal question failed (documented: 0 %)",
            set_failed_fatal(),
        ),
    ];
    for (case, set) in &sets {
        let predicted = genesys::scoring::score(def, set, true)
            .ok()
            .and_then(|s| s.total_score);
        let dry_run = match form::translate(set, &p.map) {
            Ok(t) => match p.client.score_dry_run(published, &t).await {
                Ok(s) => s.total_score,
                Err(e) => {
                    p.notes.push(format!("scoring dry run ({case}): {e}"));
                    None
                }
            },
            Err(e) => {
                p.notes.push(format!("scoring dry run ({case}): {e}"));
                None
            }
        };
        report.scoring.push(ScoreCheck {
            case: (*case).to_owned(),
            predicted,
            dry_run,
            created: None,
        });
    }

    // 1. Set A, FINISHED, released now, with a key; the same request at once.
    let key = Uuid::new_v4();
    let first_body = match p.body(&sets[0].1, &Release::Now, &agent, &evaluator) {
        Ok(b) => b,
        Err(e) => {
            p.notes
                .push(format!("cannot build the probe request: {e:#}"));
            return;
        }
    };
    let t0 = p.client.clock().now_unix_ms();
    let first = match p.create(&first_body, Some(key)).await {
        Ok(e) => e,
        Err(e) => {
            p.notes.push(format!(
                "the first probe create failed ({}): nothing else could be measured on this conversation",
                code_of(&e)
            ));
            return;
        }
    };
    report.scoring[0].created = first.answers.as_ref().and_then(|a| a.total_score);
    report.facts.finished_in_one_call = Some(first.status.as_deref() == Some("FINISHED"));
    match p.create(&first_body, Some(key)).await {
        Ok(again) => report.facts.idempotency_replay = Some(again.id == first.id),
        // A replay answers as the first create did (2xx): a refusal means the key was not replayed.
        Err(
            e @ GenesysError::Api {
                status: 400..=499, ..
            },
        ) => {
            report.facts.idempotency_replay = Some(false);
            p.notes.push(format!(
                "the same create sent again with its key was refused ({}), not replayed",
                code_of(&e)
            ));
        }
        Err(e) => p.notes.push(format!(
            "the same create sent again with its key failed ({}): replay not measured",
            code_of(&e)
        )),
    }

    // 2. How long until the query shows it.
    let mut step = 0.25f64;
    loop {
        match p.ours_on_conversation().await {
            Ok(found) => {
                if let Some(e) = found.iter().find(|e| e.id == first.id) {
                    report.facts.query_lag_s = Some((since(p.client, t0) * 10.0).ceil() / 10.0);
                    // What was stored, as read back: a create answered FINISHED but stored
                    // otherwise is not submitted.
                    if e.status.as_deref() != Some("FINISHED") {
                        report.facts.finished_in_one_call = Some(false);
                    }
                    break;
                }
            }
            Err(e) => p.notes.push(format!("evaluation query: {e}")),
        }
        let elapsed = since(p.client, t0);
        if elapsed >= opts.lag_bound_s {
            p.notes.push(format!(
                "the evaluation query did not show the new evaluation within {} s",
                opts.lag_bound_s
            ));
            break;
        }
        sleep(p.client, step.min(opts.lag_bound_s - elapsed)).await;
        step = (step * 2.0).min(2.0);
    }

    // 3. The key once more, later.
    if report.facts.idempotency_replay == Some(true) {
        sleep(p.client, opts.replay_after_s - since(p.client, t0)).await;
        let after = since(p.client, t0);
        match p.create(&first_body, Some(key)).await {
            Ok(again) => {
                report.facts.replay_checked_after_s = Some((after * 10.0).round() / 10.0);
                report.facts.replayed_after = Some(again.id == first.id);
            }
            // A refusal of the repeated key is not a duplicate: the replay window has closed
            // with a refusal (any answer but the first evaluation is "not replayed").
            Err(
                e @ GenesysError::Api {
                    status: 400..=499, ..
                },
            ) => {
                report.facts.replay_checked_after_s = Some((after * 10.0).round() / 10.0);
                report.facts.replayed_after = Some(false);
                p.notes.push(format!(
                    "the key sent {after:.0} s later was answered {}",
                    code_of(&e)
                ));
            }
            Err(e) => p.notes.push(format!(
                "the key sent again later failed ({}): the replay window not measured",
                code_of(&e)
            )),
        }
    }

    // 4. Set B with a past release date (again released now if that is refused).
    let fatal_created = match p.body(&sets[1].1, &Release::DaysAgo(30), &agent, &evaluator) {
        Ok(b) => match p.create(&b, Some(Uuid::new_v4())).await {
            Ok(e) => {
                report.facts.past_release_date_accepted = Some(true);
                Some(e)
            }
            Err(e @ GenesysError::Api { status: 400, .. }) => {
                report.facts.past_release_date_accepted = Some(false);
                p.notes.push(format!(
                    "a releaseDate 30 days ago was refused: {}",
                    code_of(&e)
                ));
                match p.body(&sets[1].1, &Release::Now, &agent, &evaluator) {
                    Ok(b) => p.create(&b, Some(Uuid::new_v4())).await.ok(),
                    Err(_) => None,
                }
            }
            Err(e) => {
                p.notes.push(format!(
                    "the past-release-date create failed ({}): not measured",
                    code_of(&e)
                ));
                None
            }
        },
        Err(e) => {
            p.notes.push(format!("{e:#}"));
            None
        }
    };
    if let Some(e) = fatal_created {
        report.scoring[1].created = e.answers.as_ref().and_then(|a| a.total_score);
    }

    // 5. neverRelease.
    if let Ok(b) = p.body(&sets[0].1, &Release::Never, &agent, &evaluator) {
        match p.create(&b, Some(Uuid::new_v4())).await {
            Ok(e) => report.facts.never_release_accepted = Some(e.never_release == Some(true)),
            Err(e @ GenesysError::Api { status: 400, .. }) => {
                report.facts.never_release_accepted = Some(false);
                p.notes
                    .push(format!("neverRelease was refused: {}", code_of(&e)));
            }
            Err(e) => p
                .notes
                .push(format!("neverRelease not measured: {}", code_of(&e))),
        }
    }

    // 6. Inactive people, when given.
    for (who, as_agent) in [(inactive_agent, true), (inactive_evaluator, false)] {
        let Some(user) = who else { continue };
        let (a, ev) = if as_agent {
            (user, evaluator.as_str())
        } else {
            (agent.as_str(), user)
        };
        let Ok(b) = p.body(&sets[0].1, &Release::Now, a, ev) else {
            continue;
        };
        let accepted = match p.create(&b, Some(Uuid::new_v4())).await {
            Ok(_) => Some(true),
            Err(e @ GenesysError::Api { status: 400, .. }) => {
                p.notes.push(format!(
                    "the inactive {} was refused: {}",
                    if as_agent { "agent" } else { "evaluator" },
                    code_of(&e)
                ));
                Some(false)
            }
            Err(e) => {
                p.notes
                    .push(format!("inactive user not measured: {}", code_of(&e)));
                None
            }
        };
        if as_agent {
            report.facts.inactive_agent_accepted = accepted;
        } else {
            report.facts.inactive_evaluator_accepted = accepted;
        }
    }

    let checks: Vec<Option<bool>> = report
        .scoring
        .iter()
        .map(ScoreCheck::as_predicted)
        .collect();
    report.facts.scores_as_predicted = if checks.iter().all(Option::is_none) {
        None
    } else {
        Some(checks.iter().all(|c| *c != Some(false)))
    };
    report.facts.weight_zero_ignored = checks[0];
    report.facts.failed_fatal_zeroes = report.scoring[1]
        .dry_run
        .or(report.scoring[1].created)
        .map(|t| t.abs() <= 0.01);
}
