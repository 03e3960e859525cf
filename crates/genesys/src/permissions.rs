//! Genesys permission strings, `domain:entity:action`, where a role's entity or action may be `*`,
//! and the one table of the operations qm-migrate calls with the permissions Genesys documents for
//! each (the SDK's "Requires ANY permissions"). The emulator admits requests by this table and
//! `preflight` checks a client's roles against it, so the two cannot drift apart.

/// An operation and the permissions that admit it: any one of `any`.
#[derive(Debug, Clone, Copy)]
pub struct Operation {
    /// HTTP method.
    pub method: &'static str,
    /// Path template as the API reference writes it (`{…}` is one path segment).
    pub path: &'static str,
    /// Any one of these grants it.
    pub any: &'static [&'static str],
}

const fn op(method: &'static str, path: &'static str, any: &'static [&'static str]) -> Operation {
    Operation { method, path, any }
}

const FORM_VIEW: &[&str] = &["quality:evaluationForm:view"];
const FORM_ADD: &[&str] = &["quality:evaluationForm:add"];
/// The quality audit query, its state and its results (SDK: "Requires ANY permissions:
/// audits:interactionDetails:view").
const AUDITS: &[&str] = &["audits:interactionDetails:view"];
const AUDIT_QUERY: &str = "/api/v2/quality/conversations/audits/query";
const CONVERSATION_DETAIL: &[&str] = &[
    "analytics:conversationDetail:view",
    "analytics:agentConversationDetail:view",
];

/// Every operation qm-migrate calls (reference/genesys-api.md §9 and the SDK's documentation).
pub const OPERATIONS: &[Operation] = &[
    op("GET", "/api/v2/users", &["directory:user:view"]),
    op("POST", "/api/v2/users/search", &["directory:user:view"]),
    op("GET", "/api/v2/users/{userId}", &["directory:user:view"]),
    op("GET", "/api/v2/quality/forms/evaluations", FORM_VIEW),
    op("POST", "/api/v2/quality/forms/evaluations", FORM_ADD),
    op(
        "GET",
        "/api/v2/quality/forms/evaluations/{formId}",
        FORM_VIEW,
    ),
    op(
        "PUT",
        "/api/v2/quality/forms/evaluations/{formId}",
        &["quality:evaluationForm:edit"],
    ),
    op(
        "DELETE",
        "/api/v2/quality/forms/evaluations/{formId}",
        &["quality:evaluationForm:delete"],
    ),
    op(
        "GET",
        "/api/v2/quality/publishedforms/evaluations",
        FORM_VIEW,
    ),
    op(
        "POST",
        "/api/v2/quality/publishedforms/evaluations",
        FORM_ADD,
    ),
    op(
        "GET",
        "/api/v2/quality/publishedforms/evaluations/{formId}",
        FORM_VIEW,
    ),
    op(
        "POST",
        "/api/v2/quality/conversations/{conversationId}/evaluations",
        &["quality:evaluation:add"],
    ),
    op(
        "GET",
        "/api/v2/quality/conversations/{conversationId}/evaluations/{evaluationId}",
        &["quality:evaluation:view"],
    ),
    // The SDK: edit changes most fields, editScore only the scores, editAgentSignoff only the
    // agent's comment and sign-off; any one admits the request.
    op(
        "PUT",
        "/api/v2/quality/conversations/{conversationId}/evaluations/{evaluationId}",
        &[
            "quality:evaluation:edit",
            "quality:evaluation:editScore",
            "quality:evaluation:editAgentSignoff",
        ],
    ),
    op(
        "DELETE",
        "/api/v2/quality/conversations/{conversationId}/evaluations/{evaluationId}",
        &["quality:evaluation:delete"],
    ),
    op(
        "GET",
        "/api/v2/quality/evaluations/query",
        &["quality:evaluation:view"],
    ),
    op(
        "POST",
        "/api/v2/quality/evaluations/scoring",
        &["quality:evaluation:view"],
    ),
    op(
        "GET",
        "/api/v2/analytics/conversations/details",
        CONVERSATION_DETAIL,
    ),
    op(
        "POST",
        "/api/v2/analytics/conversations/details/query",
        CONVERSATION_DETAIL,
    ),
    op(
        "GET",
        "/api/v2/analytics/conversations/{conversationId}/details",
        CONVERSATION_DETAIL,
    ),
    op(
        "POST",
        "/api/v2/analytics/evaluations/aggregates/query",
        &["analytics:evaluationAggregate:view"],
    ),
    op("POST", AUDIT_QUERY, AUDITS),
    op(
        "GET",
        "/api/v2/quality/conversations/audits/query/{transactionId}",
        AUDITS,
    ),
    op(
        "GET",
        "/api/v2/quality/conversations/audits/query/{transactionId}/results",
        AUDITS,
    ),
    op(
        "GET",
        "/api/v2/gamification/profiles",
        &["gamification:profile:view"],
    ),
    op(
        "GET",
        "/api/v2/gamification/profiles/{profileId}/metrics",
        &[
            "gamification:profile:view",
            "gamification:leaderboard:view",
            "gamification:scorecard:view",
        ],
    ),
    op(
        "GET",
        "/api/v2/gamification/metricdefinitions",
        &["gamification:profile:view"],
    ),
    op(
        "GET",
        "/api/v2/conversations/{conversationId}",
        &["conversation:communication:view"],
    ),
    op(
        "GET",
        "/api/v2/employeeperformance/externalmetrics/definitions",
        &["employeePerformance:externalMetricDefinition:view"],
    ),
    op(
        "POST",
        "/api/v2/employeeperformance/externalmetrics/definitions",
        &["employeePerformance:externalMetricDefinition:add"],
    ),
    op(
        "POST",
        "/api/v2/employeeperformance/externalmetrics/data",
        &["employeePerformance:externalMetricData:add"],
    ),
    op(
        "GET",
        "/api/v2/integrations",
        &["integrations:integration:view"],
    ),
    op(
        "POST",
        "/api/v2/integrations",
        &["integrations:integration:add"],
    ),
    op(
        "PATCH",
        "/api/v2/integrations/{integrationId}",
        &["integrations:integration:edit"],
    ),
    op(
        "PUT",
        "/api/v2/integrations/{integrationId}/config/current",
        &["integrations:integration:edit"],
    ),
    op(
        "GET",
        "/api/v2/oauth/clients/{clientId}",
        &["oauth:client:view"],
    ),
    op(
        "GET",
        "/api/v2/authorization/roles/{roleId}",
        &["authorization:role:view"],
    ),
];

