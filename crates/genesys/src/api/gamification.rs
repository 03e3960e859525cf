//! Gamification reads (`/api/v2/gamification/…`): whether the org's performance profiles gamify
//! the evaluation score (migrated evaluations would then award points on their release date).

use super::*;
use crate::models::{Entities, GamificationMetricDefinition, GamifiedMetric, PerformanceProfile};

impl GenesysClient {
    /// The org's performance profiles.
    ///
    /// # Errors
    /// Any [`GenesysError`].
    pub async fn gamification_profiles(&self) -> Result<Vec<PerformanceProfile>, GenesysError> {
        let got: Entities<PerformanceProfile> =
            self.get("/api/v2/gamification/profiles", &[]).await?;
        Ok(got.entities)
    }

    /// The gamified metrics of profile `profile_id`.
    ///
    /// # Errors
    /// Any [`GenesysError`].
    pub async fn gamification_profile_metrics(
        &self,
        profile_id: &str,
    ) -> Result<Vec<GamifiedMetric>, GenesysError> {
        let got: Entities<GamifiedMetric> = self
            .get(
                &format!("/api/v2/gamification/profiles/{profile_id}/metrics"),
                &[],
            )
            .await?;
        Ok(got.entities)
    }

    /// The gamification metric definitions.
    ///
    /// # Errors
    /// Any [`GenesysError`].
    pub async fn gamification_metric_definitions(
        &self,
    ) -> Result<Vec<GamificationMetricDefinition>, GenesysError> {
        let got: Entities<GamificationMetricDefinition> = self
            .get("/api/v2/gamification/metricdefinitions", &[])
            .await?;
        Ok(got.entities)
    }
}
