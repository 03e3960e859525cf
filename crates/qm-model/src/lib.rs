//! The canonical vocabulary of a QM evaluation, shared by every stage of qm-migrate.
//!
//! Nothing here does I/O. The readers in `calabrio` turn every export format into a
//! [`CanonicalEvaluation`] (the shape of `reference/calabrio.md` §8.1); the planner in `qm-migrate`
//! turns canonical records into dispositions ([`Disposition`]) and Genesys answers. Keeping the types
//! pure means the mapping rules can be tested without a ledger or a server.

pub mod evaluation;
pub mod ids;
pub mod score;
pub mod time;

pub use evaluation::{
    Answer, CanonicalEvaluation, Comment, CommentScope, Contact, Dates, Disposition, Form, Kind,
    Person, Question, Score, Section, Source,
};
pub use ids::idempotency_key;
pub use score::{Normalised, ScoreError, ScoringMethod, normalise, normalise_with};
pub use time::{TimeError, parse_instant};
