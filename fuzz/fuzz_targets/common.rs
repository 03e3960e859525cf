#![allow(dead_code)]
// Shared by the file-reader targets: write the input to a file, read every record, and check what
// every reader promises whatever the input: no panic, and every record in error names a reason.

use std::path::Path;

pub fn read_all(path: &Path, format: calabrio::Format, opts: &calabrio::ReadOptions) {
    let Ok(records) = calabrio::read(path, format, opts) else {
        return; // An unusable file is a FileError, which is fine.
    };
    for r in records {
        if let Err(e) = &r.parsed {
            assert!(
                !e.message.is_empty(),
                "an error without a reason at {}",
                r.locator
            );
        }
        assert_eq!(r.hash.len(), 64);
    }
}

pub fn with_file(name: &str, data: &[u8], f: impl FnOnce(&Path)) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join(name);
    std::fs::write(&path, data).expect("write");
    f(&path);
}

/// One file-reader target: `data` written as `name` and read as `format`, with Windows-1252
/// detection on and a time zone set, so the transcoding and naive-date paths run too.
pub fn fuzz_file(name: &str, format: calabrio::Format, data: &[u8]) {
    let opts = calabrio::ReadOptions {
        time_zone: jiff::tz::TimeZone::get("America/New_York").ok(),
        encoding: calabrio::encoding::SourceEncoding::Auto,
        extractor: None,
    };
    with_file(name, data, |p| read_all(p, format, &opts));
}
