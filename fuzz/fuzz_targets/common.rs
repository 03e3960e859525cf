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
