//! Gamification reads (`/api/v2/gamification/…`): one performance profile whose gamified metrics
//! include the built-in evaluation score when `Settings::gamified_evaluation_score` is on (the org
//! would award points for migrated evaluations on their release date), else only handle time.

use super::*;

const PROFILE: &str = "f1a7e5a0-0000-4000-8000-00000000a001";
const EVALUATION_SCORE: &str = "f1a7e5a0-0000-4000-8000-00000000d001";
const HANDLE_TIME: &str = "f1a7e5a0-0000-4000-8000-00000000d002";

pub(crate) async fn gamification_profiles(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
) -> Response {
    admit!(st, headers);
    Json(json!({
        "entities": [{"id": PROFILE, "name": "Agents", "active": true,
                      "selfUri": format!("/api/v2/gamification/profiles/{PROFILE}")}],
        "total": 1,
    }))
    .into_response()
}

pub(crate) async fn gamification_profile_metrics(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
    Path(profile): Path<String>,
) -> Response {
    admit!(st, headers);
    if profile != PROFILE {
        return not_found(&format!("performance profile {profile}"));
    }
    let mut metrics = vec![json!({"id": "m-aht", "name": "Average handle time",
        "metricDefinitionId": HANDLE_TIME, "performanceProfileId": PROFILE})];
    if st.inner.settings.gamified_evaluation_score {
        metrics.push(json!({"id": "m-eval", "name": "Evaluation score",
            "metricDefinitionId": EVALUATION_SCORE, "performanceProfileId": PROFILE}));
    }
    let total = metrics.len();
    Json(json!({ "entities": metrics, "total": total })).into_response()
}

pub(crate) async fn gamification_metric_definitions(
    State(st): State<EmulatorState>,
    headers: HeaderMap,
) -> Response {
    admit!(st, headers);
    Json(json!({
        "entities": [
            {"id": EVALUATION_SCORE, "name": "Evaluation Score", "unitType": "Percent",
             "dividendMetrics": ["oTotalScore"]},
            {"id": HANDLE_TIME, "name": "Average Handle Time", "unitType": "Seconds",
             "dividendMetrics": ["tHandle"], "divisorMetrics": ["tHandle"]},
        ],
        "total": 2,
    }))
    .into_response()
}
