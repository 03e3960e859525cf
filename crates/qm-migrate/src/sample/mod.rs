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
//!
//! This file writes the dataset; `forms` holds the sample's forms, `people` its people,
//! `evaluations` the evaluations, `cases` the table of planted cases, `malformed` the broken
//! records, and `formats` every export shape the evaluations are written in.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use emulator::{Fixture, FixtureConversation, FixtureParticipant, OAuthClient};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::Serialize;

use crate::fsutil::write_private;

mod cases;
mod evaluations;
mod formats;
mod forms;
mod malformed;
mod people;

use forms::{FORMS, FormM, FormSpec, OptM, QuestionM, SectionM, form_models, section_scores_of};

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

/// The participants of a conversation `who` took as the agent: the customer, the queue, the agent.
fn participants(who: Option<String>) -> Vec<FixtureParticipant> {
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
}

/// The participants of a conversation that reached agent `who` directly: the customer, the agent.
fn direct(who: Option<String>) -> Vec<FixtureParticipant> {
    vec![
        FixtureParticipant {
            purpose: "customer".into(),
            user_id: None,
        },
        FixtureParticipant {
            purpose: "agent".into(),
            user_id: who,
        },
    ]
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

    let mut people = people::people(n, &mut rng);
    let evaluations::Evaluations {
        rows,
        mut conversations,
        mapping,
        mut manifest,
    } = evaluations::evaluations(n, &mut people, &models, &mut rng)?;
    let start_range = evaluations::start_range()?;
    let people::People {
        agents,
        generated: agent_count,
        users,
        people_map,
        evaluators,
    } = people;

    // The wide CSV and the JSON Lines exports.
    let view = formats::View {
        rows: &rows,
        agents: &agents,
        evaluators: &evaluators,
        models: &models,
    };
    let formats::Exports {
        csv: mut csv_bytes,
        width,
        csv_lines,
        next_csv_line: mut csv_line,
        mut jsonl,
        json_lines,
        next_json_line: mut json_line,
    } = view.exports()?;
    // Assign lines to the cases: by evaluation id, the last occurrence (the re-scored version of a
    // changed duplicate) unless the case names the earlier copy (of an exact duplicate, the one
    // kept: a record keeps its place however often the export repeats it).
    let mut seen_first: BTreeMap<String, usize> = BTreeMap::new();
    let mut seen_last: BTreeMap<String, usize> = BTreeMap::new();
    for (i, r) in rows.iter().enumerate() {
        seen_first.entry(r.evaluation_id.clone()).or_insert(i);
        seen_last.insert(r.evaluation_id.clone(), i);
    }
    for c in &mut manifest {
        let idx = if c.case.contains("earlier copy") {
            seen_first[&c.evaluation_id]
        } else {
            seen_last[&c.evaluation_id]
        };
        c.csv_line = Some(csv_lines[idx]);
        c.jsonl_line = Some(json_lines[idx]);
    }
    // The changed duplicate's older version.
    let changed_id = (80_000 + cases::CHANGED_DUPLICATE).to_string();
    if let Some(&idx) = seen_first.get(&changed_id) {
        manifest.push(Case {
            case: "changed duplicate: the older version".into(),
            evaluation_id: changed_id,
            csv_line: Some(csv_lines[idx]),
            jsonl_line: Some(json_lines[idx]),
            disposition: "excluded".into(),
            reason_contains: "superseded".into(),
        });
    }

    // Malformed rows, one kind each.
    let bad_csv = malformed::csv_rows(width);
    for (row, case, disp, reason) in bad_csv {
        csv_bytes.extend_from_slice(row.as_bytes());
        csv_bytes.extend_from_slice(b"\r\n");
        manifest.push(Case {
            case: case.into(),
            evaluation_id: row.split(',').next().unwrap_or_default().to_owned(),
            csv_line: Some(csv_line),
            jsonl_line: None,
            disposition: disp.into(),
            reason_contains: reason.into(),
        });
        csv_line += 1;
    }
    let bad_json = malformed::json_rows();
    for (text, case, reason) in bad_json {
        jsonl.push_str(&text);
        jsonl.push('\n');
        manifest.push(Case {
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
            participants: direct(who),
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
        serde_json::to_string_pretty(&manifest)?.as_bytes(),
    )?;
    let sections_toml = formats::section_names()
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let config = config_toml(&sections_toml);
    write_private(&out.join("qm-migrate.toml"), config.as_bytes())?;
    Ok(SampleSummary {
        out: out.to_path_buf(),
        evaluations: n,
        csv_records: rows.len() as u64 + 4,
        jsonl_records: rows.len() as u64 + 3,
        users: users.len(),
        conversations: conversations.len(),
        cases: manifest.len(),
    })
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

/// The `qm-migrate.toml` of the sample: every file it wrote, against the Genesys emulator;
/// `sections_toml` lists the form's sections.
fn config_toml(sections_toml: &str) -> String {
    format!(
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
    )
}
