//! The planted edge cases: one row of [`CASES`] per case, each planted on the evaluation of its
//! index. A case names the person it is about (the agents `people` made for it), what it changes in
//! the evaluation and the fixture, and what the planner must decide: the disposition and a text
//! the reason must contain (written to `sample-manifest.json`, which the tests check the plan
//! against).
//!
//! The cases draw from the generator's random stream in index order, so a dataset stays the same
//! for a seed; add a case at the next free index.

use anyhow::{Context, Result};
use emulator::{FixtureConversation, FixtureParticipant};
use rand_chacha::ChaCha8Rng;

use super::{Agent, FormM, Row, direct, iso, participants, section_scores_of, uuid};

/// The person a case is about.
#[derive(Clone, Copy)]
pub(super) enum Person {
    /// One of the generated agents (by index), which `people` gave the trait the case needs.
    Agent(usize),
    /// One of the people only one key identifies (by order of creation in `people`).
    Special(usize),
}

/// One planted case.
pub(super) struct Planted {
    /// The index of the evaluation it is planted on.
    pub(super) index: usize,
    /// The person it is about, if the case is about a person.
    pub(super) person: Option<Person>,
    /// What it changes in the evaluation and the fixture.
    pub(super) plant: fn(&mut Scene<'_>) -> Result<()>,
    /// The manifest entries: (case, disposition, text the reason contains).
    pub(super) expect: &'static [(&'static str, &'static str, &'static str)],
}

/// What planting a case may change: the rows so far (the last is the case's), the fixture's
/// conversations, the recording map, and the random stream.
pub(super) struct Scene<'a> {
    pub(super) rows: &'a mut Vec<Row>,
    pub(super) conversations: &'a mut Vec<FixtureConversation>,
    pub(super) mapping: &'a mut Vec<(String, String)>,
    pub(super) agents: &'a [Agent],
    pub(super) models: &'a [FormM],
    pub(super) rng: &'a mut ChaCha8Rng,
    /// The contact start and the evaluation time of the case's evaluation.
    pub(super) start: jiff::Timestamp,
    pub(super) evaluated: jiff::Timestamp,
}

impl Scene<'_> {
    /// The case's row.
    fn row(&mut self) -> Result<&mut Row> {
        self.rows.last_mut().context("row")
    }

    /// Every question of `form` answered with option `option`, with the section scores they make.
    fn answer_all(&mut self, form: usize, option: usize) -> Result<()> {
        let answers: Vec<Vec<usize>> = self.models[form]
            .sections
            .iter()
            .map(|s| vec![option; s.questions.len()])
            .collect();
        let sections = section_scores_of(&self.models[form], &answers);
        let r = self.row()?;
        r.form = form;
        r.answers = answers;
        r.sections = sections;
        Ok(())
    }

    /// Takes away every way the row could link: its conversation id, its mapping row, and the
    /// conversations they named (which would otherwise start exactly at the contact and be found
    /// by `match`).
    fn unlink(&mut self) -> Result<()> {
        let r = self.rows.last_mut().context("row")?;
        let old = std::mem::take(&mut r.assoc_call_id);
        let mapped: Vec<String> = self
            .mapping
            .iter()
            .filter(|(c, _)| *c == r.contact_id)
            .map(|(_, v)| v.clone())
            .collect();
        self.mapping.retain(|(c, _)| *c != r.contact_id);
        self.conversations
            .retain(|c| c.conversation_id != old && !mapped.contains(&c.conversation_id));
        Ok(())
    }

    /// Makes sure the row links by its conversation id (for cases that must become evaluations).
    fn force_link(&mut self) -> Result<()> {
        let r = self.rows.last_mut().context("row")?;
        self.mapping.retain(|(c, _)| *c != r.contact_id);
        let id = uuid::Uuid::new_v5(&qm_model::ids::NAMESPACE, r.contact_id.as_bytes()).to_string();
        r.assoc_call_id = id.clone();
        if !self.conversations.iter().any(|c| c.conversation_id == id) {
            self.conversations.push(FixtureConversation {
                conversation_id: id,
                start: self.start,
                end: self.start,
                participants: direct(self.agents[r.agent].genesys.clone()),
            });
        }
        Ok(())
    }

    /// Only `match` can link the row: no conversation id, no mapping row, and a conversation of
    /// its agent starting at each of `offsets` (seconds) from the contact.
    fn match_only(&mut self, offsets: &[i64]) -> Result<()> {
        self.unlink()?;
        // Within Genesys' analytics search window (five years back) for years to come: an older
        // contact is moved on by whole years (no random draw, so the rest of the dataset stays).
        let recent: jiff::Timestamp = "2025-01-01T00:00:00Z".parse()?;
        while self.start < recent {
            self.start = self
                .start
                .checked_add(jiff::SignedDuration::from_hours(24 * 365))?;
            self.evaluated = self
                .evaluated
                .checked_add(jiff::SignedDuration::from_hours(24 * 365))?;
        }
        let (start, evaluated) = (iso(self.start), iso(self.evaluated));
        let r = self.row()?;
        r.contact_start = start;
        r.evaluated_at = evaluated;
        let who = self.agents[self.row()?.agent].genesys.clone();
        for off in offsets {
            let at = self
                .start
                .checked_add(jiff::SignedDuration::from_secs(*off))?;
            let conversation_id = uuid(self.rng);
            self.conversations.push(FixtureConversation {
                conversation_id,
                start: at,
                end: at.checked_add(jiff::SignedDuration::from_secs(300))?,
                participants: participants(who.clone()),
            });
        }
        Ok(())
    }

    /// The row's copy appended after it, changed by `change`.
    fn repeat(
        &mut self,
        change: impl FnOnce(&mut Row, jiff::Timestamp) -> Result<()>,
    ) -> Result<()> {
        let mut copy = self.rows.last().cloned().context("row")?;
        change(&mut copy, self.evaluated)?;
        self.rows.push(copy);
        Ok(())
    }
}

