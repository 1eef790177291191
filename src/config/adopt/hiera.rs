//! The `hiera:` section of the manifest (see `config::adopt`).

use crate::config::document::Node;
use crate::diag::Diagnostic;
use crate::source::Source;

pub fn expand(_root: &mut Node, _source: &dyn Source, _errors: &mut Vec<Diagnostic>) {}
