//! What the measurements mean for the configuration: the table of findings with the setting each
//! recommends, and the text `probe` prints.

use super::*;

pub(super) fn yes_no(b: Option<bool>, yes: &str, no: &str) -> String {
    match b {
        Some(true) => yes.to_owned(),
        Some(false) => no.to_owned(),
        None => "not measured (see notes)".to_owned(),
    }
}

pub(super) fn setting(section: &str, key: &str, value: impl Into<String>) -> Option<Setting> {
    Some(Setting {
        section: section.into(),
        key: key.into(),
        value: value.into(),
    })
}

/// The table: behaviour, assumption, observation, recommendation.
#[allow(clippy::too_many_lines)]
pub(super) fn rows(cfg: &Config, r: &Report) -> Vec<Row> {
    let f = &r.facts;
    let mut rows = Vec::new();
    rows.push(Row {
        behaviour: "#12 Idempotency-Key replay".into(),
        assumed: format!(
            "not relied on: an unknown create is looked up before it is re-sent (use_idempotency_key = {})",
            cfg.genesys.use_idempotency_key
        ),
        observed: match (f.idempotency_replay, f.replayed_after) {
            (Some(true), Some(true)) => format!(
                "replayed, also {} s later",
                f.replay_checked_after_s.unwrap_or_default()
            ),
            (Some(true), Some(false)) => format!(
                "replayed at once, not {} s later",
                f.replay_checked_after_s.unwrap_or_default()
            ),
            (Some(true), None) => "replayed at once".into(),
            (Some(false), _) => "not replayed: the same key made a second evaluation".into(),
            (None, _) => "not measured (see notes)".into(),
        },
        recommended: "keep the key on; reconcile (query_lag_s) is what guards a re-send".into(),
        setting: f
            .idempotency_replay
            .and(setting("genesys", "use_idempotency_key", "true")),
    });
    rows.push(Row {
        behaviour: "— how soon a new evaluation shows in evaluations/query".into(),
        assumed: format!(
            "reconcile_after_s = {:.0} (an unknown create is looked up that long after it was sent)",
            cfg.genesys.reconcile_after().as_secs_f64()
        ),
        observed: f.query_lag_s.map_or_else(
            || "not shown within the bound".to_owned(),
            |l| format!("shown after {l:.1} s (at most)"),
        ),
        recommended: f.query_lag_s.map_or_else(
            || "raise reconcile_after_s well above the bound, and probe again".to_owned(),
            |l| {
                format!(
                    "query_lag_s = {l:.1}: an unknown create is looked up after timeout_s + 2 × the lag"
                )
            },
        ),
        setting: f
            .query_lag_s
            .and_then(|l| setting("genesys", "query_lag_s", format!("{l:.1}"))),
    });
    rows.push(Row {
        behaviour: "#3 FINISHED with answers in one create".into(),
        assumed: format!("[form] status = \"{}\"", cfg.form.status),
        observed: yes_no(
            f.finished_in_one_call,
            "submitted (FINISHED)",
            "stored unsubmitted",
        ),
        recommended: match f.finished_in_one_call {
            Some(false) => "do not load: the org does not submit on create; evaluations would stay unsubmitted (ask Genesys support; qm-migrate has no create-then-submit mode)".into(),
            _ => "keep status = \"FINISHED\"".into(),
        },
        setting: (f.finished_in_one_call == Some(true))
            .then(|| setting("form", "status", "\"FINISHED\""))
            .flatten(),
    });
    rows.push(Row {
        behaviour: "#4 a releaseDate in the past".into(),
        assumed: format!(
            "[form] release_policy = \"{}\" (the date is fixed at the first send: a re-send after reconcile carries a past date)",
            cfg.form.release_policy
        ),
        observed: yes_no(f.past_release_date_accepted, "accepted", "refused"),
        recommended: match f.past_release_date_accepted {
            Some(false) if cfg.form.release_policy == "immediate" => {
                "release_policy = \"omit\": a re-sent create would be refused for its past date"
                    .into()
            }
            _ => format!("keep release_policy = \"{}\"", cfg.form.release_policy),
        },
        setting: match f.past_release_date_accepted {
            Some(false) if cfg.form.release_policy == "immediate" => {
                setting("form", "release_policy", "\"omit\"")
            }
            _ => None,
        },
    });
    rows.push(Row {
        behaviour: "#4 neverRelease".into(),
        assumed: "used by release_policy = \"never\"".into(),
        observed: yes_no(f.never_release_accepted, "accepted", "refused or not kept"),
        recommended: match f.never_release_accepted {
            Some(false) => "do not use release_policy = \"never\"".into(),
            _ => "release_policy = \"never\" is available".into(),
        },
        setting: None,
    });
    rows.push(Row {
        behaviour: "gamification (points on release)".into(),
        assumed: format!("release_policy = \"{}\"", cfg.form.release_policy),
        observed: yes_no(
            f.gamified_evaluation_score,
            "the evaluation score is a gamification metric",
            "the evaluation score is not gamified",
        ),
        recommended: match (
            f.gamified_evaluation_score,
            cfg.form.release_policy.as_str(),
        ) {
            (Some(true), "never") => {
                "keep release_policy = \"never\": no points are awarded".into()
            }
            (Some(true), _) => {
                "release_policy = \"never\" (released migrated evaluations award points now)".into()
            }
            (None, _) => "grant gamification:profile:view to tell".into(),
            (Some(false), _) => format!("keep release_policy = \"{}\"", cfg.form.release_policy),
        },
        setting: match (
            f.gamified_evaluation_score,
            cfg.form.release_policy.as_str(),
        ) {
            (Some(true), p) if p != "never" => setting("form", "release_policy", "\"never\""),
            _ => None,
        },
    });
    let scoring_seen = r
        .scoring
        .iter()
        .map(|s| {
            format!(
                "{}: predicted {}, dry run {}, created {}",
                s.case,
                pct(s.predicted),
                pct(s.dry_run),
                pct(s.created)
            )
        })
        .collect::<Vec<_>>()
        .join("; ");
    rows.push(Row {
        behaviour: "#10 #15 scoring: weight-0 groups, N/A, a failed fatal question".into(),
        assumed: "weight 0 does not count, N/A is 0 of 0, a failed fatal question gives 0 %".into(),
        observed: scoring_seen,
        recommended: match f.scores_as_predicted {
            Some(false) => "do not load: the org scores otherwise; provision's dry run will refuse the form until this is understood".into(),
            _ => "nothing to change".into(),
        },
        setting: None,
    });
    if f.inactive_agent_accepted.is_some() {
        let v = if f.inactive_agent_accepted == Some(true) {
            "allow"
        } else {
            "history"
        };
        rows.push(Row {
            behaviour: "#5 an inactive agent".into(),
            assumed: format!(
                "[users] inactive_policy = \"{}\"",
                cfg.users.inactive_policy
            ),
            observed: yes_no(f.inactive_agent_accepted, "accepted", "refused"),
            recommended: format!("inactive_policy = \"{v}\""),
            setting: setting("users", "inactive_policy", format!("\"{v}\"")),
        });
    }
    if f.inactive_evaluator_accepted.is_some() {
        rows.push(Row {
            behaviour: "#5 an inactive evaluator".into(),
            assumed: "an inactive evaluator is replaced by [users] default_evaluator".into(),
            observed: yes_no(f.inactive_evaluator_accepted, "accepted", "refused"),
            recommended: "keep default_evaluator set (the original evaluator's name travels in the comments either way)".into(),
            setting: None,
        });
    }
    // An org limit read as preflight reads it, and the `[genesys]` key it sets.
    let limit = |behaviour: &str, key: &str, ours: u32, org: Option<u32>| Row {
        behaviour: behaviour.into(),
        assumed: format!("{key} = {ours}"),
        observed: org.map_or_else(|| "not readable".into(), |c| format!("{c}")),
        recommended: org.map_or_else(|| "keep the default".into(), |c| format!("{key} = {c}")),
        setting: org.and_then(|c| setting("genesys", key, c.to_string())),
    };
    rows.push(limit(
        "#7 evaluations per agent per day",
        "per_agent_daily_cap",
        cfg.genesys.per_agent_daily_cap,
        f.per_agent_daily_cap,
    ));
    rows.push(limit(
        "requests per minute per client",
        "requests_per_minute",
        cfg.genesys.requests_per_minute,
        f.requests_per_minute,
    ));
    rows.push(Row {
        behaviour: "#21 permissions".into(),
        assumed: "every permission reference §9 lists for this configuration".into(),
        observed: if f.permissions_missing.is_empty() {
            "none missing".into()
        } else {
            format!("missing: {}", f.permissions_missing.join(", "))
        },
        recommended: if f.permissions_missing.is_empty() {
            "nothing to change".into()
        } else {
            "grant them to the OAuth client's role (`qm-migrate preflight` says why each is needed)"
                .into()
        },
        setting: None,
    });
    rows
}

