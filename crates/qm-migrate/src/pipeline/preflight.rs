//! `preflight`: before anything is written, what the migration needs, checked by reading only, and
//! said in plain words.
//!
//! 1. The host answers and the credentials get a token.
//! 2. Each permission of reference/genesys-api.md §9 that this configuration uses is granted. They
//!    are read from the OAuth client's roles (`GET /api/v2/oauth/clients/{id}` → `roleDivisions`,
//!    then `GET /api/v2/authorization/roles/{id}` → `permissionPolicies`) when the client may read
//!    them; else each one a harmless read can show is inferred from that read (a 403 means missing)
//!    and the ones only a write could show are reported as unknown — never tested by writing.
//! 3. The org's real limits (`…/limits/namespaces/quality` and `platform.api`): the per-agent daily
//!    cap and the request rate, which `run` feeds into the scheduler.
//! 4. What creating the evaluations does besides (`side_effects`): how many are released to their
//!    agents under `[form] release_policy`, and whether the org's gamification awards points for them.
//! 5. For the Calabrio API source: login and one contact read.
//!
//! The migration can run (exit code 0) only when nothing is `missing` or `failed`; `unknown` and
//! `warning` are said but do not stop it.

use anyhow::Result;
use genesys::{GenesysClient, GenesysError};
use serde::Serialize;

use crate::config::Config;

/// The outcome of one check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Fine.
    Ok,
    /// Worth knowing; the migration can run.
    Warning,
    /// Could not be checked without writing.
    Unknown,
    /// A needed permission is not granted.
    Missing,
    /// The check failed: the migration cannot run.
    Failed,
}

/// One line of the preflight.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// What was checked (a permission string for permissions).
    pub what: String,
    /// Its outcome.
    pub verdict: Verdict,
    /// In plain words.
    pub detail: String,
}

/// The whole preflight.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Preflight {
    /// Every check, in order.
    pub checks: Vec<Check>,
    /// `roles` (read from the client's roles) or `inferred` (from harmless reads).
    pub permissions_from: String,
    /// The org's `evaluations.per.agent.per.day`, when readable.
    pub per_agent_daily_cap: Option<u32>,
    /// The org's `client.credentials.token.rate.per.minute`, when readable.
    pub requests_per_minute: Option<u32>,
    /// Requests sent to Genesys.
    pub requests: u64,
    /// What creating the evaluations does besides: their release to agents, gamification points.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub side_effects: Option<crate::pipeline::side_effects::SideEffects>,
}

impl Preflight {
    /// True when the migration can run.
    pub fn runnable(&self) -> bool {
        !self
            .checks
            .iter()
            .any(|c| matches!(c.verdict, Verdict::Missing | Verdict::Failed))
    }

    /// The checks that stop the migration.
    pub fn blocking(&self) -> Vec<&Check> {
        self.checks
            .iter()
            .filter(|c| matches!(c.verdict, Verdict::Missing | Verdict::Failed))
            .collect()
    }

    fn push(&mut self, what: &str, verdict: Verdict, detail: impl Into<String>) {
        self.checks.push(Check {
            what: what.to_owned(),
            verdict,
            detail: detail.into(),
        });
    }
}

/// The create and the evaluation operations, as the permissions table writes them.
const EVALUATIONS: &str = "/api/v2/quality/conversations/{conversationId}/evaluations";
const EVALUATION: &str =
    "/api/v2/quality/conversations/{conversationId}/evaluations/{evaluationId}";

/// A permission this configuration needs: any one of `any` grants it. `any` comes from the one
/// table of operations and their permissions (`genesys::permissions::OPERATIONS`) that the
/// emulator also admits requests by.
struct Need {
    any: &'static [&'static str],
    why: &'static str,
    /// Missing stops the migration (else it is a warning: only rollback or fixes need it).
    required: bool,
    /// The harmless read that shows it: path and query.
    probe: Option<(&'static str, &'static [(&'static str, &'static str)])>,
}

