//! Deciding one record: score, date, people and link give it a disposition and a reason (the
//! answers are `encode`'s).

use super::*;

pub(super) struct Pending {
    pub(super) row: PlanRow,
    pub(super) locator: String,
    pub(super) ev: Option<CanonicalEvaluation>,
    pub(super) candidate: Option<(String, String)>,
    pub(super) agent: Option<User>,
    pub(super) agent_label: String,
    pub(super) evaluation_id: String,
    /// `match` is to be tried: the contact start (epoch ms).
    pub(super) match_at: Option<i64>,
    pub(super) evaluator_note: String,
    pub(super) evaluator_label: String,
    pub(super) method: Option<ScoringMethod>,
    pub(super) notes: Vec<String>,
}

pub(super) fn decided(record_id: i64, d: Disposition, reason: String) -> Pending {
    Pending {
        row: PlanRow {
            record_id,
            disposition: Some(d),
            reason,
            ..PlanRow::default()
        },
        locator: String::new(),
        ev: None,
        candidate: None,
        agent: None,
        agent_label: String::new(),
        evaluation_id: String::new(),
        match_at: None,
        evaluator_note: String::new(),
        evaluator_label: String::new(),
        method: None,
        notes: Vec::new(),
    }
}

/// A record decided `history` in `row` (its reason set), kept with its evaluation for the channel.
pub(super) fn to_history(
    mut row: PlanRow,
    locator: &str,
    ev: CanonicalEvaluation,
    method: ScoringMethod,
) -> Pending {
    row.disposition = Some(Disposition::History);
    Pending {
        row,
        locator: locator.to_owned(),
        ev: Some(ev),
        method: Some(method),
        ..decided(0, Disposition::History, String::new())
    }
}

/// What planning one record consults: the configuration, the directory, the recording map and the
/// default evaluator (its key, and the user it names if exactly one active user).
pub(super) struct Ctx {
    pub(super) cfg: Config,
    pub(super) dir: Directory,
    pub(super) mapping: HashMap<String, Vec<String>>,
    pub(super) default_evaluator: Option<(String, Option<User>)>,
}

