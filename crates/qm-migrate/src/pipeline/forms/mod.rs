//! The Genesys forms evaluations are created on: the one container form, the Legacy Migration Form
//! ([`container`], `[form] mode = "container"`), or one mirror per Calabrio form ([`mirror`],
//! `mode = "mirror"`).

pub mod container;
pub mod mirror;