const ZERO_ID: &str = "00000000-0000-0000-0000-000000000000";

fn needs(cfg: &Config) -> Vec<Need> {
    use genesys::permissions::needed;
    let mut v = vec![
        Need {
            any: needed("POST", EVALUATIONS),
            why: "create the evaluations",
            required: true,
            probe: None,
        },
        Need {
            any: needed("GET", "/api/v2/quality/evaluations/query"),
            why: "look for an existing evaluation before a retry, and verify",
            required: true,
            probe: Some((
                "/api/v2/quality/evaluations/query",
                &[("conversationId", ZERO_ID), ("pageSize", "1")],
            )),
        },
        Need {
            any: needed("POST", "/api/v2/quality/publishedforms/evaluations"),
            why: "create and publish the Legacy Migration Form",
            required: true,
            probe: None,
        },
        Need {
            any: needed("GET", "/api/v2/quality/forms/evaluations"),
            why: "read the published form",
            required: true,
            probe: Some(("/api/v2/quality/forms/evaluations", &[("pageSize", "1")])),
        },
        Need {
            any: needed("PUT", "/api/v2/quality/forms/evaluations/{formId}"),
            why: "edit form drafts",
            required: true,
            probe: None,
        },
        Need {
            any: needed("GET", "/api/v2/users"),
            why: "read the user directory to resolve people",
            required: true,
            probe: Some(("/api/v2/users", &[("pageSize", "1")])),
        },
        Need {
            any: needed("GET", "/api/v2/analytics/conversations/details"),
            why: "check that linked conversations exist and who took part",
            required: true,
            probe: Some((
                "/api/v2/analytics/conversations/details",
                &[("id", ZERO_ID)],
            )),
        },
        Need {
            any: needed("DELETE", EVALUATION),
            why: "rollback (delete the evaluations this tool created)",
            required: false,
            probe: None,
        },
        Need {
            // Of the three permissions that admit the update, only `edit` lets it change the
            // comments and the answers, which is what the sync's update does.
            any: needed("PUT", EVALUATION).get(..1).unwrap_or_default(),
            why: "update a migrated evaluation whose Calabrio record changed (the sync), or fix one",
            required: false,
            probe: None,
        },
    ];
    if cfg.verify.timeline {
        v.push(Need {
            any: needed("POST", "/api/v2/analytics/evaluations/aggregates/query"),
            why: "verify the timeline Genesys' evaluation analytics show ([verify] timeline)",
            required: false,
            probe: None,
        });
    }
    if cfg.verify.audit {
        v.push(Need {
            any: needed("POST", "/api/v2/quality/conversations/audits/query"),
            why: "cross-check Genesys' audit trail of our evaluations ([verify] audit)",
            required: false,
            probe: None,
        });
    }
    v.push(Need {
        any: needed("GET", "/api/v2/gamification/profiles"),
        why: "tell whether the org's gamification awards points for migrated evaluations",
        required: false,
        probe: Some(("/api/v2/gamification/profiles", &[])),
    });
    if cfg.scorecard.enabled {
        v.push(Need {
            any: needed(
                "POST",
                "/api/v2/employeeperformance/externalmetrics/definitions",
            ),
            why: "create the scorecard metric ([scorecard] enabled)",
            required: true,
            probe: None,
        });
        v.push(Need {
            any: needed("POST", "/api/v2/employeeperformance/externalmetrics/data"),
            why: "send the scorecard points ([scorecard] enabled)",
            required: true,
            probe: None,
        });
    }
    if cfg.history.client_app_url.is_some() {
        v.push(Need {
            any: needed("GET", "/api/v2/integrations"),
            why: "find the history client app ([history] client_app_url)",
            required: true,
            probe: Some(("/api/v2/integrations", &[("pageSize", "1")])),
        });
        v.push(Need {
            any: needed("POST", "/api/v2/integrations"),
            why: "register the history client app ([history] client_app_url)",
            required: true,
            probe: None,
        });
        v.push(Need {
            any: needed("PATCH", "/api/v2/integrations/{integrationId}"),
            why: "configure and enable the history client app",
            required: true,
            probe: None,
        });
    }
    v
}

