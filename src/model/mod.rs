//! Domain nouns and small helpers that every layer shares and that depend on
//! nothing else in the crate: breaking them out is what keeps the module graph
//! free of cycles (a test in `tests/it/architecture.rs` holds it so).

pub(crate) mod duration;
pub(crate) mod keypath;
pub(crate) mod number;
pub(crate) mod revision;
pub(crate) mod stats;
pub(crate) mod suggest;
