//! `sample`: a deterministic (seeded), realistic synthetic Calabrio dataset and a consistent Genesys
//! emulator fixture.
//!
//! It writes the same evaluations as a wide CSV export and as JSON Lines, a recording-migration
//! mapping CSV, the emulator fixture (users in every state, conversations with participants, an OAuth
//! client), a ready `qm-migrate.toml`, and `sample-manifest.json`: every planted edge case with the
//! line it stands on and the disposition and reason the planner must give it — the truth the tests
//! check the planner against.
//!
//! Planted: agents inactive, deleted or never given a Genesys account; an agent only the user name
//! identifies; an agent whose e-mail matches two Genesys users (a rehire); missing, unknown and
//! inactive evaluators; a missing evaluation date with a created date; calibrations; evaluations in
//! progress; exact and changed duplicates; KPI failures (and one inconsistent KPI flag); a score off
//! its scale; contacts linked by conversation id, by the mapping file, not at all, to a conversation
//! Genesys no longer has, and to one the agent did not take part in; comments with commas, quotes,
//! newlines and non-ASCII text; and a few malformed rows in each format.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use emulator::{Fixture, FixtureConversation, FixtureParticipant, FixtureUser, OAuthClient};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::fsutil::write_private;

mod formats;

/// The client id of the sample's OAuth client.
pub const DEMO_CLIENT_ID: &str = "qm-migrate-demo";

/// One planted edge case.
#[derive(Debug, Clone, Serialize, serde::Deserialize)]
pub struct Case {
    /// What it is.
    pub case: String,
    /// Evaluation id as written.
    pub evaluation_id: String,
    /// Line in the CSV export, when present there.
    pub csv_line: Option<u64>,
    /// Line in the JSON Lines export, when present there.
    pub jsonl_line: Option<u64>,
    /// Expected disposition.
    pub disposition: String,
    /// Text the reason must contain.
    pub reason_contains: String,
}

/// What `sample` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct SampleSummary {
    /// Output folder.
    pub out: PathBuf,
    /// Evaluations generated (before duplicates and malformed rows).
    pub evaluations: usize,
    /// CSV records (rows).
    pub csv_records: u64,
    /// JSON Lines records.
    pub jsonl_records: u64,
    /// Genesys users in the fixture.
    pub users: usize,
    /// Conversations in the fixture.
    pub conversations: usize,
    /// Planted edge cases.
    pub cases: usize,
}

struct Agent {
    person_id: u32,
    name: String,
    email: String,
    username: String,
    windows: String,
    employee_id: Option<String>,
    acd_id: Option<String>,
    genesys: Option<String>,
    linkable_count: usize,
}

struct FormSpec {
    id: &'static str,
    name: &'static str,
    scoring: &'static str,
    max: f64,
    sections: &'static [(&'static str, f64)],
}

const FORMS: &[FormSpec] = &[
    FormSpec {
        id: "12",
        name: "Inbound Support v3",
        scoring: "percentage",
        max: 100.0,
        sections: &[
            ("Opening", 20.0),
            ("Discovery", 30.0),
            ("Resolution", 40.0),
            ("Compliance", 10.0),
        ],
    },
    FormSpec {
        id: "21",
        name: "Sales Call (1-5)",
        scoring: "points",
        max: 5.0,
        sections: &[
            ("Greeting", 1.0),
            ("Needs Analysis", 1.0),
            ("Offer", 1.0),
            ("Close", 1.0),
            ("Compliance", 1.0),
            ("Soft Skills", 1.0),
        ],
    },
    FormSpec {
        id: "33",
        name: "Collections QA",
        scoring: "percentage",
        max: 100.0,
        sections: &[("Verification", 50.0), ("Negotiation", 50.0)],
    },
    FormSpec {
        id: "40",
        name: "Chat Quality",
        scoring: "percentage",
        max: 100.0,
        sections: &[("Tone", 30.0), ("Accuracy", 40.0), ("Resolution", 30.0)],
    },
];

/// One answer option of a sample form question.
pub(crate) struct OptM {
    pub(crate) id: String,
    pub(crate) label: String,
    pub(crate) points: f64,
    pub(crate) na: bool,
}

/// A question of a sample form.
pub(crate) struct QuestionM {
    pub(crate) id: String,
    pub(crate) text: String,
    pub(crate) options: Vec<OptM>,
}

/// A section of a sample form.
pub(crate) struct SectionM {
    pub(crate) id: String,
    pub(crate) name: &'static str,
    pub(crate) weight: f64,
    pub(crate) questions: Vec<QuestionM>,
}

/// A sample form with its questions and options (what `recording/evalform` serves).
pub(crate) struct FormM {
    pub(crate) id: &'static str,
    pub(crate) name: &'static str,
    pub(crate) scoring: &'static str,
    pub(crate) sections: Vec<SectionM>,
}

