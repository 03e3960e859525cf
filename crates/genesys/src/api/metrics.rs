//! External Metrics (`/api/v2/employeeperformance/externalmetrics/…`): the scorecard channel.

use super::*;

impl GenesysClient {
    /// External metric definitions (Employee Performance).
    ///
    /// # Errors
    /// Any [`GenesysError`].
    pub async fn list_metric_definitions(
        &self,
    ) -> Result<Vec<crate::models::ExternalMetricDefinition>, GenesysError> {
        // Every page: a missed page would create a second metric of the same name.
        self.all_pages(
            "/api/v2/employeeperformance/externalmetrics/definitions",
            &[],
            100,
        )
        .await
    }

    /// Creates an external metric definition (never re-sent blindly: list first).
    ///
    /// # Errors
    /// Any [`GenesysError`].
    pub async fn create_metric_definition(
        &self,
        def: &crate::models::ExternalMetricDefinition,
    ) -> Result<crate::models::ExternalMetricDefinition, GenesysError> {
        let path = "/api/v2/employeeperformance/externalmetrics/definitions";
        self.call(Method::POST, path, &[], Some(def), None, Resend::Never)
            .await?
            .ok_or_else(|| empty_body(path))
    }

    /// Writes up to 100 metric data points. `Total` items overwrite, so a retry is safe.
    ///
    /// # Errors
    /// Any [`GenesysError`].
    pub async fn write_metric_data(
        &self,
        items: &[crate::models::ExternalMetricDataItem],
    ) -> Result<crate::models::ExternalMetricDataWriteResponse, GenesysError> {
        let path = "/api/v2/employeeperformance/externalmetrics/data";
        let body = crate::models::ExternalMetricDataWriteRequest {
            items: items.to_vec(),
        };
        Ok(self
            .call(Method::POST, path, &[], Some(&body), None, Resend::Safe)
            .await?
            .unwrap_or_default())
    }
}
