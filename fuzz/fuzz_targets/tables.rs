#![no_main]
//! Fuzzes the tables-directory reader: the input is split on NUL bytes into the eight tables
//! (forms, sections, questions, options, persons, evaluations, scores, comments), so the joins see
//! arbitrary combinations.

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

const TABLES: [&str; 8] = [
    "forms.csv",
    "sections.csv",
    "questions.csv",
    "options.csv",
    "persons.csv",
    "evaluations.csv",
    "scores.csv",
    "comments.csv",
];

fuzz_target!(|data: &[u8]| {
    let dir = tempfile::tempdir().expect("tempdir");
    for (name, part) in TABLES.iter().zip(data.split(|b| *b == 0)) {
        std::fs::write(dir.path().join(name), part).expect("write");
    }
    common::read_all(
        dir.path(),
        calabrio::Format::Tables,
        &calabrio::ReadOptions::default(),
    );
});
