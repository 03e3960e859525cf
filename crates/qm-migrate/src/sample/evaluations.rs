//! The sample's evaluations: each with a form, answers and the scores they make, a contact, an
//! agent and an evaluator, linked to a Genesys conversation by its id, by the recording map, by
//! nothing, or wrongly, in realistic proportions; and the planted case of its index, if any.

use anyhow::Result;
use emulator::FixtureConversation;
use rand::RngExt;
use rand_chacha::ChaCha8Rng;

use super::{
    Case, FORMS, FormM, Row, cases, fmt_num, iso, participants, people::People, section_scores_of,
    total_of, uuid,
};

/// Evaluators' comments (commas, quotes, newlines and non-ASCII text included).
const COMMENTS: &[&str] = &[
    "Good empathy overall; clear next steps.",
    "Verified identity, then resolved the billing issue, quickly and politely.",
    "Customer said \"thank you so much\" twice — great rapport.",
    "Hold time too long (3 min).\nRemember to set expectations before a hold.",
    "Très bien : reformulation claire, ton chaleureux.",
    "Gut gemacht, aber die Zusammenfassung fehlte.",
    "Escalation handled per policy, see ticket #4411, then follow-up scheduled.",
    "素晴らしい対応でした。",
    "Missed the compliance disclosure; coached on 2023-05-02.",
    "Line 1, with a comma\nLine 2 \"quoted\"\nLine 3 ✓",
    "",
];

/// The evaluations of the sample, and what they put in the fixture and the recording map.
pub(super) struct Evaluations {
    pub(super) rows: Vec<Row>,
    pub(super) conversations: Vec<FixtureConversation>,
    /// The recording map: contact id → conversation id.
    pub(super) mapping: Vec<(String, String)>,
    /// The planted cases, lines not yet known.
    pub(super) manifest: Vec<Case>,
}

/// Contacts start between these (epoch seconds).
pub(super) fn start_range() -> Result<(i64, i64)> {
    Ok((
        "2021-01-04T00:00:00Z"
            .parse::<jiff::Timestamp>()?
            .as_second(),
        "2026-10-30T00:00:00Z"
            .parse::<jiff::Timestamp>()?
            .as_second(),
    ))
}

/// `n` evaluations of `people`'s agents.
pub(super) fn evaluations(
    n: usize,
    people: &mut People,
    models: &[FormM],
    rng: &mut ChaCha8Rng,
) -> Result<Evaluations> {
    let agent_count = people.generated;
    let evaluator_count = super::people::EVALUATORS;
    let agents = &mut people.agents;
    let start_range = start_range()?;
    let mut rows: Vec<Row> = Vec::with_capacity(n + 20);
    let mut conversations: Vec<FixtureConversation> = Vec::new();
    let mut mapping: Vec<(String, String)> = Vec::new();
    let mut manifest: Vec<Case> = Vec::new();
    for i in 0..n {
        let form_idx = rng.random_range(0..FORMS.len());
        let form = &FORMS[form_idx];
        let start = jiff::Timestamp::from_second(rng.random_range(start_range.0..start_range.1))?;
        let evaluated = start.checked_add(jiff::SignedDuration::from_secs(
            rng.random_range(3_600..259_200),
        ))?;
        let link_roll: u32 = rng.random_range(0..100);
        let linkable = link_roll < 75;
        let case = cases::at(i);
        let agent = match case.and_then(|c| c.person) {
            Some(cases::Person::Agent(a)) => a,
            Some(cases::Person::Special(k)) => agent_count + k,
            None => {
                let mut a = rng.random_range(6..agent_count);
                while linkable && agents[a].linkable_count >= 40 {
                    a = 6 + (a + 1 - 6) % (agent_count - 6);
                }
                a
            }
        };
        if linkable {
            agents[agent].linkable_count += 1;
        }
        let mut row = Row {
            evaluation_id: (80_000 + i).to_string(),
            contact_id: (6_000_000 + i).to_string(),
            contact_start: iso(start),
            form: form_idx,
            kind: "evaluation".into(),
            state: "SCORED".into(),
            evaluated_at: iso(evaluated),
            agent,
            evaluator: Some(rng.random_range(2..evaluator_count)),
            comment: COMMENTS[rng.random_range(0..COMMENTS.len())].into(),
            ..Row::default()
        };
        // Answers, and the section scores and total they make.
        let fm = &models[form_idx];
        row.answers = fm
            .sections
            .iter()
            .map(|sec| {
                sec.questions
                    .iter()
                    .enumerate()
                    .map(|(qi, q)| {
                        if q.options.len() == 6 && qi == 1 && rng.random_range(0..100) < 4 {
                            5
                        } else {
                            rng.random_range(0..5)
                        }
                    })
                    .collect()
            })
            .collect();
        row.sections = section_scores_of(fm, &row.answers);
        let total = total_of(form, &row.sections);
        row.total = fmt_num(total);
        row.raw_additive = fmt_num(total);
        // Links.
        let conversation = uuid(rng);
        let agent_gid = agents[agent].genesys.clone();
        let conv = |id: &str, who: Option<String>| FixtureConversation {
            conversation_id: id.to_owned(),
            start,
            end: start
                .checked_add(jiff::SignedDuration::from_secs(420))
                .unwrap_or(start),
            participants: participants(who),
        };
        match link_roll {
            0..55 => {
                row.assoc_call_id = conversation.clone();
                conversations.push(conv(&conversation, agent_gid.clone()));
            }
            55..75 => {
                mapping.push((row.contact_id.clone(), conversation.clone()));
                conversations.push(conv(&conversation, agent_gid.clone()));
            }
            75..92 => {}
            92..95 => row.assoc_call_id = conversation.clone(),
            95..97 => {
                row.assoc_call_id = conversation.clone();
                let other = agents[(agent + 1) % agent_count]
                    .genesys
                    .clone()
                    .or(Some(uuid(rng)));
                conversations.push(conv(&conversation, other));
            }
            _ => row.assoc_call_id = format!("cjp-{}", rng.random_range(100_000..999_999)),
        }
        rows.push(row);
        // The case planted on this evaluation.
        if let Some(case) = case {
            let evaluation_id = (80_000 + i).to_string();
            (case.plant)(&mut cases::Scene {
                rows: &mut rows,
                conversations: &mut conversations,
                mapping: &mut mapping,
                agents,
                models,
                rng,
                start,
                evaluated,
            })?;
            for (what, disposition, reason) in case.expect {
                manifest.push(Case {
                    case: (*what).into(),
                    evaluation_id: evaluation_id.clone(),
                    csv_line: None,
                    jsonl_line: None,
                    disposition: (*disposition).into(),
                    reason_contains: (*reason).into(),
                });
            }
        }
    }

    Ok(Evaluations {
        rows,
        conversations,
        mapping,
        manifest,
    })
}