/// The permissions of the operation `method path` (any one admits it); empty for an operation not
/// in [`OPERATIONS`]. Path parameters match whatever they are named (`{id}` matches
/// `{conversationId}`), and a concrete path matches its template.
pub fn needed(method: &str, path: &str) -> &'static [&'static str] {
    OPERATIONS
        .iter()
        .find(|o| o.method.eq_ignore_ascii_case(method) && same_path(o.path, path))
        .map_or(&[], |o| o.any)
}

fn same_path(template: &str, path: &str) -> bool {
    let (mut t, mut p) = (template.split('/'), path.split('/'));
    loop {
        match (t.next(), p.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) => {
                let param = |s: &str| s.starts_with('{') && s.ends_with('}');
                if !(a == b || (param(a) && !b.is_empty())) {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// Every permission some operation of [`OPERATIONS`] names, once, in table order.
pub fn all() -> Vec<&'static str> {
    let mut out: Vec<&'static str> = Vec::new();
    for p in OPERATIONS.iter().flat_map(|o| o.any.iter()) {
        if !out.contains(p) {
            out.push(p);
        }
    }
    out
}

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
    use super::{grants, needed};

    #[test]
    fn operations_are_found_by_template_or_concrete_path() {
        let put = "/api/v2/quality/conversations/{cid}/evaluations/{eid}";
        assert_eq!(needed("PUT", put).len(), 3);
        assert!(needed("PUT", put).contains(&"quality:evaluation:edit"));
        assert_eq!(
            needed("delete", "/api/v2/quality/conversations/c1/evaluations/e1"),
            &["quality:evaluation:delete"]
        );
        assert_eq!(needed("GET", "/api/v2/users/u1"), &["directory:user:view"]);
        assert!(needed("GET", "/api/v2/users/u1/extra").is_empty());
        assert!(needed("GET", "/api/v2/quality/conversations//evaluations/e1").is_empty());
        assert!(needed("POST", "/api/v2/users").is_empty());
    }

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