pub(super) fn pct(v: Option<f64>) -> String {
    v.map_or_else(|| "—".into(), |v| format!("{v:.2} %"))
}

/// The report in plain words.
pub fn human(r: &Report) -> String {
    let mut out = format!(
        "probe of conversation {} on {} ({} requests)\n\n",
        r.conversation_id, r.date, r.requests
    );
    for row in &r.rows {
        out.push_str(&format!(
            "{}\n  qm-migrate assumed: {}\n  the org did:        {}\n  recommended:        {}\n",
            row.behaviour, row.assumed, row.observed, row.recommended
        ));
    }
    if !r.notes.is_empty() {
        out.push_str("\nnotes:\n");
        for n in &r.notes {
            out.push_str(&format!("  - {n}\n"));
        }
    }
    out.push_str(&format!(
        "\ncleanup: {} evaluation(s) created, {} deleted; probe form {}\n",
        r.created,
        r.deleted,
        if r.form_deleted {
            "deleted"
        } else {
            "NOT deleted"
        }
    ));
    if r.cleaned_up {
        out.push_str("nothing was left behind\n");
    } else {
        out.push_str("LEFT BEHIND:\n");
        for l in &r.leftovers {
            out.push_str(&format!("  - {l}\n"));
        }
    }
    out
}
