//! Users (`/api/v2/users`): the directory plan resolves people against.

use super::*;

impl GenesysClient {
    /// Every user in `state` (`active`, `inactive`, `deleted`, `any`), following the pages.
    ///
    /// # Errors
    /// Any [`GenesysError`].
    pub async fn list_users(&self, state: &str) -> Result<Vec<User>, GenesysError> {
        self.all_pages("/api/v2/users", &[("state", state.into())], 100)
            .await
    }
}
