#![no_main]
//! Fuzzes the WideCsv reader with arbitrary bytes.

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| common::fuzz_file("export.csv", calabrio::Format::WideCsv, data));
