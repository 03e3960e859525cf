//! Limits and permissions (`/api/v2/organizations/limits`, `/api/v2/oauth/clients`,
//! `/api/v2/authorization/roles`): what `preflight` reads.

use super::*;

impl GenesysClient {
    /// The org's effective limits in a namespace (`quality`, `platform.api`): key → value.
    ///
    /// # Errors
    /// Any [`GenesysError`].
    pub async fn org_limits(
        &self,
        namespace: &str,
    ) -> Result<std::collections::BTreeMap<String, f64>, GenesysError> {
        let listing: serde_json::Value = self
            .get(
                &format!("/api/v2/organizations/limits/namespaces/{namespace}"),
                &[],
            )
            .await?;
        Ok(listing["entities"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| Some((l["key"].as_str()?.to_owned(), l["value"].as_f64()?)))
            .collect())
    }

    /// The OAuth client `client_id` (`GET /api/v2/oauth/clients/{id}`): its role ids, from
    /// `roleDivisions[].roleId` (and the older `roleIds`).
    ///
    /// # Errors
    /// Any [`GenesysError`]; 403 when the client may not read OAuth clients.
    pub async fn oauth_client_roles(&self, client_id: &str) -> Result<Vec<String>, GenesysError> {
        let c: serde_json::Value = self
            .get(&format!("/api/v2/oauth/clients/{client_id}"), &[])
            .await?;
        let mut roles: Vec<String> = c["roleDivisions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|d| d["roleId"].as_str().map(str::to_owned))
            .chain(
                c["roleIds"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r.as_str().map(str::to_owned)),
            )
            .collect();
        roles.sort();
        roles.dedup();
        Ok(roles)
    }

    /// The permissions a role grants (`GET /api/v2/authorization/roles/{roleId}`), as
    /// `domain:entity:action` strings from `permissionPolicies[]` (entity and action may be `*`)
    /// and `permissions[]`, with the role's name.
    ///
    /// # Errors
    /// Any [`GenesysError`]; 403 when the client may not read roles.
    pub async fn role_permissions(
        &self,
        role_id: &str,
    ) -> Result<(String, Vec<String>), GenesysError> {
        let r: serde_json::Value = self
            .get(&format!("/api/v2/authorization/roles/{role_id}"), &[])
            .await?;
        let mut out: Vec<String> = r["permissions"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|p| p.as_str().map(str::to_owned))
            .collect();
        for p in r["permissionPolicies"].as_array().into_iter().flatten() {
            let (Some(domain), Some(entity)) = (p["domain"].as_str(), p["entityName"].as_str())
            else {
                continue;
            };
            for a in p["actionSet"].as_array().into_iter().flatten() {
                if let Some(a) = a.as_str() {
                    out.push(format!("{domain}:{entity}:{a}"));
                }
            }
        }
        Ok((r["name"].as_str().unwrap_or(role_id).to_owned(), out))
    }
}
