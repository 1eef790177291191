//! Renderers: findings in, text out. Nothing here computes a result; every
//! format renders the same [`Diagnostic`]s.
//!
//! [`Diagnostic`]: crate::diag::Diagnostic

pub mod escape;
pub mod github;
pub mod human;
pub mod json;
pub mod sarif;
pub mod timeline_html;
pub mod yaml;

/// Where the config repo sits inside the git work tree (`""` at the root).
/// GitHub annotations and SARIF want paths relative to the checkout, so they
/// prefix findings' repo-relative paths with it.
#[derive(Debug, Clone, Default)]
pub struct PathBase {
    pub prefix: String,
}

impl PathBase {
    pub fn apply(&self, file: &str) -> String {
        if self.prefix.is_empty() {
            file.to_owned()
        } else {
            format!("{}/{}", self.prefix.trim_end_matches('/'), file)
        }
    }
}
