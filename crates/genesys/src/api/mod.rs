//! The Genesys operations qm-migrate calls, one file per API area, each an `impl GenesysClient`
//! block over the transport (`crate::transport`: token, rate limit, retries, paging).

mod analytics;
mod audits;
mod authorization;
mod gamification;
mod integrations;
mod metrics;
mod quality;
mod users;

use reqwest::Method;
use serde::Serialize;
use uuid::Uuid;

use crate::error::GenesysError;
use crate::models::{
    AnalyticsConversation, ConversationMultiGet, EntityListing, Evaluation, EvaluationCreateBody,
    EvaluationForm, PublishForm, User,
};
use crate::transport::{EvaluationsOf, GenesysClient, Resend, decode, empty_body};
