//! The sample's people: agents (some inactive, deleted, never given a Genesys account, known by
//! another e-mail, or rehired), the people only one key identifies and the traps of
//! `reference/calabrio.md` §5, evaluators (one without an account, one inactive), the migration
//! administrator and supervisors, and the Genesys users of the fixture.

use emulator::FixtureUser;
use rand_chacha::ChaCha8Rng;

use super::{Agent, ascii_fold, uuid};

/// The people of the sample.
pub(super) struct People {
    /// Calabrio agents: the generated ones first, then the people only one key identifies.
    pub(super) agents: Vec<Agent>,
    /// How many generated agents there are (the first ones in `agents`).
    pub(super) generated: usize,
    /// Genesys users (the fixture's).
    pub(super) users: Vec<FixtureUser>,
    /// The people-mapping file: Calabrio person id → Genesys user.
    pub(super) people_map: Vec<(String, String)>,
    /// Evaluators: name, e-mail and Genesys user id (none for the one without an account).
    pub(super) evaluators: Vec<(String, String, Option<String>)>,
}

/// Evaluators of the sample.
pub(super) const EVALUATORS: usize = 10;

/// The people of a sample of `n` evaluations.
pub(super) fn people(n: usize, rng: &mut ChaCha8Rng) -> People {
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
            let id = uuid(rng);
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
        id: uuid(rng),
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
            let id = uuid(rng);
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

    let evaluator_count = EVALUATORS;
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
                let id = uuid(rng);
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
        id: uuid(rng),
        name: "Migration Admin".into(),
        email: Some("migration_admin@example.com".into()),
        username: Some("migration_admin@example.com".into()),
        state: "active".into(),
        employee_id: None,
        quality_evaluator: true,
    });
    for i in 0..25 {
        users.push(FixtureUser {
            id: uuid(rng),
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

    People {
        agents,
        generated: agent_count,
        users,
        people_map,
        evaluators,
    }
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