/// The forms of [`FORMS`] with questions: percentage forms have two questions per section worth
/// 0–50 points each (with an N/A option), the 1–5 form one question per section worth 1–5.
pub(crate) fn form_models() -> Vec<FormM> {
    FORMS
        .iter()
        .map(|f| FormM {
            id: f.id,
            name: f.name,
            scoring: f.scoring,
            sections: f
                .sections
                .iter()
                .enumerate()
                .map(|(si, (name, weight))| {
                    let sid = format!("{}{}", f.id, si + 1);
                    let texts: Vec<String> = if f.max == 5.0 {
                        vec![format!("{name}: overall rating")]
                    } else {
                        vec![
                            format!("{name}: followed the standard?"),
                            format!("{name}: done with care?"),
                        ]
                    };
                    let questions = texts
                        .into_iter()
                        .enumerate()
                        .map(|(qi, text)| {
                            let qid = format!("{sid}{}", qi + 1);
                            let options: Vec<(&str, f64, bool)> = if f.max == 5.0 {
                                vec![
                                    ("1", 1.0, false),
                                    ("2", 2.0, false),
                                    ("3", 3.0, false),
                                    ("4", 4.0, false),
                                    ("5", 5.0, false),
                                ]
                            } else {
                                vec![
                                    ("Exceeds", 50.0, false),
                                    ("Meets", 40.0, false),
                                    ("Partly", 30.0, false),
                                    ("Below", 15.0, false),
                                    ("No", 0.0, false),
                                    ("N/A", 0.0, true),
                                ]
                            };
                            QuestionM {
                                id: qid.clone(),
                                text,
                                options: options
                                    .into_iter()
                                    .enumerate()
                                    .map(|(oi, (label, points, na))| OptM {
                                        id: format!("{qid}{}", oi + 1),
                                        label: label.into(),
                                        points,
                                        na,
                                    })
                                    .collect(),
                            }
                        })
                        .collect();
                    SectionM {
                        id: sid,
                        name,
                        weight: *weight,
                        questions,
                    }
                })
                .collect(),
        })
        .collect()
}

/// Section (name, score, max) of `answers` on `form`: points of the applicable answers over the
/// most their questions could earn.
fn section_scores_of(form: &FormM, answers: &[Vec<usize>]) -> Vec<(String, String, String)> {
    form.sections
        .iter()
        .zip(answers)
        .filter_map(|(s, picks)| {
            let mut score = 0.0;
            let mut max = 0.0;
            for (q, &o) in s.questions.iter().zip(picks) {
                let opt = &q.options[o];
                if !opt.na {
                    score += opt.points;
                    max += q
                        .options
                        .iter()
                        .filter(|x| !x.na)
                        .map(|x| x.points)
                        .fold(0.0, f64::max);
                }
            }
            (max > 0.0).then(|| (s.name.to_owned(), fmt_num(score), fmt_num(max)))
        })
        .collect()
}

const FIRST: &[&str] = &[
    "Jane",
    "José",
    "Zoë",
    "Łukasz",
    "Søren",
    "Amélie",
    "Chen",
    "Priya",
    "Oluwaseun",
    "Mark",
    "Fatima",
    "Björn",
    "Ana",
    "Kenji",
    "Noor",
    "Liam",
    "Chiara",
    "Dmitri",
    "Aisha",
    "Tomás",
];
const LAST: &[&str] = &[
    "Doe",
    "García",
    "Müller",
    "Nowak",
    "Ødegård",
    "Lefèvre",
    "Wang",
    "Patel",
    "Adeyemi",
    "O'Brien",
    "Haddad",
    "Lindqvist",
    "Silva",
    "Tanaka",
    "Khan",
    "Murphy",
    "Rossi",
    "Ivanov",
    "Bello",
    "Núñez",
];
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

fn ascii_fold(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'á' | 'à' | 'â' | 'ä' => 'a',
            'ó' | 'ö' | 'ô' => 'o',
            'ú' | 'ü' => 'u',
            'í' => 'i',
            'ñ' => 'n',
            'ø' | 'Ø' => 'o',
            'ł' | 'Ł' => 'l',
            'Z' => 'z',
            c => c,
        })
        .filter(|c| c.is_ascii_alphanumeric())
        .collect::<String>()
        .to_lowercase()
}

fn uuid(rng: &mut ChaCha8Rng) -> String {
    let bytes: [u8; 16] = rng.random();
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .to_string()
}

