//! Credentials: only from the environment (or files named by `*_FILE` variables), held as
//! `SecretString`, so no `Debug` or log line can print them.

use anyhow::{Context, Result, bail};
use secrecy::SecretString;

/// Genesys OAuth client credentials.
#[derive(Clone)]
pub struct Credentials {
    /// Client id (not secret, but kept out of logs all the same).
    pub client_id: String,
    /// Client secret.
    pub client_secret: SecretString,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Credentials { .. }")
    }
}

/// Reads `NAME` or the file named by `NAME_FILE`.
fn env_secret(name: &str) -> Result<Option<String>> {
    if let Ok(v) = std::env::var(name) {
        return Ok(Some(v.trim().to_owned()));
    }
    let file_var = format!("{name}_FILE");
    if let Ok(path) = std::env::var(&file_var) {
        let v = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read the file named by {file_var}"))?;
        return Ok(Some(v.trim().to_owned()));
    }
    Ok(None)
}

/// The Calabrio API user and password: `CALABRIO_USER` and `CALABRIO_PASSWORD` (or their `_FILE`
/// variants).
///
/// # Errors
/// When either is missing (the message names the variables, never a value).
pub fn calabrio_credentials() -> Result<(String, SecretString)> {
    match (
        env_secret("CALABRIO_USER")?,
        env_secret("CALABRIO_PASSWORD")?,
    ) {
        (Some(u), Some(p)) if !u.is_empty() && !p.is_empty() => Ok((u, SecretString::from(p))),
        _ => bail!(
            "set CALABRIO_USER and CALABRIO_PASSWORD (or CALABRIO_PASSWORD_FILE naming a file that holds it) for [source] kind = 'calabrio-api'"
        ),
    }
}

impl Credentials {
    /// `GENESYS_CLIENT_ID` / `GENESYS_CLIENT_SECRET` (or their `_FILE` variants).
    ///
    /// # Errors
    /// When either is missing (the message names the variables, never a value).
    pub fn from_env() -> Result<Credentials> {
        let id = env_secret("GENESYS_CLIENT_ID")?;
        let secret = env_secret("GENESYS_CLIENT_SECRET")?;
        match (id, secret) {
            (Some(id), Some(secret)) if !id.is_empty() && !secret.is_empty() => Ok(Credentials {
                client_id: id,
                client_secret: SecretString::from(secret),
            }),
            _ => bail!(
                "Genesys credentials missing: set GENESYS_CLIENT_ID and GENESYS_CLIENT_SECRET (or GENESYS_CLIENT_ID_FILE and GENESYS_CLIENT_SECRET_FILE)"
            ),
        }
    }
}
