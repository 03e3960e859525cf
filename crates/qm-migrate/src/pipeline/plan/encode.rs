//! Encoding a record planned as an evaluation: the form's answers (container or mirror) and the
//! total Genesys is predicted to compute, checked against the normalised source.

use super::*;

/// Everything about a linkable record that does not depend on its conversation: the encoded
/// answers, the predicted Genesys total and the outcome if the conversation checks pass. Run as soon
/// as the record is planned, so its canonical evaluation can be dropped (plan memory stays small).
/// Mirrored forms by Calabrio form id, or why the form cannot be mirrored.
pub(super) type Mirrors = HashMap<String, Result<crate::mirror::MirrorForm, String>>;

pub(super) fn prepare_one(
    cfg: &Config,
    def: &genesys::models::EvaluationForm,
    mirrors: &Mirrors,
    p: &mut Pending,
) {
    let (Some(ev), Some((cid, strategy)), Some(method)) =
        (p.ev.take(), p.candidate.clone(), p.method)
    else {
        p.row.disposition = Some(Disposition::Quarantined);
        p.row.reason = format!("{}: internal: incomplete plan", p.locator);
        return;
    };
    p.agent_label = ev.agent.label();
    p.evaluation_id = ev.evaluation_id.clone();
    let ev = &ev;
    // Encode and predict.
    let source_percent = p.row.score.unwrap_or(0.0);
    let kpi_failed = ev.score.kpi_failed == Some(true);
    let shown = if kpi_failed {
        ev.score
            .raw_additive
            .and_then(|r| {
                let applicable = ev.score.applicable_points.or(ev.score.max_points);
                normalise_with(r, method, applicable).ok()
            })
            .map(|n| n.percent)
            .unwrap_or(source_percent)
    } else {
        source_percent
    };
    if kpi_failed {
        p.notes.push(format!(
            "KPI failed in Calabrio ({}): the fatal question reproduces the 0 % total; pre-KPI score {shown:.1}%",
            ev.score.kpi_failed_basis.as_deref().unwrap_or("explicit")
        ));
    }
    let mut sections = Vec::new();
    for s in &ev.sections {
        let Some(name) = s.name.clone() else { continue };
        let pct = match (s.score, s.max) {
            (Some(v), Some(max)) if max > 0.0 => normalise(v, ScoringMethod::Ratio { max }).ok(),
            (Some(v), _) => normalise(v, method).ok(),
            _ => None,
        };
        if s.score.is_some() && pct.is_none() {
            p.notes.push(format!(
                "section '{name}' score is outside its scale: shown as N/A"
            ));
        }
        sections.push((name, pct.map(|n| n.percent)));
    }
    let mapped: Vec<&String> = cfg.form.sections.iter().collect();
    let mut section_comments = BTreeMap::new();
    let mut extra_comments = Vec::new();
    for c in &ev.comments {
        match c.scope {
            CommentScope::Evaluation => extra_comments.push(c.text.clone()),
            CommentScope::Section | CommentScope::Question => {
                let sec = c.section_id.clone().unwrap_or_default();
                if mapped.iter().any(|m| m.eq_ignore_ascii_case(&sec))
                    && c.scope == CommentScope::Section
                {
                    section_comments.insert(sec, c.text.clone());
                } else {
                    extra_comments.push(format!(
                        "[{}] {}",
                        if sec.is_empty() { "question" } else { &sec },
                        c.text
                    ));
                }
            }
        }
    }
    let score_text = match method {
        ScoringMethod::Ratio { max } => {
            format!(
                "score {}/{} = {:.1}%",
                trim_num(ev.score.total.unwrap_or(0.0)),
                trim_num(max),
                source_percent
            )
        }
        ScoringMethod::Linear { min, max } => format!(
            "score {} on {}–{} = {:.1}%",
            trim_num(ev.score.total.unwrap_or(0.0)),
            trim_num(min),
            trim_num(max),
            source_percent
        ),
        ScoringMethod::Percent => format!("score {source_percent:.1}%"),
        ScoringMethod::Points => format!(
            "score {} of {} applicable points = {source_percent:.1}%",
            trim_num(ev.score.total.unwrap_or(0.0)),
            trim_num(
                ev.score
                    .applicable_points
                    .or(ev.score.max_points)
                    .or(ev.form.total_points)
                    .unwrap_or(0.0)
            )
        ),
    };
    let date = p
        .row
        .evaluated_at
        .as_deref()
        .and_then(|d| d.parse::<jiff::Timestamp>().ok())
        .map(ts_human)
        .unwrap_or_default();
    let date_note = match p.row.date_basis.as_deref() {
        Some("created") => " (created date; evaluation date missing)",
        Some("contact_start") => " (contact start; evaluation date missing)",
        _ => "",
    };
    let mut provenance = format!(
        "[Migrated from Calabrio ONE] evaluation {} · contact {} · evaluated {date}{date_note} by {}{} · form \"{}\" · {score_text}",
        ev.evaluation_id,
        ev.contact.contact_id.as_deref().unwrap_or("(none)"),
        p.evaluator_label,
        p.evaluator_note,
        ev.form.key(),
    );
    if kpi_failed {
        provenance.push_str(" · KPI failed: total 0 %");
    }
    let mut comments = provenance;
    for c in extra_comments {
        comments.push('\n');
        comments.push_str(&c);
    }
    let key = create_key(cfg, &ev.evaluation_id);
    let private = form::marker(&cfg.source.system, &ev.evaluation_id, &key.to_string());
    let enc = form::Encoded {
        shown_percent: shown,
        kpi_failed,
        sections,
        section_comments,
        comments,
        private_comments: private,
    };
    let answers = form::answers(&cfg.form, &enc);
    let predicted = match genesys::scoring::score(def, &answers, true) {
        Ok(s) => s.total_score.unwrap_or(0.0),
        Err(e) => {
            p.row.disposition = Some(Disposition::Quarantined);
            p.row.reason = format!(
                "{}: the answers do not fit the Legacy Migration Form: {e}",
                p.locator
            );
            return;
        }
    };
    p.row.predicted = Some(predicted);
    let expected = if kpi_failed { 0.0 } else { source_percent };
    if kpi_failed && source_percent != 0.0 {
        p.row.disposition = Some(Disposition::Quarantined);
        p.row.reason = format!(
            "{}: KPI marked failed but the Calabrio total is {source_percent:.1}%, not 0: Genesys would compute {predicted:.1}% (total_score and kpi_failed disagree)",
            p.locator
        );
        return;
    }
    if (predicted - expected).abs() > cfg.scoring.tolerance + 1e-9 {
        p.row.disposition = Some(Disposition::Quarantined);
        p.row.reason = format!(
            "{}: Genesys would compute {predicted:.2}% but the normalised Calabrio total is {expected:.2}% (tolerance {})",
            p.locator, cfg.scoring.tolerance
        );
        return;
    }
    // Comments within Genesys' limits (the scores do not depend on them): what is cut is named
    // and kept in the history.
    let mut answers = answers;
    let whose = format!("{} evaluation {}", cfg.source.system, ev.evaluation_id);
    let limits = crate::pipeline::forms::comments::Limits::of(&cfg.form);
    let shortened = crate::pipeline::forms::comments::fit_answers(&mut answers, limits, &whose);
    p.row.comments_shortened = i64::try_from(shortened).unwrap_or(i64::MAX);
    p.row.answers = serde_json::to_string(&answers).ok();
    p.row.disposition = Some(Disposition::Evaluation);
    if cfg.form.mode == "mirror" {
        mirror_one(cfg, mirrors, ev, &answers, expected, p);
    }
    if p.row.comments_shortened > 0 {
        p.notes.push(format!(
            "{} comment(s) shortened to Genesys' limits ({} characters overall, {} private and per answer); the full text is in the history",
            p.row.comments_shortened, limits.comments, limits.answer
        ));
    }
    let predicted = p.row.predicted.unwrap_or(predicted);
    let mut reason = format!(
        "linked to conversation {cid} by {strategy}; {}; Genesys total will be {predicted:.1}% ({})",
        score_text,
        p.row.method.as_deref().unwrap_or("")
    );
    for n in &p.notes {
        reason.push_str("; ");
        reason.push_str(n);
    }
    p.row.reason = reason;
}

