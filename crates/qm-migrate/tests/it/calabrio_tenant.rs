//! The Calabrio REST extract against a tenant that answers as practitioners' code shows
//! (reference/calabrio.md §11), run as a user runs it (`qm-migrate --json extract`): one refused
//! comment list or contact is that record's problem, a tenant that records twenty calls for each
//! one it evaluates costs under two requests per evaluation, a count or a page that does not add
//! up leaves the day open and says why, the comment text is the top-level `text`, and a retired
//! form is fetched by its id.

use std::path::PathBuf;
use std::process::{Command, Output};

use emulator::calabrio::{CalabrioHandle, CalabrioSettings, CalabrioState, CountAs, Dataset};
use serde_json::{Value, json};

/// A sample's Calabrio API dataset served by the emulator, and a configuration reading it.
struct Tenant {
    dir: tempfile::TempDir,
    data: Dataset,
    state: CalabrioState,
    _emu: CalabrioHandle,
    config: PathBuf,
    user: String,
}

/// Contact days of `data` (UTC).
fn days(data: &Dataset) -> (jiff::civil::Date, jiff::civil::Date) {
    data.contact_days().expect("contacts")
}

fn scored(c: &emulator::calabrio::DatasetContact) -> bool {
    c.evaluations
        .iter()
        .any(|e| e.detail["state"]["text"] == "SCORED")
}

/// The evaluation ids of the contacts the default search finds (a scored evaluation).
fn scored_ids(data: &Dataset) -> Vec<String> {
    data.contacts
        .iter()
        .filter(|c| scored(c))
        .flat_map(|c| c.evaluations.iter().map(|e| e.detail["id"].to_string()))
        .collect()
}

impl Tenant {
    async fn new(
        evaluations: usize,
        settings: CalabrioSettings,
        edit: impl FnOnce(&mut Dataset),
        window: Option<(jiff::civil::Date, jiff::civil::Date)>,
    ) -> Tenant {
        let dir = tempfile::tempdir().expect("tempdir");
        qm_migrate::sample::generate(evaluations, 17, dir.path()).expect("sample");
        let text = std::fs::read_to_string(dir.path().join("calabrio-api.json")).expect("dataset");
        let mut data: Dataset = serde_json::from_str(&text).expect("dataset parses");
        edit(&mut data);
        let user = data.api_users[0].user_id.clone();
        let state = CalabrioState::new(data.clone(), settings);
        let emu = emulator::calabrio::spawn("127.0.0.1:0", state.clone())
            .await
            .expect("spawn");
        let (from, to) = window.unwrap_or_else(|| days(&data));
        let config = dir.path().join("api.toml");
        std::fs::write(
            &config,
            format!(
                "[source]\nkind = \"calabrio-api\"\nurl = \"{}\"\nfrom = \"{from}\"\nto = \"{to}\"\n[ledger]\npath = \"api.db\"\n",
                emu.base_url()
            ),
        )
        .expect("config");
        Tenant {
            dir,
            data,
            state,
            _emu: emu,
            config,
            user,
        }
    }

    /// `qm-migrate --json extract`: the exit code, the JSON summary, stderr.
    async fn extract(&self) -> (Option<i32>, Value, String) {
        let mut c = Command::new(env!("CARGO_BIN_EXE_qm-migrate"));
        c.current_dir(self.dir.path())
            .args(["--json", "--config"])
            .arg(&self.config)
            .arg("extract")
            .env_remove("QM_MIGRATE_CONFIG")
            .env_remove("CALABRIO_PASSWORD")
            .env("CALABRIO_USER", &self.user)
            .env(
                "CALABRIO_PASSWORD_FILE",
                self.dir.path().join("calabrio-api-password"),
            )
            .env("NO_COLOR", "1");
        let o: Output = tokio::task::spawn_blocking(move || c.output().expect("run"))
            .await
            .expect("join");
        let stderr = String::from_utf8_lossy(&o.stderr).into_owned();
        let j = serde_json::from_slice(&o.stdout).unwrap_or(Value::Null);
        (o.status.code(), j, stderr)
    }

