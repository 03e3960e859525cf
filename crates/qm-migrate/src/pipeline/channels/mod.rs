//! The channels besides the evaluations themselves: every record in the [`history`] (per-agent
//! evidence and a static timeline site with the real dates), and the recent window as External
//! Metrics on the agents' [`scorecard`].

pub mod history;
pub mod scorecard;
