//! Errors of the Genesys client, classified for the loader.
//!
//! The classification follows smithy-rs: an error after the request was dispatched does *not* prove
//! nothing was created, so [`GenesysError::possibly_sent`] tells the ledger to record `unknown` and
//! reconcile before sending again. No variant carries a credential or a token.

use std::time::Duration;

use crate::models::ErrorBody;

/// A failed Genesys call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum GenesysError {
    /// Genesys answered with an error status (after any retries).
    #[error("Genesys answered {status} {code}: {message}{correlation}",
        code = body.code.as_deref().unwrap_or("(no code)"),
        message = body.message.as_deref().unwrap_or("(no message)"),
        correlation = correlation_id.as_deref().map(|c| format!(" (correlation id {c})")).unwrap_or_default())]
    Api {
        /// HTTP status.
        status: u16,
        /// The error body.
        body: Box<ErrorBody>,
        /// `ININ-Correlation-Id`.
        correlation_id: Option<String>,
    },
    /// A 429 whose `Retry-After` is longer than we wait in-line (the daily-cap signal).
    #[error("Genesys asked to wait {}s before retrying ({code})", retry_after.as_secs(),
        code = body.code.as_deref().unwrap_or("too.many.requests"))]
    Throttled {
        /// How long Genesys asked us to wait.
        retry_after: Duration,
        /// The error body.
        body: Box<ErrorBody>,
    },
    /// The request failed in transport (timeout, reset, refused).
    #[error("request to {url} failed: {message}")]
    Transport {
        /// Path of the request (no query, no credentials).
        url: String,
        /// What happened.
        message: String,
        /// The request may have reached Genesys.
        possibly_sent: bool,
    },
    /// The token request failed.
    #[error("OAuth token request failed: {0}")]
    Auth(String),
    /// A response did not decode.
    #[error("response of {url} did not decode at {path}: {message}")]
    Decode {
        /// Path of the request.
        url: String,
        /// JSON path of the bad field.
        path: String,
        /// serde's message.
        message: String,
    },
    /// Bad client configuration.
    #[error("Genesys client configuration: {0}")]
    Config(String),
}

impl GenesysError {
    /// The Genesys error code, when the server gave one.
    pub fn code(&self) -> Option<&str> {
        match self {
            GenesysError::Api { body, .. } | GenesysError::Throttled { body, .. } => {
                body.code.as_deref()
            }
            _ => None,
        }
    }

    /// HTTP status, when there was a response.
    pub fn status(&self) -> Option<u16> {
        match self {
            GenesysError::Api { status, .. } => Some(*status),
            GenesysError::Throttled { .. } => Some(429),
            _ => None,
        }
    }

    /// The request may have been executed by Genesys although we got no answer.
    pub fn possibly_sent(&self) -> bool {
        match self {
            GenesysError::Transport { possibly_sent, .. } => *possibly_sent,
            GenesysError::Api { status, .. } => *status >= 500,
            _ => false,
        }
    }

    /// A permanent rejection of this request: sending it again unchanged will fail again.
    pub fn is_permanent(&self) -> bool {
        matches!(self, GenesysError::Api { status, .. } if (400..500).contains(status) && *status != 408 && *status != 429)
    }

    /// The Genesys message, when the server gave one.
    pub fn message(&self) -> String {
        match self {
            GenesysError::Api { body, .. } | GenesysError::Throttled { body, .. } => {
                body.message.clone().unwrap_or_default()
            }
            other => other.to_string(),
        }
    }
}
