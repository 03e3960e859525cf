//! The org an emulator serves (`Fixture`: users, conversations, OAuth clients), written by
//! `qm-migrate sample` and read by `emulator genesys --fixture`, and its lookups.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::EmulatorState;

/// What the emulator serves: written by `qm-migrate sample`, read by `emulator genesys --fixture`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fixture {
    /// OAuth clients that may obtain tokens.
    #[serde(default)]
    pub oauth_clients: Vec<OAuthClient>,
    /// The user directory, in every state.
    #[serde(default)]
    pub users: Vec<FixtureUser>,
    /// Conversations with their participants.
    #[serde(default)]
    pub conversations: Vec<FixtureConversation>,
}

/// An OAuth client (client-credentials grant).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OAuthClient {
    /// Client id.
    pub client_id: String,
    /// Client secret.
    pub client_secret: String,
    /// The permissions of the client's role (`domain:entity:action`, `*` allowed); absent: every
    /// permission qm-migrate uses. A request the role does not grant answers 403
    /// `missing.permissions`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub permissions: Option<Vec<String>>,
}

/// A Genesys user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureUser {
    /// User id.
    pub id: String,
    /// Name.
    pub name: String,
    /// E-mail.
    #[serde(default)]
    pub email: Option<String>,
    /// Login name.
    #[serde(default)]
    pub username: Option<String>,
    /// `active`, `inactive` or `deleted`.
    pub state: String,
    /// Employee id (`employerInfo.employeeId`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_id: Option<String>,
    /// Holds the rights to score evaluations (else `quality.evaluation.evaluator.not.quality.evaluator`).
    #[serde(default = "yes")]
    pub quality_evaluator: bool,
}

fn yes() -> bool {
    true
}

/// A conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureConversation {
    /// Conversation id.
    pub conversation_id: String,
    /// Start.
    pub start: Timestamp,
    /// End.
    pub end: Timestamp,
    /// Participants.
    pub participants: Vec<FixtureParticipant>,
}

/// A conversation participant.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FixtureParticipant {
    /// `agent`, `customer`, `acd`, …
    pub purpose: String,
    /// User id, for users.
    #[serde(default)]
    pub user_id: Option<String>,
}

impl EmulatorState {
    pub(crate) fn user(&self, id: &str) -> Option<&FixtureUser> {
        self.inner
            .user_index
            .get(id)
            .map(|&i| &self.inner.fixture.users[i])
    }

    /// The conversations `user_id` took part in, in start order.
    pub(crate) fn conversations_of(&self, user_id: &str) -> Vec<&FixtureConversation> {
        self.inner
            .by_participant
            .get(user_id)
            .map(|l| {
                l.iter()
                    .map(|&i| &self.inner.fixture.conversations[i])
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn conversation(&self, id: &str) -> Option<&FixtureConversation> {
        self.inner
            .conversation_index
            .get(id)
            .map(|&i| &self.inner.fixture.conversations[i])
    }
}