fn iso(ts: jiff::Timestamp) -> String {
    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[derive(Default, Clone)]
struct Row {
    evaluation_id: String,
    contact_id: String,
    assoc_call_id: String,
    contact_start: String,
    form: usize,
    kind: String,
    state: String,
    evaluated_at: String,
    created_at: String,
    total: String,
    raw_additive: String,
    kpi_failed: String,
    agent: usize,
    agent_email_override: Option<String>,
    evaluator: Option<usize>,
    comment: String,
    sections: Vec<(String, String, String)>,
    /// Per section, per question: the chosen option's index.
    answers: Vec<Vec<usize>>,
}

/// Writes the dataset into `out`.
///
/// # Errors
/// I/O errors.
pub fn generate(n: usize, seed: u64, out: &Path) -> Result<SampleSummary> {
    generate_with(n, seed, out, true)
}

/// The Calabrio API user of the sample's API dataset.
pub const DEMO_CALABRIO_USER: &str = "qm-migrate-api";

/// Writes the dataset into `out`; `all_formats = false` writes only the wide CSV and JSON Lines
/// (benchmarks), not the long CSV, the tables directory and the Calabrio API dataset.
///
/// # Errors
/// I/O errors.
pub fn generate_with(n: usize, seed: u64, out: &Path, all_formats: bool) -> Result<SampleSummary> {
    std::fs::create_dir_all(out).with_context(|| format!("cannot create {}", out.display()))?;
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let n = n.max(60);
    let models = form_models();

    // People.
    let agent_count = (n / 25).max(24);
    let mut agents: Vec<Agent> = (0..agent_count)
        .map(|i| {
            let first = FIRST[i % FIRST.len()];
            let last = LAST[(i * 7 + i / FIRST.len()) % LAST.len()];
            let email = format!(
                "{}.{}{}@example.com",
                ascii_fold(first),
                ascii_fold(last),
                i
            );
            Agent {
                person_id: 1000 + i as u32,
                name: format!("{first} {last}"),
                username: email.clone(),
                windows: format!("CORP\\{}{}", ascii_fold(first), i),
                email,
                employee_id: None,
                acd_id: None,
                genesys: None,
                linkable_count: 0,
            }
        })
        .collect();
    let mut users: Vec<FixtureUser> = Vec::new();
    for (i, a) in agents.iter_mut().enumerate() {
        let state = match i {
            0 => Some("inactive"),
            1 => Some("deleted"),
            2 | 3 => None,
            _ => Some("active"),
        };
        if let Some(state) = state {
            let id = uuid(&mut rng);
            let (email, username) = if i == 4 {
                // Genesys has another e-mail; only the user name matches Calabrio's.
                ("agent4.new@corp.example.com".to_owned(), a.username.clone())
            } else {
                (a.email.clone(), a.email.clone())
            };
            users.push(FixtureUser {
                id: id.clone(),
                name: a.name.clone(),
                email: Some(email),
                username: Some(username),
                state: state.into(),
                employee_id: None,
                quality_evaluator: false,
            });
            a.genesys = Some(id);
        }
        if i == 4 {
            a.email = format!("{}@legacy.example.com", ascii_fold(&a.name));
        }
    }
    // Agent 5 was rehired: a deleted and an active account share the e-mail.
    let rehire = agents[5].email.clone();
    users.push(FixtureUser {
        id: uuid(&mut rng),
        name: agents[5].name.clone(),
        email: Some(rehire.clone()),
        username: Some(format!("old.{rehire}")),
        state: "deleted".into(),
        employee_id: None,
        quality_evaluator: false,
    });

    // People only one key identifies, and the traps of reference/calabrio.md §5: an AD login, an
    // employee id, the people-mapping file (one of them a merged user), two holders of one
    // repurposed ACD id (never a key), and an AD login two Genesys users share.
    let special = agents.len();
    let mut people_map: Vec<(String, String)> = Vec::new();
    {
        let mut person =
            |name: &str, email: &str, windows: &str, employee: Option<&str>, acd: Option<&str>| {
                agents.push(Agent {
                    person_id: 3001 + u32::try_from(agents.len() - special).unwrap_or(0),
                    name: name.into(),
                    email: email.into(),
                    username: email.into(),
                    windows: windows.into(),
                    employee_id: employee.map(str::to_owned),
                    acd_id: acd.map(str::to_owned),
                    genesys: None,
                    linkable_count: 0,
                });
                agents.len() - 1
            };
        let ad = person(
            "Ada Login",
            "ada.login@legacy.example.com",
            "CORP\\ada.login",
            None,
            None,
        );
        let emp = person(
            "Emil Ployee",
            "emil@legacy.example.com",
            "CORP\\emil.p",
            Some("E-7731"),
            None,
        );
        let mapped = person(
            "Mapa Person",
            "mapa@legacy.example.com",
            "CORP\\mapa.x",
            None,
            None,
        );
        let merged = person(
            "Old Account",
            "old.account@legacy.example.com",
            "CORP\\old.account",
            None,
            None,
        );
        let acd1 = person(
            "Acd First",
            "acd.first@example.com",
            "CORP\\acd.first",
            None,
            Some("4711"),
        );
        let acd2 = person(
            "Acd Second",
            "acd.second@example.com",
            "CORP\\acd.second",
            None,
            Some("4711"),
        );
        let _twin = person(
            "Twin Login",
            "twin@legacy.example.com",
            "CORP\\twin",
            None,
            None,
        );
        let mut genesys_user = |name: &str, email: &str, employee: Option<&str>| {
            let id = uuid(&mut rng);
            users.push(FixtureUser {
                id: id.clone(),
                name: name.into(),
                email: Some(email.into()),
                username: Some(email.into()),
                state: "active".into(),
                employee_id: employee.map(str::to_owned),
                quality_evaluator: false,
            });
            id
        };
        agents[ad].genesys = Some(genesys_user("Ada Login", "ada.login@example.com", None));
        agents[emp].genesys = Some(genesys_user(
            "Emil Ployee",
            "e.ployee@example.com",
            Some("E-7731"),
        ));
        let g = genesys_user("Mapa Person", "m.person@example.com", None);
        people_map.push((agents[mapped].person_id.to_string(), g.clone()));
        agents[mapped].genesys = Some(g);
        let survivor = genesys_user("New Account", "new.account@example.com", None);
        people_map.push((
            agents[merged].person_id.to_string(),
            "new.account@example.com".into(),
        ));
        agents[merged].genesys = Some(survivor);
        agents[acd1].genesys = Some(genesys_user("Acd First", "acd.first@example.com", None));
        agents[acd2].genesys = Some(genesys_user("Acd Second", "acd.second@example.com", None));
        genesys_user("Twin A", "twin@a.example.com", None);
        genesys_user("Twin B", "twin@b.example.com", None);
    }

    let evaluator_count = 10;
    let mut evaluators: Vec<(String, String, Option<String>)> = Vec::new();
    for i in 0..evaluator_count {
        let name = format!(
            "{} {}",
            FIRST[(i * 3 + 5) % FIRST.len()],
            LAST[(i * 5 + 3) % LAST.len()]
        );
        let email = format!("qa.{}{}@example.com", ascii_fold(&name), i);
        let gid = match i {
            0 => None,
            _ => {
                let id = uuid(&mut rng);
                users.push(FixtureUser {
                    id: id.clone(),
                    name: name.clone(),
                    email: Some(email.clone()),
                    username: Some(email.clone()),
                    state: if i == 1 {
                        "inactive".into()
                    } else {
                        "active".into()
                    },
                    employee_id: None,
                    quality_evaluator: true,
                });
                Some(id)
            }
        };
        evaluators.push((name, email, gid));
    }
    users.push(FixtureUser {
        id: uuid(&mut rng),
        name: "Migration Admin".into(),
        email: Some("migration_admin@example.com".into()),
        username: Some("migration_admin@example.com".into()),
        state: "active".into(),
        employee_id: None,
        quality_evaluator: true,
    });
    for i in 0..25 {
        users.push(FixtureUser {
            id: uuid(&mut rng),
            name: format!("Supervisor {i}"),
            email: Some(format!("supervisor{i}@example.com")),
            username: Some(format!("supervisor{i}@example.com")),
            state: if i % 7 == 6 {
                "inactive".into()
            } else {
                "active".into()
            },
            employee_id: None,
            quality_evaluator: true,
        });
    }

    // Evaluations.
    let start_range = (
        "2021-01-04T00:00:00Z"
            .parse::<jiff::Timestamp>()?
            .as_second(),
        "2026-10-30T00:00:00Z"
            .parse::<jiff::Timestamp>()?
            .as_second(),
    );
    let mut rows: Vec<Row> = Vec::with_capacity(n + 20);
    let mut conversations: Vec<FixtureConversation> = Vec::new();
    let mut mapping: Vec<(String, String)> = Vec::new();
    let mut cases: Vec<Case> = Vec::new();
    let mut expect = |rows: &Vec<Row>, case: &str, disposition: &str, reason: &str| {
        cases.push(Case {
            case: case.into(),
            evaluation_id: rows
                .last()
                .map(|r| r.evaluation_id.clone())
                .unwrap_or_default(),
            csv_line: None,
            jsonl_line: None,
            disposition: disposition.into(),
            reason_contains: reason.into(),
        });
    };
    let fixed_agent = |i: usize| -> Option<usize> {
        match i {
            3 => Some(0),
            4 => Some(1),
            5 => Some(2),
            6 => Some(4),
            7 => Some(5),
            20 => Some(8),
            21 => Some(9),
            22 => Some(10),
            23..=29 => Some(special + i - 23),
            _ => None,
        }
    };
    for i in 0..n {
        let form_idx = rng.random_range(0..FORMS.len());
        let form = &FORMS[form_idx];
        let start = jiff::Timestamp::from_second(rng.random_range(start_range.0..start_range.1))?;
        let evaluated = start.checked_add(jiff::SignedDuration::from_secs(
            rng.random_range(3_600..259_200),
        ))?;
        let link_roll: u32 = rng.random_range(0..100);
        let linkable = link_roll < 75;
        let agent = match fixed_agent(i) {
            Some(a) => a,
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
        let conversation = uuid(&mut rng);
        let agent_gid = agents[agent].genesys.clone();
        let participants = |who: Option<String>| {
            vec![
                FixtureParticipant {
                    purpose: "customer".into(),
                    user_id: None,
                },
                FixtureParticipant {
                    purpose: "acd".into(),
                    user_id: None,
                },
                FixtureParticipant {
                    purpose: "agent".into(),
                    user_id: who,
                },
            ]
        };
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
                    .or(Some(uuid(&mut rng)));
                conversations.push(conv(&conversation, other));
            }
            _ => row.assoc_call_id = format!("cjp-{}", rng.random_range(100_000..999_999)),
        }
        // Deterministic edge cases by index.
        rows.push(row);
        let all = |form: usize, option: usize| -> Vec<Vec<usize>> {
            models[form]
                .sections
                .iter()
                .map(|s| vec![option; s.questions.len()])
                .collect()
        };
        let r = rows.last_mut().context("row")?;
        match i {
            0 => {
                r.kind = "calibration".into();
                expect(&rows, "calibration", "excluded", "calibration");
            }
            1 => {
                r.state = "In Progress".into();
                r.total = String::new();
                expect(&rows, "evaluation in progress", "excluded", "In Progress");
            }
            2 => {
                r.evaluator = None;
                force_link(r, &mut conversations, &mut mapping, &agents, start);
                expect(
                    &rows,
                    "missing evaluator",
                    "evaluation",
                    "default evaluator",
                );
            }
            3 => expect(&rows, "agent inactive in Genesys", "history", "inactive"),
            4 => expect(&rows, "agent deleted in Genesys", "history", "deleted"),
            5 => expect(
                &rows,
                "agent never given a Genesys account",
                "history",
                "no Genesys account",
            ),
            6 => {
                force_link(r, &mut conversations, &mut mapping, &agents, start);
                expect(
                    &rows,
                    "agent identified only by user name",
                    "evaluation",
                    "username=",
                );
            }
            7 => expect(
                &rows,
                "agent e-mail matches two Genesys users",
                "quarantined",
                "matches 2 Genesys users",
            ),
            8 => {
                r.evaluated_at = String::new();
                r.created_at = iso(evaluated);
                force_link(r, &mut conversations, &mut mapping, &agents, start);
                expect(
                    &rows,
                    "missing evaluation date, created date present",
                    "evaluation",
                    "created date",
                );
            }
            9 => {
                r.evaluator = Some(0);
                force_link(r, &mut conversations, &mut mapping, &agents, start);
                expect(
                    &rows,
                    "evaluator without a Genesys account",
                    "evaluation",
                    "default evaluator",
                );
            }
            10 => {
                r.evaluator = Some(1);
                force_link(r, &mut conversations, &mut mapping, &agents, start);
                expect(
                    &rows,
                    "evaluator inactive in Genesys",
                    "evaluation",
                    "default evaluator",
                );
            }
            11 => {
                r.form = 0;
                r.answers = all(0, 1);
                r.sections = section_scores_of(&models[0], &r.answers);
                r.total = "0".into();
                r.raw_additive = "85".into();
                force_link(r, &mut conversations, &mut mapping, &agents, start);
                expect(
                    &rows,
                    "KPI failure (total 0, additive 85)",
                    "evaluation",
                    "KPI failed",
                );
            }
            12 => {
                r.form = 0;
                r.answers = all(0, 1);
                r.sections = section_scores_of(&models[0], &r.answers);
                r.total = "80".into();
                r.kpi_failed = "true".into();
                force_link(r, &mut conversations, &mut mapping, &agents, start);
                expect(
                    &rows,
                    "KPI flag contradicts a non-zero total",
                    "quarantined",
                    "disagree",
                );
            }
            13 => {
                r.form = 1;
                r.answers = all(1, 4);
                r.sections = section_scores_of(&models[1], &r.answers);
                r.total = "6.5".into();
                expect(
                    &rows,
                    "score above its 1-5 scale",
                    "quarantined",
                    "outside the scale",
                );
            }
            14 => {
                unlink(r, &mut conversations, &mut mapping);
                expect(
                    &rows,
                    "contact without any Genesys conversation",
                    "history",
                    "no Genesys conversation",
                );
            }
            15 => {
                let ghost = uuid(&mut rng);
                mapping.retain(|(c, _)| *c != r.contact_id);
                rows.last_mut().context("row")?.assoc_call_id = ghost;
                expect(
                    &rows,
                    "conversation no longer in Genesys",
                    "history",
                    "does not exist in Genesys",
                );
            }
            16 => {
                let id = uuid(&mut rng);
                let r = rows.last_mut().context("row")?;
                let other = agents[if r.agent == 8 { 9 } else { 8 }].genesys.clone();
                mapping.retain(|(c, _)| *c != r.contact_id);
                r.assoc_call_id = id.clone();
                conversations.push(FixtureConversation {
                    conversation_id: id,
                    start,
                    end: start,
                    participants: vec![FixtureParticipant {
                        purpose: "agent".into(),
                        user_id: other,
                    }],
                });
                expect(
                    &rows,
                    "agent not a participant of the conversation",
                    "history",
                    "did not take part",
                );
            }
            17 => {
                let r = rows.last_mut().context("row")?;
                r.assoc_call_id = String::new();
                let conv = uuid(&mut rng);
                mapping.retain(|(c, _)| *c != r.contact_id);
                mapping.push((r.contact_id.clone(), conv.clone()));
                conversations.push(FixtureConversation {
                    conversation_id: conv,
                    start,
                    end: start,
                    participants: participants(agents[r.agent].genesys.clone()),
                });
                expect(
                    &rows,
                    "linked by the recording-migration mapping file",
                    "evaluation",
                    "by mapping",
                );
            }
            18 => {
                force_link(
                    rows.last_mut().context("row")?,
                    &mut conversations,
                    &mut mapping,
                    &agents,
                    start,
                );
                let dup = rows.last().cloned().context("row")?;
                rows.push(dup);
                expect(
                    &rows,
                    "exact duplicate row (the earlier copy wins)",
                    "evaluation",
                    "linked",
                );
                expect(
                    &rows,
                    "exact duplicate row (the later copy)",
                    "excluded",
                    "superseded",
                );
            }
            19 => {
                force_link(
                    rows.last_mut().context("row")?,
                    &mut conversations,
                    &mut mapping,
                    &agents,
                    start,
                );
                let mut newer = rows.last().cloned().context("row")?;
                newer.evaluated_at =
                    iso(evaluated.checked_add(jiff::SignedDuration::from_hours(30))?);
                newer.comment = "Re-scored after calibration session.".into();
                rows.push(newer);
                expect(
                    &rows,
                    "changed duplicate: the re-scored version wins",
                    "evaluation",
                    "linked",
                );
            }
            20..=22 => {
                // Only `match` can link these: no conversation id, no mapping row, and the agent's
                // conversation starts 45 s after the contact (20), 150 s after it (21, outside
                // the 120 s tolerance), or twice within it (22).
                let r = rows.last_mut().context("row")?;
                unlink(r, &mut conversations, &mut mapping);
                let who = agents[r.agent].genesys.clone();
                let offsets: &[i64] = match i {
                    20 => &[45],
                    21 => &[150],
                    _ => &[30, -60],
                };
                for off in offsets {
                    let at = start.checked_add(jiff::SignedDuration::from_secs(*off))?;
                    conversations.push(FixtureConversation {
                        conversation_id: uuid(&mut rng),
                        start: at,
                        end: at.checked_add(jiff::SignedDuration::from_secs(300))?,
                        participants: participants(who.clone()),
                    });
                }
                match i {
                    20 => expect(
                        &rows,
                        "linked only by match (conversation 45 s after the contact)",
                        "evaluation",
                        "by match (+45 s",
                    ),
                    21 => expect(
                        &rows,
                        "match near miss: the only conversation starts 150 s after the contact",
                        "history",
                        "started +150 s from it",
                    ),
                    _ => expect(
                        &rows,
                        "match ambiguous: two conversations within the tolerance",
                        "history",
                        "2 conversations of agent",
                    ),
                }
            }
            23..=28 => {
                force_link(
                    rows.last_mut().context("row")?,
                    &mut conversations,
                    &mut mapping,
                    &agents,
                    start,
                );
                match i {
                    23 => expect(
                        &rows,
                        "agent identified only by the AD login",
                        "evaluation",
                        "windows_login=CORP\\ada.login",
                    ),
                    24 => expect(
                        &rows,
                        "agent identified only by the employee id",
                        "evaluation",
                        "employee_id=E-7731",
                    ),
                    25 => expect(
                        &rows,
                        "agent identified only by the people-mapping file",
                        "evaluation",
                        "mapping file: 3003",
                    ),
                    26 => expect(
                        &rows,
                        "merged user: the old Calabrio person maps to the surviving account",
                        "evaluation",
                        "mapping file: 3004",
                    ),
                    27 => expect(
                        &rows,
                        "repurposed ACD id 4711, first holder (ACD id is never a key)",
                        "evaluation",
                        "email=acd.first@example.com",
                    ),
                    _ => expect(
                        &rows,
                        "repurposed ACD id 4711, second holder",
                        "evaluation",
                        "email=acd.second@example.com",
                    ),
                }
            }
            29 => expect(
                &rows,
                "AD login shared by two Genesys users",
                "quarantined",
                "matches 2 Genesys users",
            ),
            _ => {}
        }
    }

    // Serialise CSV.
    let section_names: Vec<&str> = {
        let mut v: Vec<&str> = Vec::new();
        for f in FORMS {
            for (s, _) in f.sections {
                if !v.contains(s) {
                    v.push(s);
                }
            }
        }
        v
    };
    let question_columns: Vec<(&str, &str)> = {
        let mut v: Vec<(&str, &str)> = Vec::new();
        for f in &models {
            for s in &f.sections {
                for q in &s.questions {
                    if !v.contains(&(s.name, q.text.as_str())) {
                        v.push((s.name, q.text.as_str()));
                    }
                }
            }
        }
        v
    };
    let mut header: Vec<String> = formats::EVALUATION_COLUMNS
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    for s in &section_names {
        header.push(format!("section:{s}:score"));
        header.push(format!("section:{s}:max"));
    }
    for (s, q) in &question_columns {
        header.push(format!("q:{s}:{q}:answer"));
        header.push(format!("q:{s}:{q}:points"));
    }
    let view = formats::View {
        rows: &rows,
        agents: &agents,
        evaluators: &evaluators,
        models: &models,
    };
    let mut csv_w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    csv_w.write_record(&header)?;
    let mut jsonl = String::new();
    let mut csv_lines: Vec<u64> = Vec::new();
    let mut json_lines: Vec<u64> = Vec::new();
    let mut csv_line: u64 = 2;
    let mut json_line: u64 = 1;
    for r in &rows {
        let mut rec = view.evaluation_cells(r);
        for s in &section_names {
            match r.sections.iter().find(|(n, _, _)| n == s) {
                Some((_, v, m)) => {
                    rec.push(v.clone());
                    rec.push(m.clone());
                }
                None => {
                    rec.push(String::new());
                    rec.push(String::new());
                }
            }
        }
        let answered = view.answers(r);
        for (s, q) in &question_columns {
            match answered
                .iter()
                .find(|a| a.section.name == *s && a.question.text == *q)
            {
                Some(a) => {
                    rec.push(a.option.label.clone());
                    rec.push(if a.option.na {
                        String::new()
                    } else {
                        fmt_num(a.option.points)
                    });
                }
                None => {
                    rec.push(String::new());
                    rec.push(String::new());
                }
            }
        }
        csv_w.write_record(&rec)?;
        csv_lines.push(csv_line);
        csv_line += 1 + r.comment.matches('\n').count() as u64;

        jsonl.push_str(&serde_json::to_string(&view.canonical_json(r))?);
        jsonl.push('\n');
        json_lines.push(json_line);
        json_line += 1;
    }
    // Assign lines to the cases: by evaluation id, the last occurrence (the re-scored version of a
    // changed duplicate) unless the case names the earlier copy (of an exact duplicate, the one
    // kept: a record keeps its place however often the export repeats it).
    let mut seen_first: BTreeMap<String, usize> = BTreeMap::new();
    let mut seen_last: BTreeMap<String, usize> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        seen_first.entry(r.evaluation_id.clone()).or_insert(i);
        seen_last.insert(r.evaluation_id.clone(), i);
    }
    for c in &mut cases {
        let idx = if c.case.contains("earlier copy") {
            seen_first[&c.evaluation_id]
        } else {
            seen_last[&c.evaluation_id]
        };
        c.csv_line = Some(csv_lines[idx]);
        c.jsonl_line = Some(json_lines[idx]);
    }
    // The changed duplicate's older version.
    let changed_id = (80_000 + 19).to_string();
    if let Some(&idx) = seen_first.get(&changed_id) {
        cases.push(Case {
            case: "changed duplicate: the older version".into(),
            evaluation_id: changed_id,
            csv_line: Some(csv_lines[idx]),
            jsonl_line: Some(json_lines[idx]),
            disposition: "excluded".into(),
            reason_contains: "superseded".into(),
        });
    }

    // Malformed rows, one kind each.
    let mut csv_bytes = csv_w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?;
    let width = header.len();
    let pad = |fields: Vec<&str>| -> String {
        let mut v: Vec<String> = fields.iter().map(|s| (*s).to_owned()).collect();
        while v.len() < width {
            v.push(String::new());
        }
        v.join(",")
    };
    let bad_csv: Vec<(String, &str, &str, &str)> = vec![
        (
            pad(vec![
                "90001",
                "6900001",
                "",
                "CALL",
                "2024-02-01T10:00:00Z",
                "12",
                "Inbound Support v3",
                "percentage",
                "evaluation",
                "SCORED",
                "2024-02-02T10:00:00Z",
                "",
                "eighty<script>document.title='pwned'</script>",
                "",
                "",
                "1010",
                "x@example.com",
                "x@example.com",
            ]),
            "malformed: score is not a number",
            "quarantined",
            "total_score",
        ),
        (
            format!(
                "{},extra",
                pad(vec![
                    "90002",
                    "6900002",
                    "",
                    "CALL",
                    "2024-02-01T10:00:00Z",
                    "12",
                    "Inbound Support v3",
                    "percentage",
                    "evaluation",
                    "SCORED",
                    "2024-02-02T10:00:00Z",
                    "",
                    "80"
                ])
            ),
            "malformed: a stray comma adds a field",
            "quarantined",
            "fields but the header has",
        ),
        (
            pad(vec![
                "90003",
                "6900003",
                "",
                "CALL",
                "2024-02-01T10:00:00Z",
                "12",
                "Inbound Support v3",
                "percentage",
                "evaluation",
                "SCORED",
                "2023-02-30T10:00:00Z",
                "",
                "80",
                "",
                "",
                "1010",
                "x@example.com",
                "x@example.com",
            ]),
            "malformed: impossible date",
            "quarantined",
            "evaluated_at",
        ),
        (
            pad(vec![
                "90004",
                "6900004",
                "",
                "CALL",
                "2024-02-01T10:00:00Z",
                "12",
                "Inbound Support v3",
                "percentage",
                "evaluation",
                "SCORED",
                "2024-02-02T10:00:00Z",
                "",
                "80",
            ]),
            "malformed: no agent identifier",
            "quarantined",
            "agent",
        ),
    ];
    for (row, case, disp, reason) in bad_csv {
        csv_bytes.extend_from_slice(row.as_bytes());
        csv_bytes.extend_from_slice(b"\r\n");
        cases.push(Case {
            case: case.into(),
            evaluation_id: row.split(',').next().unwrap_or_default().to_owned(),
            csv_line: Some(csv_line),
            jsonl_line: None,
            disposition: disp.into(),
            reason_contains: reason.into(),
        });
        csv_line += 1;
    }
    let bad_json: Vec<(String, &str, &str)> = vec![
        (
            r#"{"evaluation_id":"91001","agent":{"email":"x@example.com"},"score":{"total":"high"}}"#.into(),
            "malformed JSON: score of the wrong type",
            "score.total",
        ),
        (
            r#"{"evaluation_id":91002,"agent":{"email":"x@example.com"},"score":{"total":80}}"#.into(),
            "malformed JSON: evaluation id of the wrong type",
            "evaluation_id",
        ),
        (
            r#"{"evaluation_id":"91003","agent":{"email":"x@exa"#.into(),
            "malformed JSON: truncated record",
            "EOF",
        ),
    ];
    for (text, case, reason) in bad_json {
        jsonl.push_str(&text);
        jsonl.push('\n');
        cases.push(Case {
            case: case.into(),
            evaluation_id: String::new(),
            csv_line: None,
            jsonl_line: Some(json_line),
            disposition: "quarantined".into(),
            reason_contains: reason.into(),
        });
        json_line += 1;
    }

    // Write everything.
    write_private(&out.join("calabrio-export.csv"), &csv_bytes)?;
    write_private(&out.join("calabrio-export.jsonl"), jsonl.as_bytes())?;
    drop((csv_bytes, jsonl));
    if all_formats {
        view.write_long(&out.join("calabrio-export-long.csv"))?;
        view.write_tables(&out.join("calabrio-tables"))?;
        let api_password: String = (0..24)
            .map(|_| format!("{:x}", rng.random_range(0..16u8)))
            .collect();
        let dataset = view.api_dataset(DEMO_CALABRIO_USER, &api_password);
        write_private(
            &out.join("calabrio-api.json"),
            serde_json::to_string(&dataset)?.as_bytes(),
        )?;
        write_private(&out.join("calabrio-api-password"), api_password.as_bytes())?;
    }
    let mut map_w = csv::Writer::from_writer(Vec::new());
    map_w.write_record(["contact_id", "conversation_id"])?;
    for (c, v) in &mapping {
        map_w.write_record([c, v])?;
    }
    let mut people_w = csv::Writer::from_writer(Vec::new());
    people_w.write_record(["calabrio", "genesys"])?;
    for (c, g) in &people_map {
        people_w.write_record([c, g])?;
    }
    write_private(
        &out.join("people-map.csv"),
        &people_w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?,
    )?;
    write_private(
        &out.join("recording-map.csv"),
        &map_w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))?,
    )?;
    // Noise: conversations nobody evaluated.
    for _ in 0..n / 10 {
        let start = jiff::Timestamp::from_second(rng.random_range(start_range.0..start_range.1))?;
        let who = agents[rng.random_range(0..agent_count)].genesys.clone();
        conversations.push(FixtureConversation {
            conversation_id: uuid(&mut rng),
            start,
            end: start.checked_add(jiff::SignedDuration::from_secs(300))?,
            participants: vec![
                FixtureParticipant {
                    purpose: "customer".into(),
                    user_id: None,
                },
                FixtureParticipant {
                    purpose: "agent".into(),
                    user_id: who,
                },
            ],
        });
    }
    let secret: String = (0..32)
        .map(|_| format!("{:x}", rng.random_range(0..16u8)))
        .collect();
    let fixture = Fixture {
        oauth_clients: vec![OAuthClient {
            client_id: DEMO_CLIENT_ID.into(),
            client_secret: secret.clone(),
            permissions: None,
        }],
        users: users.clone(),
        conversations: conversations.clone(),
    };
    write_private(
        &out.join("genesys-fixture.json"),
        serde_json::to_string_pretty(&fixture)?.as_bytes(),
    )?;
    write_private(&out.join("demo-client-secret"), secret.as_bytes())?;
    write_private(
        &out.join("sample-manifest.json"),
        serde_json::to_string_pretty(&cases)?.as_bytes(),
    )?;
    let sections_toml = section_names
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let config = format!(
        r#"# Written by `qm-migrate sample`: the synthetic dataset against the Genesys emulator.
# Start the emulator:  qm-migrate emulator genesys --listen 127.0.0.1:8080 --fixture genesys-fixture.json
# Credentials:         export GENESYS_CLIENT_ID={DEMO_CLIENT_ID} GENESYS_CLIENT_SECRET_FILE=demo-client-secret

[source]
kind = "csv"
path = "calabrio-export.csv"
system = "calabrio_one"

[scoring]
default = {{ method = "percent" }}
tolerance = 0.5

[scoring.forms]
"Sales Call (1-5)" = {{ method = "ratio", max = 5 }}

[form]
name = "Legacy Migration Form (Calabrio)"
score_step = 1.0
sections = [{sections_toml}]

[users]
match_keys = ["email", "username", "windows_login", "employee_id", "mapping"]
mapping_file = "people-map.csv"
default_evaluator = "migration_admin@example.com"

[link]
strategies = ["field", "mapping", "match"]
mapping_file = "recording-map.csv"

[genesys]
api_url = "http://127.0.0.1:8080"
requests_per_minute = 300

[history]
dir = "history"

[ledger]
path = "qm-migrate.db"
"#
    );
    write_private(&out.join("qm-migrate.toml"), config.as_bytes())?;
    Ok(SampleSummary {
        out: out.to_path_buf(),
        evaluations: n,
        csv_records: rows.len() as u64 + 4,
        jsonl_records: rows.len() as u64 + 3,
        users: users.len(),
        conversations: conversations.len(),
        cases: cases.len(),
    })
}