/// Mirror mode: the answers on the record's mirrored form when they score as Calabrio did (the
/// container answers stay otherwise, with the reason in the notes).
pub(super) fn mirror_one(
    cfg: &Config,
    mirrors: &Mirrors,
    ev: &qm_model::CanonicalEvaluation,
    container: &genesys::models::ScoringSet,
    expected: f64,
    p: &mut Pending,
) {
    let fid = ev.form.form_id.clone().unwrap_or_default();
    let why = match mirrors.get(&fid) {
        None => format!(
            "container form, not mirrored: the source carries no definition of Calabrio form '{}' (the API and tables sources do)",
            ev.form.key()
        ),
        Some(Err(why)) => format!("container form, not mirrored: {why}"),
        Some(Ok(m)) => match crate::mirror::answer(m, ev, expected, cfg.scoring.tolerance) {
            crate::mirror::Mirrored::Answers {
                mut answers,
                predicted,
            } => {
                // The provenance and the reconciliation marker travel with the answers.
                answers.comments.clone_from(&container.comments);
                answers
                    .private_comments
                    .clone_from(&container.private_comments);
                // The question comments, cut as the container's were (those are already fitted).
                let whose = format!("{} evaluation {}", cfg.source.system, ev.evaluation_id);
                let mut questions_only = genesys::models::ScoringSet {
                    question_group_scores: std::mem::take(&mut answers.question_group_scores),
                    ..Default::default()
                };
                let cut = crate::pipeline::forms::comments::fit_answers(
                    &mut questions_only,
                    crate::pipeline::forms::comments::Limits::of(&cfg.form),
                    &whose,
                );
                answers.question_group_scores = questions_only.question_group_scores;
                // The container's section comments are not on the mirror; its overall and
                // private comments are.
                p.row.comments_shortened = i64::from(
                    container
                        .comments
                        .as_deref()
                        .is_some_and(|c| c.contains(&whose)),
                ) + i64::try_from(cut).unwrap_or(0);
                p.row.answers = serde_json::to_string(&answers).ok();
                p.row.predicted = Some(predicted);
                p.row.form_name = Some(m.definition.name.clone());
                p.notes.push(format!(
                    "mirrored on '{}' question by question",
                    m.definition.name
                ));
                return;
            }
            crate::mirror::Mirrored::Fallback(why) => {
                format!("container form, not mirrored: {why}")
            }
        },
    };
    p.notes.push(why);
}

pub(super) fn trim_num(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        format!("{v}")
    }
}
