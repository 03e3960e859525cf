#![no_main]
//! Fuzzes the WideCsv reader with arbitrary bytes (Windows-1252 detection on, a time zone set, so
//! the transcoding and naive-date paths run too).

use libfuzzer_sys::fuzz_target;

#[path = "common.rs"]
mod common;

fuzz_target!(|data: &[u8]| {
    let opts = calabrio::ReadOptions {
        time_zone: jiff_zone(),
        encoding: calabrio::encoding::SourceEncoding::Auto,
        extractor: None,
    };
    common::with_file("export.csv", data, |p| {
        common::read_all(p, calabrio::Format::WideCsv, &opts)
    });
});

fn jiff_zone() -> Option<jiff::tz::TimeZone> {
    jiff::tz::TimeZone::get("America/New_York").ok()
}