fn is_forbidden(e: &GenesysError) -> bool {
    matches!(e, GenesysError::Api { status: 403, .. })
}

/// The permissions the client's roles grant, or why they could not be read.
async fn role_permissions(
    client: &GenesysClient,
    client_id: &str,
) -> Result<(Vec<String>, Vec<String>), String> {
    let roles = client
        .oauth_client_roles(client_id)
        .await
        .map_err(|e| format!("the OAuth client cannot be read ({e})"))?;
    let mut held = Vec::new();
    let mut names = Vec::new();
    for r in roles {
        let (name, perms) = client
            .role_permissions(&r)
            .await
            .map_err(|e| format!("role {r} cannot be read ({e})"))?;
        names.push(name);
        held.extend(perms);
    }
    Ok((held, names))
}

/// Runs every check. `client_id` is the OAuth client's id (its roles are read by it).
///
/// # Errors
/// None of its own: every failure is a check.
pub async fn run(cfg: &Config, client: &GenesysClient, client_id: &str) -> Result<Preflight> {
    // A one-shot check: an outage is reported as it comes (each check `unknown`), not waited out.
    let patient = client.set_patient(false);
    let out = checks(cfg, client, client_id).await;
    client.set_patient(patient);
    out
}

async fn checks(cfg: &Config, client: &GenesysClient, client_id: &str) -> Result<Preflight> {
    let before = client.requests_sent();
    let mut p = Preflight::default();
    let (api, _) = cfg.endpoints()?;
    // 1. Host and token.
    match client.authenticate().await {
        Ok(()) => p.push(
            "credentials",
            Verdict::Ok,
            format!("{api} answers and the client credentials get a token"),
        ),
        Err(e) => {
            let detail = match &e {
                GenesysError::Transport { .. } => format!(
                    "{api} does not answer ({e}): check [genesys] region or api_url and the network"
                ),
                _ => format!(
                    "the client credentials were refused ({e}): check GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET"
                ),
            };
            p.push("credentials", Verdict::Failed, detail);
            p.requests = client.requests_sent().saturating_sub(before);
            return Ok(p);
        }
    }
    // 2. Permissions.
    let needs = needs(cfg);
    match role_permissions(client, client_id).await {
        Ok((held, roles)) => {
            p.permissions_from = "roles".into();
            p.push(
                "roles",
                Verdict::Ok,
                format!(
                    "permissions read from the client's role(s): {}",
                    if roles.is_empty() {
                        "(none)".to_owned()
                    } else {
                        roles.join(", ")
                    }
                ),
            );
            for n in &needs {
                let granted = n.any.iter().any(|x| genesys::permissions::grants(&held, x));
                let verdict = match (granted, n.required) {
                    (true, _) => Verdict::Ok,
                    (false, true) => Verdict::Missing,
                    (false, false) => Verdict::Warning,
                };
                p.push(&n.any.join(" or "), verdict, permission_detail(n, granted));
            }
        }
        Err(why) => {
            p.permissions_from = "inferred".into();
            p.push(
                "roles",
                Verdict::Warning,
                format!(
                    "{why}; permissions are inferred from harmless reads (grant oauth:client:view and authorization:role:view to check them all)"
                ),
            );
            for n in &needs {
                let Some((path, query)) = n.probe else {
                    p.push(
                        &n.any.join(" or "),
                        if n.required {
                            Verdict::Unknown
                        } else {
                            Verdict::Warning
                        },
                        format!(
                            "needed to {}: cannot be checked without writing, and the roles are not readable",
                            n.why
                        ),
                    );
                    continue;
                };
                let q: Vec<(&str, String)> =
                    query.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
                match client.probe_get(path, &q).await {
                    Err(e) if is_forbidden(&e) => {
                        let verdict = if n.required {
                            Verdict::Missing
                        } else {
                            Verdict::Warning
                        };
                        p.push(&n.any.join(" or "), verdict, permission_detail(n, false));
                    }
                    // 200, or a 400/404 about the zero id (it does not exist): the permission
                    // let the request through.
                    Ok(_)
                    | Err(GenesysError::Api {
                        status: 400 | 404, ..
                    }) => {
                        p.push(&n.any.join(" or "), Verdict::Ok, permission_detail(n, true));
                    }
                    // A 5xx, a 401, a throttle or no answer says nothing about the permission.
                    Err(e) => p.push(
                        &n.any.join(" or "),
                        Verdict::Unknown,
                        format!(
                            "needed to {}: GET {path} did not tell ({e}); run preflight again",
                            n.why
                        ),
                    ),
                }
            }
        }
    }
    // 3. Org limits.
    match client.org_limits("quality").await {
        Ok(l) => match l.get("evaluations.per.agent.per.day") {
            Some(v) => {
                let cap = *v as u32;
                p.per_agent_daily_cap = Some(cap);
                let note = if cap == cfg.genesys.per_agent_daily_cap {
                    String::new()
                } else {
                    format!(
                        "; the config says {}: run uses the org's {cap}",
                        cfg.genesys.per_agent_daily_cap
                    )
                };
                p.push(
                    "quality limits",
                    Verdict::Ok,
                    format!("{cap} evaluations per agent per 24 h{note}"),
                );
            }
            None => p.push(
                "quality limits",
                Verdict::Warning,
                format!(
                    "the quality namespace has no evaluations.per.agent.per.day: using [genesys] per_agent_daily_cap = {}",
                    cfg.genesys.per_agent_daily_cap
                ),
            ),
        },
        Err(e) => p.push(
            "quality limits",
            Verdict::Warning,
            format!(
                "cannot read the org's quality limits ({e}): using [genesys] per_agent_daily_cap = {}",
                cfg.genesys.per_agent_daily_cap
            ),
        ),
    }
    match client.org_limits("platform.api").await {
        Ok(l) => match l.get("client.credentials.token.rate.per.minute") {
            Some(v) => {
                let rpm = *v as u32;
                p.requests_per_minute = Some(rpm);
                let note = if rpm < cfg.genesys.requests_per_minute {
                    format!(
                        "; the config says {}: run uses the org's {rpm}",
                        cfg.genesys.requests_per_minute
                    )
                } else {
                    String::new()
                };
                p.push(
                    "API rate",
                    Verdict::Ok,
                    format!("{rpm} requests per minute for a client-credentials token{note}"),
                );
            }
            None => p.push(
                "API rate",
                Verdict::Warning,
                "platform.api has no client.credentials.token.rate.per.minute: using [genesys] requests_per_minute",
            ),
        },
        Err(e) => p.push(
            "API rate",
            Verdict::Warning,
            format!("cannot read the org's platform.api limits ({e}): using [genesys] requests_per_minute"),
        ),
    }
    // 4. What creating the evaluations does besides (reads only).
    let pending = if cfg.ledger.path.exists() {
        crate::ledger::Ledger::open(&cfg.ledger.path)
            .and_then(|l| l.unsent_count())
            .ok()
    } else {
        None
    };
    let effects = crate::pipeline::side_effects::read(cfg, client, pending).await?;
    for (i, (warn, line)) in effects.lines().into_iter().enumerate() {
        p.push(
            ["release", "gamification", "recommendation"]
                .get(i)
                .copied()
                .unwrap_or("side effect"),
            if warn { Verdict::Warning } else { Verdict::Ok },
            line,
        );
    }
    p.side_effects = Some(effects);
    p.requests = client.requests_sent().saturating_sub(before);
    // 5. The Calabrio API source.
    if cfg.source.kind == "calabrio-api" {
        calabrio_check(cfg, &mut p).await;
    }
    Ok(p)
}

