//! Config loading: bytes → spanned document → validated manifest, JSON Schema
//! validation, the hierarchy merge into effective configs, and snapshots of a
//! repo at one revision.

pub mod adapters;
pub mod adopt;
pub mod boundary;
pub mod document;
pub mod effective;
pub mod explain;
pub(crate) mod fast_yaml;
#[cfg(test)]
mod fast_yaml_tests;
pub mod interpolate;
pub mod layers;
pub mod links;
pub mod manifest;
pub mod merge;
pub(crate) mod node_json;
#[cfg(test)]
mod node_json_tests;
pub mod schema;
pub mod scopes;
pub mod snapshot;
pub(crate) mod yaml_policy;
pub(crate) mod yaml_readers;

/// Key paths are named by users and printed by every command that shows a key.
pub use crate::model::keypath::{KeyPath, KeyPathError, Written};