    fn ledger(&self) -> rusqlite::Connection {
        rusqlite::Connection::open(self.dir.path().join("api.db")).expect("ledger")
    }

    /// The records of the latest extract: (evaluation id, canonical JSON, error).
    fn staged(&self) -> Vec<(Option<String>, Option<Value>, Option<String>)> {
        let conn = self.ledger();
        let mut stmt = conn
            .prepare(
                "SELECT evaluation_id, canonical, error FROM records
                 WHERE last_seen_run = (SELECT max(last_seen_run) FROM records)",
            )
            .expect("query");
        stmt.query_map([], |r| {
            Ok((
                r.get::<_, Option<String>>(0)?,
                r.get::<_, Option<String>>(1)?
                    .map(|c| serde_json::from_str(&c).expect("canonical JSON")),
                r.get::<_, Option<String>>(2)?,
            ))
        })
        .expect("rows")
        .collect::<Result<_, _>>()
        .expect("rows")
    }

    fn canonical_of(&self, id: &str) -> Value {
        self.staged()
            .into_iter()
            .find(|(e, ..)| e.as_deref() == Some(id))
            .and_then(|(_, c, _)| c)
            .unwrap_or_else(|| panic!("evaluation {id} is not staged readable"))
    }

    fn completed_days(&self) -> i64 {
        self.ledger()
            .query_row("SELECT count(*) FROM api_days", [], |r| r.get(0))
            .expect("api_days")
    }
}