fn permission_detail(n: &Need, granted: bool) -> String {
    match (granted, n.required) {
        (true, _) => format!("granted: needed to {}", n.why),
        (false, true) => format!(
            "not granted: the migration needs it to {}; add it to the OAuth client's role",
            n.why
        ),
        (false, false) => format!("not granted: needed only to {}", n.why),
    }
}

async fn calabrio_check(cfg: &Config, p: &mut Preflight) {
    let opts = match crate::extract::api_options(cfg) {
        Ok(o) => o,
        Err(e) => {
            p.push("Calabrio API", Verdict::Failed, format!("{e:#}"));
            return;
        }
    };
    let url = opts.base_url.clone();
    let day = |s: &Option<String>| {
        s.as_deref()
            .and_then(|d| d.parse::<jiff::civil::Date>().ok())
    };
    let from = day(&cfg.source.from);
    let to = day(&cfg.source.to).unwrap_or_else(|| {
        jiff::tz::TimeZone::UTC
            .to_datetime(jiff::Timestamp::now())
            .date()
    });
    let Some(from) = from else {
        p.push(
            "Calabrio API",
            Verdict::Failed,
            "[source] from is missing or not a date (YYYY-MM-DD)",
        );
        return;
    };
    let api = match calabrio::api::CalabrioApi::connect(opts).await {
        Ok(a) => a,
        Err(e) => {
            p.push(
                "Calabrio API",
                Verdict::Failed,
                format!("cannot log in to {url}: {e}"),
            );
            return;
        }
    };
    p.push("Calabrio login", Verdict::Ok, format!("logged in to {url}"));
    match api.probe(from, to).await {
        Ok((n, Some(id))) => p.push(
            "Calabrio contacts",
            Verdict::Ok,
            format!("{n} contacts from {from} to {to}; contact {id} read"),
        ),
        Ok((_, None)) => p.push(
            "Calabrio contacts",
            Verdict::Warning,
            format!("no contact from {from} to {to}: nothing to migrate in that window"),
        ),
        Err(e) => p.push(
            "Calabrio contacts",
            Verdict::Failed,
            format!("cannot read contacts: {e}"),
        ),
    }
    api.logout().await;
}

