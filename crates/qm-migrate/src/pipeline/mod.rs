//! The pipeline, in the order a migration runs it (DESIGN §2):
//!
//! 1. [`extract`] — Calabrio exports or the Calabrio API → canonical records staged in the ledger
//!    with their raw text.
//! 2. [`plan`] — people, dates, scores, the conversation link and the form's answers: every record
//!    gets a disposition and a reason before anything is written to Genesys.
//! 3. [`provision`] — the form(s) ([`forms`]: the Legacy Migration Form, or mirrors of the Calabrio
//!    forms) and the metric definitions, created and published idempotently.
//! 4. [`load`] — the evaluations, exactly once; then the other [`channels`]: the history site and
//!    the scorecard.
//! 5. [`verify`] (with Genesys' own audit trail), [`rollback`], [`report`]; all three, and the sync
//!    in [`load`], heed Genesys' [`edit_window`]. [`evidence`] puts what an auditor checks in one
//!    folder with checksums and a signature.
//!
//! Beside them: [`preflight`] (the org's limits and the client's permissions) and [`probe`] (what
//! the org does where the documentation is silent).

pub mod channels;
pub mod edit_window;
pub mod evidence;
pub mod extract;
pub mod forms;
pub mod load;
pub mod plan;
pub mod preflight;
pub mod probe;
pub mod provision;
pub mod report;
pub mod rollback;
pub mod side_effects;
pub mod verify;