/// A case that changes nothing: its person makes it.
fn as_generated(_: &mut Scene<'_>) -> Result<()> {
    Ok(())
}

/// A case that must become an evaluation: it links by conversation id.
fn linked(s: &mut Scene<'_>) -> Result<()> {
    s.force_link()
}

/// The planted cases, by index.
pub(super) static CASES: &[Planted] = &[
    Planted {
        index: 0,
        person: None,
        plant: |s| {
            s.row()?.kind = "calibration".into();
            Ok(())
        },
        expect: &[("calibration", "excluded", "calibration")],
    },
    Planted {
        index: 1,
        person: None,
        plant: |s| {
            let r = s.row()?;
            r.state = "In Progress".into();
            r.total = String::new();
            Ok(())
        },
        expect: &[("evaluation in progress", "excluded", "In Progress")],
    },
    Planted {
        index: 2,
        person: None,
        plant: |s| {
            s.row()?.evaluator = None;
            s.force_link()
        },
        expect: &[("missing evaluator", "evaluation", "default evaluator")],
    },
    Planted {
        index: 3,
        person: Some(Person::Agent(0)),
        plant: as_generated,
        expect: &[("agent inactive in Genesys", "history", "inactive")],
    },
    Planted {
        index: 4,
        person: Some(Person::Agent(1)),
        plant: as_generated,
        expect: &[("agent deleted in Genesys", "history", "deleted")],
    },
    Planted {
        index: 5,
        person: Some(Person::Agent(2)),
        plant: as_generated,
        expect: &[(
            "agent never given a Genesys account",
            "history",
            "no Genesys account",
        )],
    },
    Planted {
        index: 6,
        person: Some(Person::Agent(4)),
        plant: linked,
        expect: &[(
            "agent identified only by user name",
            "evaluation",
            "username=",
        )],
    },
    Planted {
        index: 7,
        person: Some(Person::Agent(5)),
        plant: as_generated,
        expect: &[(
            "agent e-mail matches two Genesys users",
            "quarantined",
            "matches 2 Genesys users",
        )],
    },
    Planted {
        index: 8,
        person: None,
        plant: |s| {
            let evaluated = iso(s.evaluated);
            let r = s.row()?;
            r.evaluated_at = String::new();
            r.created_at = evaluated;
            s.force_link()
        },
        expect: &[(
            "missing evaluation date, created date present",
            "evaluation",
            "created date",
        )],
    },
    Planted {
        index: 9,
        person: None,
        plant: |s| {
            s.row()?.evaluator = Some(0);
            s.force_link()
        },
        expect: &[(
            "evaluator without a Genesys account",
            "evaluation",
            "default evaluator",
        )],
    },
    Planted {
        index: 10,
        person: None,
        plant: |s| {
            s.row()?.evaluator = Some(1);
            s.force_link()
        },
        expect: &[(
            "evaluator inactive in Genesys",
            "evaluation",
            "default evaluator",
        )],
    },
    Planted {
        index: 11,
        person: None,
        plant: |s| {
            s.answer_all(0, 1)?;
            let r = s.row()?;
            r.total = "0".into();
            r.raw_additive = "85".into();
            s.force_link()
        },
        expect: &[(
            "KPI failure (total 0, additive 85)",
            "evaluation",
            "KPI failed",
        )],
    },
    Planted {
        index: 12,
        person: None,
        plant: |s| {
            s.answer_all(0, 1)?;
            let r = s.row()?;
            r.total = "80".into();
            r.kpi_failed = "true".into();
            s.force_link()
        },
        expect: &[(
            "KPI flag contradicts a non-zero total",
            "quarantined",
            "disagree",
        )],
    },
    Planted {
        index: 13,
        person: None,
        plant: |s| {
            s.answer_all(1, 4)?;
            s.row()?.total = "6.5".into();
            Ok(())
        },
        expect: &[(
            "score above its 1-5 scale",
            "quarantined",
            "outside the scale",
        )],
    },
    Planted {
        index: 14,
        person: None,
        plant: |s| s.unlink(),
        expect: &[(
            "contact without any Genesys conversation",
            "history",
            "no Genesys conversation",
        )],
    },
    Planted {
        index: 15,
        person: None,
        plant: |s| {
            let ghost = uuid(s.rng);
            let contact = s.row()?.contact_id.clone();
            s.mapping.retain(|(c, _)| *c != contact);
            s.row()?.assoc_call_id = ghost;
            Ok(())
        },
        expect: &[(
            "conversation no longer in Genesys",
            "history",
            "does not exist in Genesys",
        )],
    },
    Planted {
        index: 16,
        person: None,
        plant: |s| {
            let id = uuid(s.rng);
            let agent = s.row()?.agent;
            let other = s.agents[if agent == 8 { 9 } else { 8 }].genesys.clone();
            let contact = s.row()?.contact_id.clone();
            s.mapping.retain(|(c, _)| *c != contact);
            s.row()?.assoc_call_id = id.clone();
            s.conversations.push(FixtureConversation {
                conversation_id: id,
                start: s.start,
                end: s.start,
                participants: vec![FixtureParticipant {
                    purpose: "agent".into(),
                    user_id: other,
                }],
            });
            Ok(())
        },
        expect: &[(
            "agent not a participant of the conversation",
            "history",
            "did not take part",
        )],
    },
    Planted {
        index: 17,
        person: None,
        plant: |s| {
            s.row()?.assoc_call_id = String::new();
            let conv = uuid(s.rng);
            let (contact, agent) = {
                let r = s.row()?;
                (r.contact_id.clone(), r.agent)
            };
            s.mapping.retain(|(c, _)| *c != contact);
            s.mapping.push((contact, conv.clone()));
            s.conversations.push(FixtureConversation {
                conversation_id: conv,
                start: s.start,
                end: s.start,
                participants: participants(s.agents[agent].genesys.clone()),
            });
            Ok(())
        },
        expect: &[(
            "linked by the recording-migration mapping file",
            "evaluation",
            "by mapping",
        )],
    },
    Planted {
        index: 18,
        person: None,
        plant: |s| {
            s.force_link()?;
            s.repeat(|_, _| Ok(()))
        },
        expect: &[
            (
                "exact duplicate row (the earlier copy wins)",
                "evaluation",
                "linked",
            ),
            (
                "exact duplicate row (the later copy)",
                "excluded",
                "superseded",
            ),
        ],
    },
    Planted {
        index: 19,
        person: None,
        plant: |s| {
            s.force_link()?;
            s.repeat(|newer, evaluated| {
                newer.evaluated_at =
                    iso(evaluated.checked_add(jiff::SignedDuration::from_hours(30))?);
                newer.comment = "Re-scored after calibration session.".into();
                Ok(())
            })
        },
        // The older version's entry is added once the lines are known (it is the first
        // occurrence of this evaluation id): see `CHANGED_DUPLICATE`.
        expect: &[(
            "changed duplicate: the re-scored version wins",
            "evaluation",
            "linked",
        )],
    },
    Planted {
        index: 20,
        person: Some(Person::Agent(8)),
        plant: |s| s.match_only(&[45]),
        expect: &[(
            "linked only by match (conversation 45 s after the contact)",
            "evaluation",
            "by match (+45 s",
        )],
    },
    Planted {
        index: 21,
        person: Some(Person::Agent(9)),
        // Outside the 120 s tolerance.
        plant: |s| s.match_only(&[150]),
        expect: &[(
            "match near miss: the only conversation starts 150 s after the contact",
            "history",
            "started +150 s from it",
        )],
    },
    Planted {
        index: 22,
        person: Some(Person::Agent(10)),
        plant: |s| s.match_only(&[30, -60]),
        expect: &[(
            "match ambiguous: two conversations within the tolerance",
            "history",
            "2 conversations of agent",
        )],
    },
    Planted {
        index: 23,
        person: Some(Person::Special(0)),
        plant: linked,
        expect: &[(
            "agent identified only by the AD login",
            "evaluation",
            "windows_login=CORP\\ada.login",
        )],
    },
    Planted {
        index: 24,
        person: Some(Person::Special(1)),
        plant: linked,
        expect: &[(
            "agent identified only by the employee id",
            "evaluation",
            "employee_id=E-7731",
        )],
    },
    Planted {
        index: 25,
        person: Some(Person::Special(2)),
        plant: linked,
        expect: &[(
            "agent identified only by the people-mapping file",
            "evaluation",
            "mapping file: 3003",
        )],
    },
    Planted {
        index: 26,
        person: Some(Person::Special(3)),
        plant: linked,
        expect: &[(
            "merged user: the old Calabrio person maps to the surviving account",
            "evaluation",
            "mapping file: 3004",
        )],
    },
    Planted {
        index: 27,
        person: Some(Person::Special(4)),
        plant: linked,
        expect: &[(
            "repurposed ACD id 4711, first holder (ACD id is never a key)",
            "evaluation",
            "email=acd.first@example.com",
        )],
    },
    Planted {
        index: 28,
        person: Some(Person::Special(5)),
        plant: linked,
        expect: &[(
            "repurposed ACD id 4711, second holder",
            "evaluation",
            "email=acd.second@example.com",
        )],
    },
    Planted {
        index: 29,
        person: Some(Person::Special(6)),
        plant: as_generated,
        expect: &[(
            "AD login shared by two Genesys users",
            "quarantined",
            "matches 2 Genesys users",
        )],
    },
];

/// The case planted on evaluation `index`, if any.
pub(super) fn at(index: usize) -> Option<&'static Planted> {
    CASES.get(index).filter(|c| c.index == index)
}

/// The index of the changed duplicate (case 19), whose older version is listed as superseded.
pub(super) const CHANGED_DUPLICATE: usize = 19;

#[cfg(test)]
mod tests {
    use super::{CASES, at};

    #[test]
    fn each_case_sits_at_its_index_and_says_what_the_plan_must_decide() {
        for (i, case) in CASES.iter().enumerate() {
            assert_eq!(
                case.index, i,
                "the case at position {i} says index {}",
                case.index
            );
            assert!(at(i).is_some_and(|c| std::ptr::eq(c, case)));
            assert!(!case.expect.is_empty(), "case {i} expects nothing");
            for (what, disposition, reason) in case.expect {
                assert!(
                    ["evaluation", "history", "excluded", "quarantined"].contains(disposition),
                    "case {i} ({what}): unknown disposition {disposition}"
                );
                assert!(!reason.is_empty(), "case {i} ({what}): no reason text");
            }
        }
        assert!(at(CASES.len()).is_none());
    }
}