pub(super) fn plan_one(
    ctx: &Ctx,
    record_id: i64,
    locator: &str,
    ev: CanonicalEvaluation,
    forced: Option<(String, String)>,
) -> Pending {
    let Ctx {
        cfg,
        dir,
        mapping,
        default_evaluator,
    } = ctx;
    let default_evaluator = default_evaluator
        .as_ref()
        .map(|(k, u)| (k.as_str(), u.as_ref()));
    let q = |reason: String| decided(record_id, Disposition::Quarantined, reason);
    if ev.kind == Kind::Calibration {
        return decided(
            record_id,
            Disposition::Excluded,
            "calibration (isScoreCounted=false): never counts toward the agent's scores".into(),
        );
    }
    if !["scored", "approved"].contains(&ev.state.as_str()) {
        return decided(
            record_id,
            Disposition::Excluded,
            format!(
                "state '{}' is not a completed (scored) evaluation",
                ev.state_raw.as_deref().unwrap_or(&ev.state)
            ),
        );
    }
    // Text that cannot travel: control characters (a sign of a damaged export). A comment longer
    // than Genesys takes is shortened when the answers are built (the full text stays in the
    // history), never a reason to hold the record back.
    for (what, text) in ev
        .comments
        .iter()
        .map(|c| ("comment", c.text.as_str()))
        .chain(ev.agent.display_name.as_deref().map(|t| ("agent name", t)))
        .chain(
            ev.evaluator
                .as_ref()
                .and_then(|p| p.display_name.as_deref())
                .map(|t| ("evaluator name", t)),
        )
    {
        if let Some((i, c)) = text
            .chars()
            .enumerate()
            .find(|(_, c)| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            return q(format!(
                "{locator}: {what} holds control character U+{:04X} at character {}",
                u32::from(c),
                i + 1
            ));
        }
    }
    // What Calabrio refused about this evaluation (its comments): said in its reason.
    let mut notes: Vec<String> = ev
        .warnings
        .iter()
        .map(|w| format!("Calabrio: {w}"))
        .collect();
    let form_key = ev.form.key();
    let method = match cfg.method_for(&form_key) {
        Ok(m) => m,
        Err(e) => {
            return q(format!(
                "{locator}: scoring method of form '{form_key}': {e:#}"
            ));
        }
    };
    let Some(total) = ev.score.total else {
        return q(format!("{locator}: no total score"));
    };
    let applicable = ev
        .score
        .applicable_points
        .or(ev.score.max_points)
        .or(ev.form.total_points);
    let normalised = match normalise_with(total, method, applicable) {
        Ok(n) => n,
        Err(e) => return q(format!("{locator}: total_score of form '{form_key}': {e}")),
    };

    let (date, basis) = match (
        ev.dates.evaluated_at_utc,
        ev.dates.created_at_utc,
        ev.contact.start_time_utc,
    ) {
        (Some(d), _, _) => (d, "evaluated"),
        (None, Some(d), _) => {
            notes.push("evaluation date missing: the created date is used".to_owned());
            (d, "created")
        }
        (None, None, Some(d)) => {
            notes
                .push("evaluation and created dates missing: the contact start is used".to_owned());
            (d, "contact_start")
        }
        _ => {
            return q(format!(
                "{locator}: no date: evaluated_at, created_at and the contact start are all empty"
            ));
        }
    };

    if date > jiff::Timestamp::now() + jiff::SignedDuration::from_hours(24) {
        return q(format!(
            "{locator}: the {basis} date {date} is in the future"
        ));
    }

    let mut row = PlanRow {
        record_id,
        evaluated_at: Some(date.to_string()),
        date_basis: Some(basis.into()),
        score: Some(normalised.percent),
        method: Some(normalised.method.clone()),
        ..PlanRow::default()
    };

    // Agent.
    let agent = match dir.resolve(&ev.agent, &cfg.users.match_keys) {
        Resolved::Found { user, how } => {
            let st = user.state.as_deref().unwrap_or("active");
            row.agent_match = Some(how.clone());
            if st != "active" && cfg.users.inactive_policy == "history" {
                row.disposition = Some(Disposition::History);
                row.reason = format!(
                    "agent {} ({how}) has a Genesys account ({}) that is {st}: whether Genesys accepts evaluations for it is unverified, so it stays in the history ([users] inactive_policy = \"history\")",
                    ev.agent.label(),
                    user.id
                );
                row.agent_user_id = Some(user.id.clone());
                return to_history(row, locator, ev, method);
            }
            notes.push(format!("agent matched by {how}"));
            row.agent_match = Some(how);
            user
        }
        Resolved::Ambiguous { how, ids } => {
            let mut p = q(format!(
                "{locator}: agent {} ({how}) matches {} Genesys users ({}); never guessed",
                ev.agent.label(),
                ids.len(),
                ids.join(", ")
            ));
            p.row.agent_match = Some(format!("ambiguous: {how} matches {}", ids.join(", ")));
            return p;
        }
        Resolved::NotFound { tried } => {
            row.agent_match = Some(format!("none (tried {tried})"));
            row.disposition = Some(Disposition::History);
            row.reason = format!(
                "agent {} has no Genesys account (tried {tried}); kept in the history",
                ev.agent.label()
            );
            return to_history(row, locator, ev, method);
        }
    };
    row.agent_user_id = Some(agent.id.clone());

    // Evaluator.
    let original_label = ev
        .evaluator
        .as_ref()
        .map(Person::label)
        .unwrap_or_else(|| "(no evaluator recorded)".into());
    let mut use_default = |why: String| -> Result<User, String> {
        match default_evaluator {
            Some((_, Some(u))) => {
                notes.push(format!("{why}: the default evaluator is used"));
                Ok((*u).clone())
            }
            Some((k, None)) => Err(format!(
                "{why}, and the default evaluator '{k}' is not a single active Genesys user"
            )),
            None => Err(format!(
                "{why}, and no [users] default_evaluator is configured"
            )),
        }
    };
    let evaluator = if cfg.users.evaluator_mode == "service_user" {
        use_default("[users] evaluator_mode = \"service_user\"".into())
    } else {
        match ev.evaluator.as_ref().filter(|p| !p.is_empty()) {
            None => use_default("the export names no evaluator".into()),
            Some(p) => match dir.resolve(p, &cfg.users.match_keys) {
                Resolved::Found { user, .. } if user.state.as_deref() == Some("active") => Ok(user),
                Resolved::Found { user, how } => use_default(format!(
                    "evaluator {} ({how}) is {} in Genesys",
                    p.label(),
                    user.state.as_deref().unwrap_or("not active")
                )),
                Resolved::Ambiguous { how, ids } => use_default(format!(
                    "evaluator {} ({how}) matches {} Genesys users",
                    p.label(),
                    ids.len()
                )),
                Resolved::NotFound { tried } => use_default(format!(
                    "evaluator {} has no Genesys account (tried {tried})",
                    p.label()
                )),
            },
        }
    };
    let evaluator = match evaluator {
        Ok(u) => u,
        Err(why) => return q(format!("{locator}: {why}")),
    };
    row.evaluator_user_id = Some(evaluator.id.clone());

    // Link.
    let mut candidate = forced;
    let mut link_notes = Vec::new();
    let mut match_at = None;
    for strategy in &cfg.link.strategies {
        if candidate.is_some() {
            break;
        }
        match strategy.as_str() {
            "field" => {
                for f in &cfg.link.conversation_id_fields {
                    let v = match f.as_str() {
                        "conversation_id" => ev.contact.conversation_id.as_deref(),
                        _ => ev.contact.assoc_call_id.as_deref(),
                    };
                    match v.map(str::trim).filter(|v| !v.is_empty()) {
                        Some(v) if looks_like_uuid(v) => {
                            candidate = Some((v.to_lowercase(), format!("field:{f}")));
                            break;
                        }
                        Some(v) => {
                            link_notes.push(format!("{f} '{v}' is not a Genesys conversation id"))
                        }
                        None => link_notes.push(format!("no {f}")),
                    }
                }
            }
            "mapping" => match ev.contact.contact_id.as_deref() {
                None => link_notes.push("no contact id for the mapping file".into()),
                Some(c) => match mapping.get(c).map(Vec::as_slice) {
                    Some([one]) => candidate = Some((one.to_lowercase(), "mapping".into())),
                    Some(many) if many.len() > 1 => link_notes.push(format!(
                        "the mapping file maps contact {c} to {} conversations ({})",
                        many.len(),
                        many.join(", ")
                    )),
                    _ => link_notes.push(format!("contact {c} is not in the mapping file")),
                },
            },
            "match" => match ev.contact.start_time_utc {
                Some(t) => match_at = Some(t.as_millisecond()),
                None => link_notes.push("no contact start time to match on".into()),
            },
            _ => {}
        }
    }
    row.link_detail = Some(match &candidate {
        Some((_, strategy)) => strategy.clone(),
        None => link_notes.join("; "),
    });
    let ev_label = original_label;
    match candidate {
        None => {
            row.disposition = Some(Disposition::History);
            row.reason = format!(
                "no Genesys conversation to attach it to ({}); kept in the history",
                if link_notes.is_empty() {
                    "no link strategy applies".to_owned()
                } else {
                    link_notes.join("; ")
                }
            );
            Pending {
                row,
                locator: locator.to_owned(),
                ev: Some(ev),
                candidate: None,
                agent_label: agent.name.clone().unwrap_or_else(|| agent.id.clone()),
                agent: Some(agent),
                evaluation_id: String::new(),
                match_at,
                evaluator_note: String::new(),
                evaluator_label: ev_label,
                method: Some(method),
                notes,
            }
        }
        Some((cid, strategy)) => {
            row.conversation_id = Some(cid.clone());
            row.link_strategy = Some(strategy.clone());
            Pending {
                row,
                locator: locator.to_owned(),
                ev: Some(ev),
                candidate: Some((cid, strategy)),
                agent: Some(agent),
                agent_label: String::new(),
                evaluation_id: String::new(),
                match_at: None,
                evaluator_note: if evaluator.id
                    == default_evaluator
                        .and_then(|(_, u)| u.map(|u| u.id.clone()))
                        .unwrap_or_default()
                {
                    " (recorded in Genesys under the default evaluator)".into()
                } else {
                    String::new()
                },
                evaluator_label: ev_label,
                method: Some(method),
                notes,
            }
        }
    }
}

pub(super) fn ts_human(ts: jiff::Timestamp) -> String {
    ts.strftime("%Y-%m-%d %H:%M UTC").to_string()
}

pub(super) fn looks_like_uuid(s: &str) -> bool {
    uuid::Uuid::try_parse(s).is_ok()
}
