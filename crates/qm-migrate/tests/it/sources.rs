//! Every Calabrio source shape gives the same canonical records: the REST API (through the Calabrio
//! emulator, with paging, expiring sessions and injected faults), wide CSV, long CSV, JSON Lines and
//! a tables directory, all written by `sample` from the same evaluations. And an interrupted API
//! extract resumes from the first day it had not finished.

use std::collections::BTreeMap;
use std::time::Duration;

use calabrio::SourceRecord;
use calabrio::api::{ApiOptions, CalabrioApi};
use emulator::calabrio::{CalabrioSettings, CalabrioState, Dataset};
use qm_model::CanonicalEvaluation;
use serde_json::{Value, json};

fn person(p: &qm_model::Person) -> Value {
    json!([
        p.calabrio_person_id,
        p.username,
        p.email,
        p.windows_login,
        p.display_name,
        p.employee_id,
        p.acd_id
    ])
}

/// The facts every format can carry. Ids of sections, questions and options are left out (a wide
/// CSV names them by text), and so is an explicit KPI flag: the API has none (reference/calabrio.md
/// §1.6), so the API record of that planted case can only infer it.
fn project(ev: &CanonicalEvaluation) -> Value {
    let mut sections: Vec<Value> = ev
        .sections
        .iter()
        .map(|s| {
            let mut qs: Vec<Value> = s
                .questions
                .iter()
                .map(|q| {
                    let na = q.na == Some(true);
                    let a = q.answer.clone().unwrap_or_default();
                    json!([q.text, a.label, na, if na { None } else { a.points }])
                })
                .collect();
            qs.sort_by_key(Value::to_string);
            json!([s.name, s.score, s.max, qs])
        })
        .collect();
    sections.sort_by_key(Value::to_string);
    let mut comments: Vec<Value> = ev
        .comments
        .iter()
        .map(|c| json!([c.scope, c.text]))
        .collect();
    comments.sort_by_key(Value::to_string);
    let explicit = ev.score.kpi_failed_basis.as_deref() == Some("explicit");
    json!({
        "evaluation_id": ev.evaluation_id,
        "contact": [ev.contact.contact_id, ev.contact.assoc_call_id, ev.contact.start_time_utc],
        "form": [ev.form.form_id, ev.form.form_name, ev.form.scoring_type],
        "agent": person(&ev.agent),
        "evaluator": ev.evaluator.as_ref().map(person),
        "kind": ev.kind,
        "state": [ev.state, ev.state_raw],
        "dates": [ev.dates.evaluated_at_utc, ev.dates.created_at_utc],
        "score": [ev.score.total, ev.score.raw_additive, ev.score.unit],
        "kpi_failed": if explicit { None } else { ev.score.kpi_failed },
        "sections": sections,
        "comments": comments,
    })
}

/// Evaluation id → projection of its last readable record (a later duplicate wins, as in `plan`).
fn by_id(records: impl IntoIterator<Item = SourceRecord>) -> BTreeMap<String, Value> {
    records
        .into_iter()
        .filter_map(|r| r.parsed.ok())
        .map(|ev| (ev.evaluation_id.clone(), project(&ev)))
        .collect()
}

fn first_difference(name: &str, a: &BTreeMap<String, Value>, b: &BTreeMap<String, Value>) {
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "{name}: not the same evaluation ids"
    );
    for (id, x) in a {
        assert_eq!(Some(x), b.get(id), "{name}: evaluation {id} differs");
    }
}

fn api_options(base: &str, dataset: &Dataset) -> ApiOptions {
    let u = &dataset.api_users[0];
    let mut o = ApiOptions::new(base, &u.user_id, u.password.clone().into());
    o.page_size = 3;
    o.initial_backoff = Duration::from_millis(1);
    o.max_attempts = 8;
    // Every recorded contact, the in-progress evaluation's too, as the exports hold them all.
    o.contact_filter = String::new();
    o
}