/// Takes away every way `r` could link: its conversation id, its mapping row, and the conversations
/// they named (which would otherwise start exactly at the contact and be found by `match`).
fn unlink(
    r: &mut Row,
    conversations: &mut Vec<FixtureConversation>,
    mapping: &mut Vec<(String, String)>,
) {
    let old = std::mem::take(&mut r.assoc_call_id);
    let mapped: Vec<String> = mapping
        .iter()
        .filter(|(c, _)| *c == r.contact_id)
        .map(|(_, v)| v.clone())
        .collect();
    mapping.retain(|(c, _)| *c != r.contact_id);
    conversations.retain(|c| c.conversation_id != old && !mapped.contains(&c.conversation_id));
}

/// Makes sure `r` links by its conversation id (for cases that must become evaluations).
fn force_link(
    r: &mut Row,
    conversations: &mut Vec<FixtureConversation>,
    mapping: &mut Vec<(String, String)>,
    agents: &[Agent],
    start: jiff::Timestamp,
) {
    mapping.retain(|(c, _)| *c != r.contact_id);
    let id = uuid::Uuid::new_v5(&qm_model::ids::NAMESPACE, r.contact_id.as_bytes()).to_string();
    r.assoc_call_id = id.clone();
    if !conversations.iter().any(|c| c.conversation_id == id) {
        conversations.push(FixtureConversation {
            conversation_id: id,
            start,
            end: start,
            participants: vec![
                FixtureParticipant {
                    purpose: "customer".into(),
                    user_id: None,
                },
                FixtureParticipant {
                    purpose: "agent".into(),
                    user_id: agents[r.agent].genesys.clone(),
                },
            ],
        });
    }
}

/// The total of `sections` on `form`: the weighted mean of the section percentages (percentage
/// forms) or the mean section score (the 1–5 form), to two decimals.
fn total_of(form: &FormSpec, sections: &[(String, String, String)]) -> f64 {
    let mut weighted = 0.0;
    let mut weights = 0.0;
    for (name, score, max) in sections {
        let w = form
            .sections
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0.0, |(_, w)| *w);
        let (score, max) = (
            score.parse::<f64>().unwrap_or(0.0),
            max.parse::<f64>().unwrap_or(1.0),
        );
        let value = if form.max == 5.0 {
            score
        } else {
            score / max * 100.0
        };
        weighted += value * w;
        weights += w;
    }
    if weights == 0.0 {
        return 0.0;
    }
    ((weighted / weights) * 100.0).round() / 100.0
}

fn fmt_num(v: f64) -> String {
    if (v - v.round()).abs() < 1e-9 {
        format!("{v:.0}")
    } else {
        let s = format!("{v:.2}");
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    }
}
