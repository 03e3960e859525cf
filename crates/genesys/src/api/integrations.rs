//! Integrations (`/api/v2/integrations`): the External Metrics source application.

use super::*;

impl GenesysClient {
    /// Integrations (client apps among them): id, name, `intendedState`, `integrationType.id`.
    ///
    /// # Errors
    /// Any [`GenesysError`].
    pub async fn list_integrations(&self) -> Result<Vec<serde_json::Value>, GenesysError> {
        // Every page: a missed page would register a second client app.
        self.all_pages("/api/v2/integrations", &[], 100).await
    }

    /// Registers an embedded client app (`integrationType` `embedded-client-app`) showing `url`,
    /// configured and enabled: `POST /api/v2/integrations`, `PUT …/{id}/config/current`,
    /// `PATCH …/{id}` with `intendedState` `ENABLED` (the SDKs' sequence). Returns its id.
    ///
    /// # Errors
    /// Any [`GenesysError`].
    pub async fn register_client_app(
        &self,
        existing_id: Option<&str>,
        name: &str,
        url: &str,
    ) -> Result<String, GenesysError> {
        let id = match existing_id {
            Some(id) => id.to_owned(),
            None => {
                let body = serde_json::json!({"name": name, "integrationType": {"id": "embedded-client-app"}});
                let created: serde_json::Value = self
                    .call(
                        Method::POST,
                        "/api/v2/integrations",
                        &[],
                        Some(&body),
                        None,
                        Resend::Never,
                    )
                    .await?
                    .unwrap_or_default();
                created["id"]
                    .as_str()
                    .map(str::to_owned)
                    .ok_or_else(|| empty_body("/api/v2/integrations"))?
            }
        };
        let config = serde_json::json!({
            "name": name,
            "version": 1,
            "properties": {
                "url": url,
                "displayType": "standalone",
                "sandbox": "allow-scripts,allow-same-origin,allow-forms"
            },
            "advanced": {},
            "notes": "QM history migrated from Calabrio ONE by qm-migrate",
            "credentials": {}
        });
        let path = format!("/api/v2/integrations/{id}/config/current");
        self.call::<_, serde_json::Value>(
            Method::PUT,
            &path,
            &[],
            Some(&config),
            None,
            Resend::Safe,
        )
        .await?;
        let path = format!("/api/v2/integrations/{id}");
        self.call::<_, serde_json::Value>(
            Method::PATCH,
            &path,
            &[],
            Some(&serde_json::json!({"intendedState": "ENABLED"})),
            None,
            Resend::Safe,
        )
        .await?;
        Ok(id)
    }
}
