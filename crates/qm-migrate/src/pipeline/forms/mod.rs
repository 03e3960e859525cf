//! The Genesys forms evaluations are created on: the one container form, the Legacy Migration Form
//! ([`container`], `[form] mode = "container"`), or one mirror per Calabrio form ([`mirror`],
//! `mode = "mirror"`), and the comments they carry within Genesys' limits ([`comments`]).

pub mod comments;
pub mod container;
pub mod mirror;
