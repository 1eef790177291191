//! Renderers: findings in, text out. Nothing here computes a result; every
//! format renders the same [`Diagnostic`]s.
//!
//! [`Diagnostic`]: crate::diag::Diagnostic

pub mod approval;
pub mod diff;
pub mod escape;
pub mod explain;
pub mod github;
pub mod human;
pub mod json;
pub mod sarif;
pub mod status;
pub mod timeline_html;
pub mod timeline_json;
pub mod timeline_markdown;
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

/// A value in one short line for messages and tables (cut at 60 characters).
pub fn describe_value(value: &serde_json::Value) -> String {
    let mut s = value.to_string();
    if s.chars().count() > 60 {
        s = s.chars().take(57).collect::<String>() + "...";
    }
    s
}