/// The id of a scored contact's evaluation that has a comment with text, and the contact's id.
fn commented(data: &Dataset) -> (String, String) {
    data.contacts
        .iter()
        .filter(|c| scored(c))
        .find_map(|c| {
            let e = c.evaluations.first()?;
            e.comments
                .iter()
                .any(|x| x["text"].as_str().is_some_and(|t| !t.trim().is_empty()))
                .then(|| (e.detail["id"].to_string(), c.contact["id"].to_string()))
        })
        .expect("an evaluation with a comment")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_evaluations_missing_comments_are_its_problem_not_the_runs() {
    let t = Tenant::new(120, CalabrioSettings::default(), |_| {}, None).await;
    let (eid, _) = commented(&t.data);
    let expected = scored_ids(&t.data);
    t.state.set_settings(CalabrioSettings {
        missing_comments: vec![eid.clone()],
        ..CalabrioSettings::default()
    });

    for pass in 1..=2 {
        let (code, j, stderr) = t.extract().await;
        assert_eq!(code, Some(1), "pass {pass}: {j}\nstderr: {stderr}");
        // Every evaluation is staged, that one too (without its comments).
        assert_eq!(
            j["extract"]["records"].as_u64(),
            Some(expected.len() as u64),
            "pass {pass}: {j}"
        );
        let problems = j["extract"]["api_problems"].to_string();
        assert!(
            problems.contains(&format!("comments of evaluation {eid}")) && problems.contains("404"),
            "pass {pass}: the reason names the evaluation and the answer: {problems}"
        );
        assert!(
            j["extract"]["incomplete_days"].is_null(),
            "no day is lost over a comment: {j}"
        );
        let staged: Vec<String> = t.staged().into_iter().filter_map(|(e, ..)| e).collect();
        for id in &expected {
            assert!(staged.contains(id), "pass {pass}: evaluation {id} staged");
        }
        let ev = t.canonical_of(&eid);
        assert!(ev.get("comments").is_none(), "staged without them: {ev}");
        assert!(
            ev["warnings"].to_string().contains("404"),
            "flagged, for the plan's reason: {ev}"
        );
    }

    // The comments answer again: the next extract takes them.
    t.state.set_settings(CalabrioSettings::default());
    let (code, j, _) = t.extract().await;
    assert!(j["extract"]["api_problems"].is_null(), "{j}");
    assert_eq!(j["extract"]["changed"].as_u64(), Some(1), "{j}");
    assert_ne!(code, Some(2), "{j}");
    let ev = t.canonical_of(&eid);
    assert!(
        ev["comments"].as_array().is_some_and(|c| !c.is_empty()),
        "{ev}"
    );
    assert!(ev.get("warnings").is_none(), "{ev}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_contact_out_of_scope_is_staged_as_unreadable_and_a_refusal_is_not_a_deletion() {
    let t = Tenant::new(80, CalabrioSettings::default(), |_| {}, None).await;
    let (eid, cid) = commented(&t.data);
    let expected = scored_ids(&t.data);

    // Out of scope from the start: that contact is staged as unreadable with the reason.
    t.state.set_settings(CalabrioSettings {
        forbidden_contacts: vec![cid.clone()],
        ..CalabrioSettings::default()
    });
    let (code, j, stderr) = t.extract().await;
    assert_eq!(code, Some(1), "{j}\nstderr: {stderr}");
    assert_eq!(j["extract"]["unreadable"].as_u64(), Some(1), "{j}");
    let unreadable: Vec<String> = t.staged().into_iter().filter_map(|(.., e)| e).collect();
    assert_eq!(unreadable.len(), 1, "{unreadable:?}");
    assert!(
        unreadable[0].contains(&format!("contact {cid}")) && unreadable[0].contains("403"),
        "{unreadable:?}"
    );

    // In scope: staged. Then out of scope again: the copy staged before stays, nothing looks
    // deleted from Calabrio.
    t.state.set_settings(CalabrioSettings::default());
    let (_, j, _) = t.extract().await;
    assert_eq!(
        j["extract"]["records"].as_u64(),
        Some(expected.len() as u64),
        "{j}"
    );
    assert_eq!(j["extract"]["unreadable"].as_u64(), Some(0), "{j}");
    t.state.set_settings(CalabrioSettings {
        forbidden_contacts: vec![cid.clone()],
        ..CalabrioSettings::default()
    });
    let (code, j, _) = t.extract().await;
    assert_eq!(code, Some(1), "{j}");
    assert!(
        j["extract"]["api_problems"]
            .to_string()
            .contains("the copy staged before is kept"),
        "{j}"
    );
    assert_eq!(
        j["extract"]["records"].as_u64(),
        Some(expected.len() as u64),
        "{j}"
    );
    t.canonical_of(&eid);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn twenty_unevaluated_contacts_per_evaluated_one_cost_under_two_requests_per_evaluation() {
    // 300 evaluations on ten busy days, twenty recorded calls beside each evaluated one, a server
    // page cap of 100 under the client's `limit` of 500.
    let busy = |data: &mut Dataset| {
        let day0 = 1_767_225_600_000_i64; // 2026-01-01T00:00:00Z
        for (i, c) in data.contacts.iter_mut().enumerate() {
            let start = c.contact["startTime"].as_i64().expect("start");
            c.contact["startTime"] =
                json!(day0 + (i as i64 % 10) * 86_400_000 + start.rem_euclid(86_400_000));
        }
    };
    let t = Tenant::new(
        300,
        CalabrioSettings {
            unevaluated_per_evaluated: 20,
            max_page: 100,
            ..CalabrioSettings::default()
        },
        busy,
        None,
    )
    .await;
    let expected = scored_ids(&t.data);
    assert!(expected.len() >= 290, "{} evaluations", expected.len());

    let before = t.state.stats().requests;
    let (code, j, stderr) = t.extract().await;
    assert_ne!(code, Some(2), "{j}\nstderr: {stderr}");
    let requests = t.state.stats().requests - before;
    // Every evaluation exactly once.
    let (rows, distinct): (i64, i64) = t
        .ledger()
        .query_row(
            "SELECT count(*), count(DISTINCT evaluation_id) FROM records",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("count");
    assert_eq!(rows, expected.len() as i64, "{j}");
    assert_eq!(distinct, rows);
    let per = requests as f64 / expected.len() as f64;
    println!(
        "evaluated contacts only: {requests} requests for {} evaluations = {per:.2} per evaluation",
        expected.len()
    );
    assert!(per <= 2.0, "{per:.2} requests per evaluation: {j}");

    // Every recorded contact, as the crawl did before: tens of requests per evaluation.
    let text = std::fs::read_to_string(&t.config).expect("config");
    std::fs::write(
        &t.config,
        text.replace("[source]\n", "[source]\ncontact_filter = \"\"\n"),
    )
    .expect("config");
    let before = t.state.stats().requests;
    let (_, j, _) = t.extract().await;
    let all = t.state.stats().requests - before;
    println!(
        "every recorded contact: {all} requests = {:.2} per evaluation",
        all as f64 / expected.len() as f64
    );
    assert!(all > requests * 8, "{all} vs {requests}: {j}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_count_that_cannot_be_read_leaves_the_days_open_and_says_why() {
    for (count_as, shows) in [
        (CountAs::Unreadable, "{\"count\":\"about "),
        (CountAs::OtherKey, "{\"total\":"),
    ] {
        let t = Tenant::new(
            40,
            CalabrioSettings {
                count_as,
                ..CalabrioSettings::default()
            },
            |_| {},
            None,
        )
        .await;
        let (code, j, stderr) = t.extract().await;
        assert_eq!(code, Some(1), "{count_as:?}: {j}\nstderr: {stderr}");
        let why: Vec<&str> = j["extract"]["incomplete_days"]
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        assert!(!why.is_empty(), "{count_as:?}: {j}");
        let why = why.join("\n");
        assert!(
            why.contains("searchStats answered")
                && why.contains(shows)
                && why.contains("non-negative integer"),
            "{count_as:?}: the error says why, naming the body: {why}"
        );
        assert_eq!(
            t.completed_days(),
            0,
            "{count_as:?}: no day marked complete"
        );
        assert_eq!(j["extract"]["records"].as_u64(), Some(0), "{j}");
    }
    // A count written as a string of digits is a count.
    let t = Tenant::new(
        40,
        CalabrioSettings {
            count_as: CountAs::String,
            ..CalabrioSettings::default()
        },
        |_| {},
        None,
    )
    .await;
    let (_, j, _) = t.extract().await;
    assert_eq!(
        j["extract"]["records"].as_u64(),
        Some(scored_ids(&t.data).len() as u64),
        "{j}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_comes_back_short_of_the_count_leaves_the_day_open() {
    // One busy day: the server counts one contact more than it serves.
    let day = |data: &mut Dataset| {
        let day0 = 1_767_225_600_000_i64; // 2026-01-01T00:00:00Z
        for c in &mut data.contacts {
            let start = c.contact["startTime"].as_i64().expect("start");
            c.contact["startTime"] = json!(day0 + start.rem_euclid(86_400_000));
        }
    };
    let only = "2026-01-01".parse().expect("date");
    let t = Tenant::new(
        30,
        CalabrioSettings {
            count_offset: 1,
            max_page: 10,
            ..CalabrioSettings::default()
        },
        day,
        Some((only, only)),
    )
    .await;
    let n = t.data.contacts.iter().filter(|c| scored(c)).count();
    let (code, j, stderr) = t.extract().await;
    assert_eq!(code, Some(1), "{j}\nstderr: {stderr}");
    let why = j["extract"]["incomplete_days"].to_string();
    assert!(
        why.contains("2026-01-01")
            && why.contains(&format!("counted {} contacts but {n} could be read", n + 1))
            && why.contains("came back empty"),
        "{why}"
    );
    assert_eq!(t.completed_days(), 0, "the day is not marked complete");

    // A page that comes back empty once is asked again: the day adds up.
    t.state.set_settings(CalabrioSettings {
        empty_pages: 1,
        max_page: 10,
        ..CalabrioSettings::default()
    });
    let (_, j, _) = t.extract().await;
    assert!(j["extract"]["incomplete_days"].is_null(), "{j}");
    assert_eq!(j["extract"]["records"].as_u64(), Some(n as u64), "{j}");
    assert_eq!(t.completed_days(), 0, "the pass finished");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_comment_is_staged_as_it_stands_not_as_its_history() {
    // As tenants answer: the top-level `text` is the comment now; `history[]` holds the text it
    // replaced, with when and by whom.
    let mut edited = Vec::new();
    let t = Tenant::new(
        80,
        CalabrioSettings::default(),
        |data| {
            for c in data.contacts.iter_mut().step_by(3) {
                for e in &mut c.evaluations {
                    let id = e.detail["id"].to_string();
                    let Some(first) = e.comments.first_mut() else {
                        continue;
                    };
                    let created = first["created"].as_i64().unwrap_or(0);
                    first["text"] = json!(format!("final words on {id}"));
                    first["history"] = json!([
                        {"created": created + 60_000, "text": format!("first draft on {id}"),
                         "commentor": first["commentor"]},
                    ]);
                    edited.push(id);
                }
            }
        },
        None,
    )
    .await;
    assert!(edited.len() >= 5, "{} edited comments", edited.len());
    let (code, j, stderr) = t.extract().await;
    assert_ne!(code, Some(2), "{j}\nstderr: {stderr}");
    let mut checked = 0;
    for id in &edited {
        let Some((_, Some(ev), _)) = t
            .staged()
            .into_iter()
            .find(|(e, ..)| e.as_deref() == Some(id.as_str()))
        else {
            continue; // an evaluation the default search does not reach (not scored)
        };
        let text = ev["comments"].to_string();
        assert!(text.contains(&format!("final words on {id}")), "{ev}");
        assert!(!text.contains("first draft"), "{ev}");
        checked += 1;
    }
    assert!(checked >= 5, "{checked} edited comments checked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retired_form_is_fetched_by_id_and_the_form_id_may_be_evalform_id() {
    let mut retired = String::new();
    let mut by_id = Vec::new();
    let t = Tenant::new(
        80,
        CalabrioSettings::default(),
        |data| {
            retired = data.forms[0]["id"].to_string();
            for (i, c) in data.contacts.iter_mut().enumerate() {
                for e in &mut c.evaluations {
                    if i % 4 == 0 {
                        // `evalForm.id` rather than `evalForm.evalFormId`.
                        let f = e.detail["evalForm"]["evalFormId"].take();
                        e.detail["evalForm"] = json!({ "id": f });
                        by_id.push(e.detail["id"].to_string());
                    }
                }
            }
        },
        None,
    )
    .await;
    t.state.set_settings(CalabrioSettings {
        retired_forms: vec![retired.clone()],
        ..CalabrioSettings::default()
    });
    let on_retired: Vec<String> = t
        .data
        .contacts
        .iter()
        .filter(|c| scored(c))
        .flat_map(|c| &c.evaluations)
        .filter(|e| e.detail["evalForm"].to_string().contains(&retired))
        .map(|e| e.detail["id"].to_string())
        .collect();
    assert!(!on_retired.is_empty(), "the sample uses form {retired}");
    let (code, j, stderr) = t.extract().await;
    assert_ne!(code, Some(2), "{j}\nstderr: {stderr}");
    let staged = t.staged();
    let errors: Vec<&String> = staged.iter().filter_map(|(.., e)| e.as_ref()).collect();
    assert!(
        !errors.iter().any(|e| e.contains("evalform")),
        "no evaluation fails over its form: {errors:?}"
    );
    for id in on_retired.iter().chain(by_id.iter().take(5)) {
        if scored_ids(&t.data).contains(id) {
            let ev = t.canonical_of(id);
            assert!(ev["form"]["form_id"].is_string(), "{ev}");
        }
    }
}
