//! The mapping files: `[link] mapping_file` (Calabrio recording or contact → Genesys conversation)
//! and the pairs reader `[users] mapping_file` shares.

use super::*;

/// `contact_id → conversation_id` from the recording migration, with conflicts kept.
pub(super) fn read_mapping(path: &std::path::Path) -> Result<HashMap<String, Vec<String>>> {
    read_pairs(
        path,
        "mapping file",
        (
            &["contactid", "recordingid", "ccrid", "recordid"],
            "contact_id column (contact_id, recording_id, ccrId)",
        ),
        (
            &["conversationid", "genesysconversationid"],
            "conversation_id column",
        ),
        false,
    )
}

/// A two-column mapping CSV (header aliases matched case-, space- and punctuation-insensitively):
/// key → every distinct value, conflicts kept. `lower_keys` folds keys to lower case.
pub(super) fn read_pairs(
    path: &std::path::Path,
    what: &str,
    (from_names, from_what): (&[&str], &str),
    (to_names, to_what): (&[&str], &str),
    lower_keys: bool,
) -> Result<HashMap<String, Vec<String>>> {
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .from_path(path)
        .with_context(|| format!("cannot read {what} {}", path.display()))?;
    let headers = rdr
        .headers()
        .with_context(|| format!("{}: cannot read the header", path.display()))?
        .clone();
    let fold = |s: &str| -> String {
        s.trim_start_matches('\u{feff}')
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect()
    };
    let find = |names: &[&str]| {
        headers
            .iter()
            .position(|h| names.contains(&fold(h).as_str()))
    };
    let from = find(from_names).with_context(|| format!("{}: no {from_what}", path.display()))?;
    let to = find(to_names).with_context(|| format!("{}: no {to_what}", path.display()))?;
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for (i, row) in rdr.records().enumerate() {
        let row = row.with_context(|| format!("{}: row {}", path.display(), i + 2))?;
        let (Some(c), Some(v)) = (row.get(from), row.get(to)) else {
            bail!("{}:{}: row has too few fields", path.display(), i + 2);
        };
        let (c, v) = (c.trim(), v.trim());
        if c.is_empty() || v.is_empty() {
            continue;
        }
        let key = if lower_keys {
            c.to_lowercase()
        } else {
            c.to_owned()
        };
        let entry = map.entry(key).or_default();
        if !entry.iter().any(|x| x.eq_ignore_ascii_case(v)) {
            entry.push(v.to_owned());
        }
    }
    Ok(map)
}
