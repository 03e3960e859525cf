//! The one integration-test binary of qm-migrate (one binary keeps link time down). Every test that
//! needs a server starts the project's own Genesys emulator in-process on 127.0.0.1.

mod calabrio_tenant;
mod cli;
mod corpus;
mod emulator_api;
mod evidence;
mod exactly_once;
mod faults;
mod history;
mod linking;
mod mirror;
mod pipeline;
mod preflight;
mod probe;
mod published_rules;
mod report;
mod requests;
mod scorecard;
mod scoring;
mod sources;
mod support;
mod sync;
mod timeline;
mod verify;