/// The Calabrio emulator serving `dataset`, and a configuration reading it from `from` to `to` into
/// a ledger in `dir`.
async fn api_source(
    dir: &std::path::Path,
    dataset: &Dataset,
    from: jiff::civil::Date,
    to: jiff::civil::Date,
) -> (
    CalabrioState,
    emulator::calabrio::CalabrioHandle,
    qm_migrate::config::Config,
) {
    let state = CalabrioState::new(dataset.clone(), CalabrioSettings::default());
    let emu = emulator::calabrio::spawn("127.0.0.1:0", state.clone())
        .await
        .expect("spawn");
    let mut cfg = qm_migrate::config::Config::default();
    cfg.source.kind = "calabrio-api".into();
    cfg.source.url = Some(emu.base_url());
    cfg.source.from = Some(from.to_string());
    cfg.source.to = Some(to.to_string());
    cfg.ledger.path = dir.join("ledger.db");
    (state, emu, cfg)
}

fn contact_days(dataset: &Dataset) -> (jiff::civil::Date, jiff::civil::Date) {
    dataset.contact_days().expect("contacts")
}

async fn read_api(
    api: &CalabrioApi,
    from: jiff::civil::Date,
    to: jiff::civil::Date,
) -> Vec<SourceRecord> {
    let mut out = Vec::new();
    let mut day = from;
    loop {
        out.extend(api.day(day).await.expect("day").records);
        if day >= to {
            break;
        }
        day = day.tomorrow().expect("day");
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_source_format_gives_the_same_canonical_records() {
    let dir = tempfile::tempdir().expect("tempdir");
    qm_migrate::sample::generate(150, 11, dir.path()).expect("sample");
    let opts = calabrio::ReadOptions::default();
    let read = |name: &str, format| {
        by_id(calabrio::read(&dir.path().join(name), format, &opts).expect(name))
    };
    let wide = read("calabrio-export.csv", calabrio::Format::WideCsv);
    let long = read("calabrio-export-long.csv", calabrio::Format::LongCsv);
    let jsonl = read("calabrio-export.jsonl", calabrio::Format::Json);
    let tables = read("calabrio-tables", calabrio::Format::Tables);

    let text = std::fs::read_to_string(dir.path().join("calabrio-api.json")).expect("dataset");
    let dataset: Dataset = serde_json::from_str(&text).expect("dataset parses");
    let (from, to) = contact_days(&dataset);
    // Sessions expire every 40 requests, 3 % of requests fail with 503, pages hold 3 contacts.
    let state = CalabrioState::new(
        dataset.clone(),
        CalabrioSettings {
            session_requests: 40,
            fault_rate: 0.03,
            max_page: 3,
            ..CalabrioSettings::default()
        },
    );
    let emu = emulator::calabrio::spawn("127.0.0.1:0", state.clone())
        .await
        .expect("spawn");
    let api = CalabrioApi::connect(api_options(&emu.base_url(), &dataset))
        .await
        .expect("login");
    let rest = by_id(read_api(&api, from, to).await);
    let stats = state.stats();

    // The dataset must exercise what the test claims, or the comparison proves little.
    assert!(wide.len() >= 150, "{} evaluations", wide.len());
    assert!(
        stats.expired >= 5,
        "sessions expired {} times",
        stats.expired
    );
    assert!(stats.faults >= 5, "{} faults injected", stats.faults);
    assert!(stats.pages > 10, "{} pages", stats.pages);
    assert_eq!(
        stats.logins,
        1 + stats.expired,
        "one login, then one per expired session"
    );
    let questions: usize = wide
        .values()
        .map(|v| {
            v["sections"].as_array().map_or(0, |s| {
                s.iter().map(|x| x[3].as_array().map_or(0, Vec::len)).sum()
            })
        })
        .sum();
    assert!(questions > 150 * 4, "{questions} answered questions");
    assert!(
        wide.values()
            .any(|v| v.to_string().contains("\"N/A\",true")),
        "some answer is N/A"
    );
    // Inactive people are not in ViewOrg: the extractor found them by id.
    let inactive_agent = rest
        .values()
        .find(|v| v["agent"][0] == json!("1000"))
        .expect("agent 1000 evaluated");
    assert!(inactive_agent["agent"][2].is_string(), "{inactive_agent}");

    first_difference("long CSV vs wide CSV", &wide, &long);
    first_difference("JSON Lines vs wide CSV", &wide, &jsonl);
    first_difference("tables vs wide CSV", &wide, &tables);
    first_difference("REST API vs wide CSV", &wide, &rest);

    // The older login (array body, CSRF token) reaches the same records.
    state.set_settings(CalabrioSettings {
        legacy_login: true,
        ..CalabrioSettings::default()
    });
    state.expire_all_sessions();
    let legacy = CalabrioApi::connect(api_options(&emu.base_url(), &dataset))
        .await
        .expect("legacy login");
    let again = by_id(read_api(&legacy, from, to).await);
    first_difference("REST API (legacy login) vs wide CSV", &wide, &again);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_api_extract_resumes_from_the_first_unfinished_day() {
    let dir = tempfile::tempdir().expect("tempdir");
    qm_migrate::sample::generate(80, 5, dir.path()).expect("sample");
    let text = std::fs::read_to_string(dir.path().join("calabrio-api.json")).expect("dataset");
    let dataset: Dataset = serde_json::from_str(&text).expect("dataset");
    let (from, to) = contact_days(&dataset);
    let evaluations = dataset
        .contacts
        .iter()
        .map(|c| c.evaluations.len())
        .sum::<usize>() as u64;
    let (state, emu, cfg) = api_source(dir.path(), &dataset, from, to).await;
    let mut ledger = qm_migrate::ledger::Ledger::open(&cfg.ledger.path).expect("ledger");
    let bar = indicatif::ProgressBar::hidden();

    // A clean run elsewhere counts the requests; then the server goes down half-way through.
    let mut opts = api_options(&emu.base_url(), &dataset);
    opts.max_attempts = 2;
    let total_requests = {
        let probe = tempfile::tempdir().expect("tempdir");
        let mut l =
            qm_migrate::ledger::Ledger::open(&probe.path().join("probe.db")).expect("ledger");
        let before = state.stats().requests;
        qm_migrate::extract::run_with(&cfg, &mut l, &bar, Some(opts.clone()))
            .await
            .expect("clean extract");
        state.stats().requests - before
    };
    let served = state.stats().requests;
    state.set_settings(CalabrioSettings {
        outage_after: Some(served + total_requests / 2),
        ..CalabrioSettings::default()
    });
    let first = qm_migrate::extract::run_with(&cfg, &mut ledger, &bar, Some(opts.clone())).await;
    let err = first.expect_err("the server went down: the extract must fail");
    assert!(
        format!("{err:#}").contains("run extract again to resume"),
        "{err:#}"
    );
    let staged_before: i64 = ledger
        .conn()
        .query_row("SELECT count(*) FROM records", [], |r| r.get(0))
        .expect("count");
    assert!(staged_before > 0, "some days were saved before the failure");

    state.set_settings(CalabrioSettings::default());
    let second = qm_migrate::extract::run_with(&cfg, &mut ledger, &bar, Some(opts))
        .await
        .expect("resumed extract");
    assert!(second.days_resumed.unwrap_or(0) > 0, "{second:?}");
    assert_eq!(
        second.new + u64::try_from(staged_before).expect("count"),
        evaluations,
        "the resumed run staged exactly the evaluations the first did not"
    );
    let (rows, distinct): (i64, i64) = ledger
        .conn()
        .query_row(
            "SELECT count(*), count(DISTINCT evaluation_id) FROM records",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("count");
    assert_eq!((rows, distinct), (evaluations as i64, evaluations as i64));
    // The days of the first run belong to the resumed extract: plan sees every record, in order.
    let current = ledger.current_records().expect("current");
    assert_eq!(
        current.len() as u64,
        evaluations,
        "plan would miss the resumed days"
    );
    let mut seqs: Vec<i64> = current.iter().map(|r| r.seq).collect();
    seqs.dedup();
    assert_eq!(seqs.len() as u64, evaluations, "positions are unique");
    assert_eq!(second.stale, 0);
    // The API's form definitions are kept for mirror mode, the same as the tables directory's.
    let from_api: std::collections::BTreeMap<String, calabrio::catalog::FormDef> = ledger
        .calabrio_forms()
        .expect("forms")
        .into_iter()
        .map(|(id, text)| (id, serde_json::from_str(&text).expect("definition")))
        .collect();
    let tables =
        calabrio::tables::read_catalog(&dir.path().join("calabrio-tables")).expect("tables");
    assert_eq!(second.forms, Some(tables.forms.len()));
    assert_eq!(from_api.len(), tables.forms.len());
    for (id, def) in &tables.forms {
        let api = &from_api[id];
        assert_eq!(
            (&api.name, api.sections.len()),
            (&def.name, def.sections.len()),
            "form {id}"
        );
        for (a, t) in api.sections.iter().zip(&def.sections) {
            let texts = |s: &calabrio::catalog::SectionDef| {
                s.questions
                    .iter()
                    .map(|q| (q.text.clone(), q.options.len()))
                    .collect::<Vec<_>>()
            };
            assert_eq!(texts(a), texts(t), "form {id} section {}", t.id);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_api_extract_reads_every_day_again_and_sees_edits_and_deletions() {
    let dir = tempfile::tempdir().expect("tempdir");
    qm_migrate::sample::generate(60, 5, dir.path()).expect("sample");
    let text = std::fs::read_to_string(dir.path().join("calabrio-api.json")).expect("dataset");
    let dataset: Dataset = serde_json::from_str(&text).expect("dataset");
    let (from, to) = contact_days(&dataset);
    let (state, emu, cfg) = api_source(dir.path(), &dataset, from, to).await;
    let mut ledger = qm_migrate::ledger::Ledger::open(&cfg.ledger.path).expect("ledger");
    let bar = indicatif::ProgressBar::hidden();
    let opts = api_options(&emu.base_url(), &dataset);
    let first = qm_migrate::extract::run_with(&cfg, &mut ledger, &bar, Some(opts.clone()))
        .await
        .expect("extract");
    assert!(first.new > 40, "{first:?}");

    // Meanwhile in Calabrio: one evaluation gets a new comment, another is deleted.
    state.edit(|d| {
        let with_comment = d
            .contacts
            .iter()
            .flat_map(|c| &c.evaluations)
            .find(|e| !e.comments.is_empty())
            .expect("an evaluation with a comment")
            .comments[0]
            .clone();
        let mut evaluations = d.contacts.iter_mut().flat_map(|c| c.evaluations.iter_mut());
        let edited = evaluations.next().expect("an evaluation");
        let mut comment = with_comment;
        comment["text"] = json!("Added in Calabrio after the first extract");
        comment["comment"] = json!("Added in Calabrio after the first extract");
        edited.comments.push(comment);
        let contact = d
            .contacts
            .iter_mut()
            .rev()
            .find(|c| !c.evaluations.is_empty())
            .expect("a contact with evaluations");
        contact.evaluations.remove(0);
    });
    let second = qm_migrate::extract::run_with(&cfg, &mut ledger, &bar, Some(opts))
        .await
        .expect("extract");
    assert_eq!(second.days_resumed, Some(0), "every day is read again");
    assert_eq!(
        (second.new, second.changed, second.stale),
        (0, 1, 1),
        "{second:?}"
    );
}