/// The preflight as text, one line per check.
pub fn human(p: &Preflight) -> String {
    let mut out = String::new();
    for c in &p.checks {
        let mark = match c.verdict {
            Verdict::Ok => "ok     ",
            Verdict::Warning => "warning",
            Verdict::Unknown => "unknown",
            Verdict::Missing => "MISSING",
            Verdict::Failed => "FAILED ",
        };
        out.push_str(&format!("  {mark}  {}: {}\n", c.what, c.detail));
    }
    if p.runnable() {
        out.push_str("preflight: the migration can run\n");
    } else {
        out.push_str(&format!(
            "preflight: the migration cannot run: {}\n",
            p.blocking()
                .iter()
                .map(|c| c.what.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_need_names_the_permissions_of_an_operation_in_the_table() {
        let mut cfg = Config::default();
        cfg.scorecard.enabled = true;
        cfg.history.client_app_url = Some("https://example.com/history".into());
        let all = needs(&cfg);
        // 14, and (#25) the evaluation aggregates of the timeline check and the gamification read,
        // and (#27) the audit trail.
        assert_eq!(all.len(), 17);
        let audit = all.iter().find(|n| n.why.contains("audit trail")).unwrap();
        assert_eq!(audit.any, ["audits:interactionDetails:view"]);
        assert!(!audit.required, "verify goes on without it");
        for n in &all {
            assert!(!n.any.is_empty(), "{} names no permission", n.why);
        }
        let update = all.iter().find(|n| n.why.contains("the sync")).unwrap();
        assert_eq!(update.any, ["quality:evaluation:edit"]);
    }
}
