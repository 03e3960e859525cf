//! Genesys permission strings, `domain:entity:action`, where a role's entity or action may be `*`.

/// True when any of `held` grants `needed` (`domain:entity:action`; `*` in a held entity or action
/// grants every one; a held `domain:*` or `domain:*:*` grants the whole domain).
pub fn grants(held: &[String], needed: &str) -> bool {
    let want: Vec<&str> = needed.split(':').collect();
    held.iter().any(|h| {
        let have: Vec<&str> = h.split(':').collect();
        have.len() <= 3
            && want.len() == 3
            && want.iter().enumerate().all(|(i, w)| match have.get(i) {
                Some(&"*") => true,
                Some(h) => h == w,
                // `domain:*` covers the rest.
                None => have.last() == Some(&"*"),
            })
    })
}

#[cfg(test)]
mod tests {
    use super::grants;

    fn held(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn exact_and_wildcard_permissions() {
        let h = held(&["quality:evaluation:add", "directory:*:*", "analytics:*"]);
        assert!(grants(&h, "quality:evaluation:add"));
        assert!(!grants(&h, "quality:evaluation:delete"));
        assert!(!grants(&h, "quality:evaluationForm:add"));
        assert!(grants(&h, "directory:user:view"));
        assert!(grants(&h, "analytics:conversationDetail:view"));
        assert!(!grants(&h, "conversation:communication:view"));
        assert!(!grants(
            &held(&["quality:evaluation"]),
            "quality:evaluation:add"
        ));
        assert!(!grants(&held(&[]), "quality:evaluation:add"));
    }
}
