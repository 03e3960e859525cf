//! The house rules, checked (#28): no source file of the workspace longer than 700 lines before its
//! tests, and imports that point one way — between the CLI's top-level rooms (`app` → `commands` →
//! `context` → `pipeline` → `ledger` …) and between the files of one folder (in `plan/`, `pass` uses
//! `link` and `resync`, never the reverse). A folder's `mod.rs` and its files may use each other: that
//! is one room.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const LONGEST: usize = 700;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The code of a file before its tests, without comment lines.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap();
    let before_tests = text.split("#[cfg(test)]\nmod tests").next().unwrap_or("");
    before_tests
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Names following `prefix` (`crate::`, `super::`) in `text`.
fn names_after<'a>(text: &'a str, prefix: &str) -> Vec<&'a str> {
    text.match_indices(prefix)
        .map(|(i, _)| {
            let rest = &text[i + prefix.len()..];
            let end = rest
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(rest.len());
            &rest[..end]
        })
        .filter(|n| !n.is_empty())
        .collect()
}

/// Every edge that closes a circle in `graph`.
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<(String, String)> {
    let reaches = |from: &str, to: &str| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from.to_owned()];
        while let Some(n) = stack.pop() {
            if n == to {
                return true;
            }
            if seen.insert(n.clone()) {
                stack.extend(graph.get(&n).into_iter().flatten().cloned());
            }
        }
        false
    };
    graph
        .iter()
        .flat_map(|(a, bs)| bs.iter().map(move |b| (a.clone(), b.clone())))
        .filter(|(a, b)| reaches(b, a))
        .collect()
}

/// `pub use room::…::{a, b as c}` lines of lib.rs: the short name → the room it lives in.
fn reexports(lib: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let flat = lib.replace('\n', " ");
    for stmt in flat.split(';') {
        let Some(rest) = stmt.trim().strip_prefix("pub use ") else {
            continue;
        };
        let room = rest.split("::").next().unwrap_or("").trim().to_owned();
        let items = match (rest.find('{'), rest.rfind('}')) {
            (Some(a), Some(b)) => rest[a + 1..b].to_owned(),
            _ => rest.rsplit("::").next().unwrap_or("").to_owned(),
        };
        for item in items.split(',') {
            let name = item.split(" as ").last().unwrap_or("").trim();
            if !name.is_empty() {
                out.insert(name.to_owned(), room.clone());
            }
        }
    }
    out
}

#[test]
fn no_source_file_is_longer_than_700_lines_before_its_tests() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut files = Vec::new();
    rust_files(&crates, &mut files);
    let long: Vec<String> = files
        .iter()
        .filter(|p| p.components().any(|c| c.as_os_str() == "src"))
        .filter_map(|p| {
            let text = std::fs::read_to_string(p).unwrap();
            let n = text
                .split("#[cfg(test)]\nmod tests")
                .next()
                .unwrap_or("")
                .lines()
                .count();
            (n > LONGEST).then(|| format!("{} ({n} lines)", p.display()))
        })
        .collect();
    assert!(files.len() > 100, "the sources were found");
    assert!(long.is_empty(), "over {LONGEST} lines: {long:#?}");
}

#[test]
fn the_cli_s_rooms_and_each_folder_s_files_point_one_way() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let alias = reexports(&std::fs::read_to_string(src.join("lib.rs")).unwrap());
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    let mut rooms: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut siblings: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for f in &files {
        let rel = f.strip_prefix(&src).unwrap();
        let room = rel
            .components()
            .next()
            .unwrap()
            .as_os_str()
            .to_string_lossy()
            .trim_end_matches(".rs")
            .to_owned();
        if room == "lib" || room == "main" || room == "layout" {
            continue;
        }
        let text = code(f);
        for n in names_after(&text, "crate::") {
            let to = alias.get(n).cloned().unwrap_or_else(|| n.to_owned());
            if to != room {
                rooms.entry(room.clone()).or_default().insert(to);
            }
        }
        // Files of one folder: `super::x` from a file that is not the folder's mod.rs.
        let name = f.file_stem().unwrap().to_string_lossy().into_owned();
        if name != "mod" {
            let dir = f.parent().unwrap();
            for n in names_after(&text, "super::") {
                if dir.join(format!("{n}.rs")).exists() || dir.join(n).join("mod.rs").exists() {
                    siblings
                        .entry(format!("{}/{name}", dir.display()))
                        .or_default()
                        .insert(format!("{}/{n}", dir.display()));
                }
            }
        }
    }
    assert!(
        rooms.get("app").is_some_and(|r| r.contains("commands")),
        "the scan sees the entry point's use of the commands: {rooms:#?}"
    );
    assert_eq!(
        circles(&rooms),
        Vec::<(String, String)>::new(),
        "{rooms:#?}"
    );
    assert!(
        siblings.keys().any(|k| k.ends_with("plan/pass")),
        "the scan sees the plan's files: {siblings:#?}"
    );
    assert_eq!(circles(&siblings), Vec::<(String, String)>::new());
}

#[test]
fn a_circle_is_found() {
    let g: BTreeMap<String, BTreeSet<String>> = [
        ("a", vec!["b"]),
        ("b", vec!["c"]),
        ("c", vec!["a"]),
        ("d", vec!["a"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.into_iter().map(str::to_owned).collect()))
    .collect();
    let mut found: Vec<String> = circles(&g).into_iter().map(|(a, _)| a).collect();
    found.sort();
    assert_eq!(found, ["a", "b", "c"]);
}
