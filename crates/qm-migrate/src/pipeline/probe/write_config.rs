//! `probe --write-config`: the recommended settings written into the config file, each in its table.

use super::*;

/// Puts the recommended settings into the config file at `path`: each one replaces the key's line
/// in its table (or goes right after the table's header, or in a new table at the end), with a
/// comment naming the probe's date and the value it replaced. The result must still load as a
/// configuration, or nothing is written. Returns the lines written.
///
/// # Errors
/// I/O errors, and a result that would not load.
pub fn write_config(path: &Path, r: &Report) -> Result<Vec<String>> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read config file {}", path.display()))?;
    let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
    let mut written = Vec::new();
    for row in &r.rows {
        let Some(s) = &row.setting else { continue };
        let line = format!(
            "{} = {}  # probe {} (conversation {}): {}",
            s.key, s.value, r.date, r.conversation_id, row.observed
        );
        set_key(&mut lines, &s.section, &s.key, &line);
        written.push(format!("[{}] {}", s.section, line));
    }
    let mut out = lines.join("\n");
    out.push('\n');
    let tmp = path.with_extension("probe-check.toml");
    crate::fsutil::write_private(&tmp, out.as_bytes())?;
    let check = Config::load(&tmp);
    let _ = std::fs::remove_file(&tmp);
    check.context(
        "the recommended settings would not make a valid configuration; nothing written",
    )?;
    crate::fsutil::write_private(path, out.as_bytes())?;
    Ok(written)
}

/// The table a line opens, if it is a table header.
pub(super) fn header(line: &str) -> Option<&str> {
    let t = line.trim();
    let t = t.split('#').next().unwrap_or("").trim();
    t.strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .filter(|n| !n.starts_with('['))
        .map(str::trim)
}

/// Does `line` set `key` (uncommented)?
pub(super) fn sets_key(line: &str, key: &str) -> bool {
    let t = line.trim_start();
    t.strip_prefix(key)
        .is_some_and(|rest| rest.trim_start().starts_with('='))
}

/// Sets `key` in `[section]` to `line`, keeping the old line as a comment.
pub(super) fn set_key(lines: &mut Vec<String>, section: &str, key: &str, line: &str) {
    let start = lines.iter().position(|l| header(l) == Some(section));
    let Some(start) = start else {
        lines.push(String::new());
        lines.push(format!("[{section}]"));
        lines.push(line.to_owned());
        return;
    };
    let end = lines[start + 1..]
        .iter()
        .position(|l| header(l).is_some())
        .map_or(lines.len(), |i| start + 1 + i);
    if let Some(i) = (start + 1..end).find(|&i| sets_key(&lines[i], key)) {
        let old = std::mem::replace(&mut lines[i], line.to_owned());
        lines.insert(i, format!("# before the probe: {}", old.trim()));
        return;
    }
    lines.insert(start + 1, line.to_owned());
}
