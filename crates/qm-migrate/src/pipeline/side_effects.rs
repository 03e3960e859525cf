//! What creating the evaluations does in Genesys besides holding them, known before the first
//! create (reference/genesys-api.md §13):
//!
//! - **Release.** A released evaluation reaches its agent, who can dispute it for 45 days when the
//!   form allows it. `[form] release_policy = "immediate"` releases every migrated evaluation at its
//!   creation; `"never"` releases none; `"omit"` leaves it to Genesys (unverified #4).
//! - **Gamification.** When the evaluation score is a gamification metric, points are awarded on the
//!   release date: migrated evaluations would award points now. Read through the official
//!   Gamification API (`GET /api/v2/gamification/profiles`, `…/profiles/{id}/metrics`,
//!   `…/metricdefinitions`; `gamification:profile:view`): a gamified metric whose definition is the
//!   evaluation score (its name says "evaluation", or it divides `oTotalScore`) counts. Without the
//!   permission the answer is unknown and said so.

use anyhow::Result;
use genesys::GenesysClient;
use serde::Serialize;

use crate::config::Config;

/// What the migration will do to the org besides creating evaluations.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SideEffects {
    /// `[form] release_policy`.
    pub release_policy: String,
    /// Evaluations planned and not yet created that the policy releases to their agents (`None`:
    /// not planned yet, or the policy leaves it to Genesys).
    pub to_release: Option<u64>,
    /// Some active performance profile gamifies the evaluation score (`None`: could not be read).
    pub gamified_evaluation_score: Option<bool>,
    /// What was read, or why not.
    pub gamification_detail: String,
    /// What to do about it, when anything.
    pub recommendation: Option<String>,
}

impl SideEffects {
    /// In words: the release, then gamification.
    pub fn lines(&self) -> Vec<(bool, String)> {
        let release = match (self.release_policy.as_str(), self.to_release) {
            ("never", _) => "no migrated evaluation is released to its agent ([form] release_policy = \"never\")".to_owned(),
            ("omit", _) => "the release of migrated evaluations is left to Genesys ([form] release_policy = \"omit\"; unverified)".to_owned(),
            (_, Some(n)) => format!(
                "{n} migrated evaluations will be released to their agents as they are created ([form] release_policy = \"immediate\"): agents see them, and can dispute them for 45 days where the form allows it"
            ),
            (_, None) => "every migrated evaluation is released to its agent as it is created ([form] release_policy = \"immediate\"): agents see them, and can dispute them for 45 days where the form allows it".to_owned(),
        };
        let warn_release = self.release_policy == "immediate";
        let gamification = match self.gamified_evaluation_score {
            Some(true) => format!(
                "the org's gamification uses the evaluation score: {}",
                self.gamification_detail
            ),
            Some(false) => format!(
                "the org's gamification does not use the evaluation score ({})",
                self.gamification_detail
            ),
            None => format!(
                "whether the org's gamification uses the evaluation score is unknown ({}): if it does, points are awarded on each migrated evaluation's release date",
                self.gamification_detail
            ),
        };
        let warn_game =
            self.gamified_evaluation_score != Some(false) && self.release_policy != "never";
        let mut out = vec![(warn_release, release), (warn_game, gamification)];
        if let Some(r) = &self.recommendation {
            out.push((true, format!("recommendation: {r}")));
        }
        out
    }
}

/// Reads what the org's gamification does with the evaluation score, and counts what the policy
/// releases (`pending`: evaluations planned and not yet created, when a plan exists).
///
/// # Errors
/// None of its own: a refused or failed read is said in `gamification_detail`.
pub async fn read(
    cfg: &Config,
    client: &GenesysClient,
    pending: Option<u64>,
) -> Result<SideEffects> {
    let mut s = SideEffects {
        release_policy: cfg.form.release_policy.clone(),
        to_release: (cfg.form.release_policy == "immediate")
            .then_some(pending)
            .flatten(),
        ..SideEffects::default()
    };
    match gamification(client).await {
        Ok((uses, detail)) => {
            s.gamified_evaluation_score = Some(uses);
            s.gamification_detail = detail;
        }
        Err(e) => {
            s.gamification_detail = match &e {
                genesys::GenesysError::Api { status: 403, .. } => {
                    "the OAuth client lacks gamification:profile:view".to_owned()
                }
                _ => format!("cannot read the gamification profiles: {e}"),
            };
        }
    }
    s.recommendation = match (s.gamified_evaluation_score, s.release_policy.as_str()) {
        (Some(false), _) | (_, "never") => None,
        (Some(true), _) => Some(
            "set [form] release_policy = \"never\" (the history and the report keep the original dates and scores), or take the evaluation score out of the performance profiles while the migration runs: released migrated evaluations award gamification points now".into(),
        ),
        (None, _) => Some(
            "grant gamification:profile:view so preflight can tell, or set [form] release_policy = \"never\" if the evaluation score is a gamification metric".into(),
        ),
    };
    Ok(s)
}

/// Whether an active profile gamifies the evaluation score, and what was read.
async fn gamification(client: &GenesysClient) -> Result<(bool, String), genesys::GenesysError> {
    let definitions = client.gamification_metric_definitions().await?;
    let score_definitions: Vec<String> = definitions
        .iter()
        .filter(|d| {
            d.name
                .as_deref()
                .is_some_and(|n| n.to_lowercase().contains("evaluation"))
                || d.dividend_metrics
                    .iter()
                    .any(|m| m == "oTotalScore" || m == "oTotalCriticalScore")
        })
        .filter_map(|d| d.id.clone())
        .collect();
    let profiles = client.gamification_profiles().await?;
    let active: Vec<_> = profiles
        .iter()
        .filter(|p| p.active != Some(false))
        .collect();
    let mut using = Vec::new();
    for p in &active {
        let metrics = client.gamification_profile_metrics(&p.id).await?;
        if metrics.iter().any(|m| {
            m.metric_definition_id
                .as_ref()
                .is_some_and(|d| score_definitions.contains(d))
        }) {
            using.push(p.name.clone().unwrap_or_else(|| p.id.clone()));
        }
    }
    let detail = if using.is_empty() {
        format!("{} active performance profiles read", active.len())
    } else {
        format!(
            "performance profile(s) {} gamify it, so points are awarded on each migrated evaluation's release date",
            using.join(", ")
        )
    };
    Ok((!using.is_empty(), detail))
}
