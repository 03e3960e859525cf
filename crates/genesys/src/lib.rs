//! Genesys Cloud, as qm-migrate sees it: the wire types of the endpoints we call ([`models`]), the
//! documented server-side scoring formula ([`scoring`]) and a typed async client ([`client`]) that
//! respects the platform's rate limits and never blindly re-sends a create.
//!
//! The emulator crate shares the wire types only: it has its own scoring and validation, and does not
//! share the client, so a client misunderstanding still has to get past the emulator's own judgement.

mod api;
pub mod clock;
pub mod error;
pub mod models;
pub mod permissions;
pub mod scoring;
pub mod transport;

pub use clock::Clock;
pub use error::GenesysError;
pub use transport::{ClientConfig, EvaluationsOf, GenesysClient, login_url_for, region_api_url};
