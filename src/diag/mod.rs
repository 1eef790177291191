//! Findings as data: one [`Diagnostic`] type feeds every output format.
//!
//! A finding is never control flow: checks collect them and carry on, and the
//! reporters in `report/` only render them. Tool failures (an unreadable repo, a
//! bad invocation) are `anyhow` errors instead and map to exit code 2 or 3.

use std::fmt;

use serde::Serialize;

/// How bad a finding is. Ordered: `Notice < Warning < Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Notice,
    Warning,
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Notice => "notice",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

macro_rules! rules {
    ($($variant:ident => $code:literal, $sev:ident, $desc:literal;)*) => {
        /// Every rule ringmaster reports, with a stable kebab-case code.
        ///
        /// The code is what users see, what SARIF uses as `ruleId`, and what the
        /// manifest's `rules:` section overrides. Never rename one.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Rule { $($variant),* }

        impl Rule {
            pub const ALL: &'static [Rule] = &[$(Rule::$variant),*];

            pub fn code(self) -> &'static str {
                match self { $(Rule::$variant => $code),* }
            }

            pub fn default_severity(self) -> Severity {
                match self { $(Rule::$variant => Severity::$sev),* }
            }

            /// One line that says what the rule catches (for `--help`, SARIF, docs).
            pub fn description(self) -> &'static str {
                match self { $(Rule::$variant => $desc),* }
            }
        }
    };
}

rules! {
    YamlSyntax => "yaml-syntax", Error, "The file is not well-formed YAML or JSON.";
    DuplicateKey => "duplicate-key", Error, "A mapping defines the same key twice; one of the values is silently lost.";
    AmbiguousScalar => "ambiguous-scalar", Warning, "A plain scalar that YAML 1.1 tools read differently from YAML 1.2 (yes/no/on/off booleans, 0755 octals, 1:30 sexagesimals).";
    UnknownTag => "unknown-tag", Warning, "A YAML tag ringmaster does not understand; the tag is ignored.";
    AliasLimit => "alias-limit", Error, "Alias expansion exceeds the node budget (a \"billion laughs\" file).";
    NestingTooDeep => "nesting-too-deep", Error, "The document nests deeper than ringmaster accepts.";
    Encoding => "encoding", Error, "The file is not UTF-8 text (binary, or another encoding).";
    FileTooLarge => "file-too-large", Error, "The file is larger than the configured limit.";
    EmptyFile => "empty-file", Warning, "The file holds no document; it contributes nothing.";
    Schema => "schema", Error, "A value does not satisfy the JSON Schema that applies to it.";
    SchemaInvalid => "schema-invalid", Error, "A JSON Schema file is itself invalid or cannot be read.";
    Manifest => "manifest", Error, "ringmaster.yaml refers to something that does not exist or cannot work.";
    TypeChange => "type-change", Error, "A layer changes the type of an inherited value (map vs scalar, number vs string).";
    UnknownOverride => "unknown-override", Warning, "A layer sets a key that no earlier layer defines: usually a typo that overrides nothing.";
    UnusedLayer => "unused-layer", Notice, "A hierarchy template matches no file for any host class.";
    FlagName => "flag-name", Error, "A flag file's name differs from the flag's `name:`.";
    FlagDuplicate => "flag-duplicate", Error, "Two flag files define the same flag name.";
    FlagOwner => "flag-owner", Warning, "A flag has no owner, so nobody decides when it goes.";
    FlagExpired => "flag-expired", Warning, "A flag is past its `expires` date: remove it or extend it.";
    FlagType => "flag-type", Error, "A flag value does not have the flag's declared type.";
    FlagUnknownRing => "flag-unknown-ring", Error, "A flag sets a value for a ring no host class belongs to.";
    FlagUnknownTenant => "flag-unknown-tenant", Error, "A flag sets a value for a tenant no host class has.";
    DualChange => "dual-change", Warning, "One change removes a key (or flag) and adds a similar one: ship the add, then the removal.";
    Secret => "secret", Error, "A value added by the change looks like a credential.";
    WideChange => "wide-change", Notice, "One change alters effective values in more than one ring at once.";
    RingUnknown => "ring-unknown", Error, "A host class names a ring with no ring file, or two ring files clash (name or order).";
    RingUnused => "ring-unused", Notice, "A ring file that no host class belongs to.";
    RingUngated => "ring-ungated", Notice, "A ring with classes but no enforcing gate: its soak promotes it on time alone.";
    ConvergenceRevision => "convergence-revision", Warning, "A ring's `converged` query without `{revision}`: it cannot tell the delivered revision from the previous one.";
    Interpolation => "interpolation", Error, "A `%{...}` token cannot be resolved: a cycle, nesting too deep, a result too long, or a token Hiera refuses.";
    RingNoBaseline => "ring-no-baseline", Error, "A compare gate with nothing to compare with: its ring is the last one and the gate sets no `baseline` selector.";
}

impl fmt::Display for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.code())
    }
}

impl Rule {
    pub fn from_code(code: &str) -> Option<Rule> {
        Rule::ALL.iter().copied().find(|r| r.code() == code)
    }
}

/// A 1-based line and column (in characters) in a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Pos {
    pub line: u32,
    pub col: u32,
}

impl Pos {
    pub const START: Pos = Pos { line: 1, col: 1 };

    pub fn new(line: u32, col: u32) -> Pos {
        Pos { line, col }
    }
}

impl fmt::Display for Pos {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.line, self.col)
    }
}

/// A secondary location: "first defined here", "overridden here".
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Related {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub message: String,
}

/// One finding. `file` is repo-relative with forward slashes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub rule: Rule,
    pub severity: Severity,
    pub file: String,
    pub pos: Pos,
    pub message: String,
    /// JSON Pointer of the offending value inside the document, when there is one.
    pub path: Option<String>,
    /// The host class, for findings on an effective config.
    pub class: Option<String>,
    /// What to do about it, in one sentence.
    pub help: Option<String>,
    pub related: Vec<Related>,
}

impl Diagnostic {
    pub fn new(rule: Rule, file: impl Into<String>, pos: Pos, message: impl Into<String>) -> Self {
        Diagnostic {
            rule,
            severity: rule.default_severity(),
            file: file.into(),
            pos,
            message: message.into(),
            path: None,
            class: None,
            help: None,
            related: Vec::new(),
        }
    }

    pub fn with_path(mut self, path: impl Into<String>) -> Self {
        self.path = Some(path.into());
        self
    }

    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    pub fn with_class(mut self, class: impl Into<String>) -> Self {
        self.class = Some(class.into());
        self
    }

    pub fn with_related(
        mut self,
        file: impl Into<String>,
        pos: Pos,
        message: impl Into<String>,
    ) -> Self {
        self.related.push(Related {
            file: file.into(),
            line: pos.line,
            column: pos.col,
            message: message.into(),
        });
        self
    }

    /// The order findings are shown in: by file, position, rule, then class.
    pub fn sort_key(&self) -> (&str, Pos, Rule, Option<&str>, &str) {
        (
            &self.file,
            self.pos,
            self.rule,
            self.class.as_deref(),
            &self.message,
        )
    }
}

/// Per-rule severity overrides from the manifest's `rules:` section.
#[derive(Debug, Clone, Default)]
pub struct SeverityOverrides {
    overrides: Vec<(Rule, Option<Severity>)>,
}

impl SeverityOverrides {
    /// `None` turns the rule off.
    pub fn set(&mut self, rule: Rule, severity: Option<Severity>) {
        self.overrides.retain(|(r, _)| *r != rule);
        self.overrides.push((rule, severity));
    }

    /// Applies the overrides, dropping findings of rules that are off.
    pub fn apply(&self, diagnostics: Vec<Diagnostic>) -> Vec<Diagnostic> {
        if self.overrides.is_empty() {
            return diagnostics;
        }
        diagnostics
            .into_iter()
            .filter_map(
                |mut d| match self.overrides.iter().find(|(r, _)| *r == d.rule) {
                    Some((_, None)) => None,
                    Some((_, Some(sev))) => {
                        d.severity = *sev;
                        Some(d)
                    }
                    None => Some(d),
                },
            )
            .collect()
    }
}

/// Counts shown in every format's summary.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub files: usize,
    pub classes: usize,
    pub errors: usize,
    pub warnings: usize,
    pub notices: usize,
}

impl Summary {
    pub fn count(files: usize, classes: usize, diagnostics: &[Diagnostic]) -> Summary {
        let mut s = Summary {
            files,
            classes,
            ..Summary::default()
        };
        for d in diagnostics {
            match d.severity {
                Severity::Error => s.errors += 1,
                Severity::Warning => s.warnings += 1,
                Severity::Notice => s.notices += 1,
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rule_codes_are_unique_kebab_case_and_described() {
        let mut seen = std::collections::BTreeSet::new();
        for rule in Rule::ALL {
            let code = rule.code();
            assert!(seen.insert(code), "duplicate rule code {code}");
            assert!(
                code.chars().all(|c| c.is_ascii_lowercase() || c == '-'),
                "{code} is not kebab-case"
            );
            assert!(rule.description().ends_with('.'), "{code} needs a sentence");
            assert_eq!(Rule::from_code(code), Some(*rule));
        }
    }

    #[test]
    fn overrides_change_severity_and_turn_rules_off() {
        let d = |rule| Diagnostic::new(rule, "a.yaml", Pos::START, "m");
        let mut o = SeverityOverrides::default();
        o.set(Rule::AmbiguousScalar, Some(Severity::Error));
        o.set(Rule::EmptyFile, None);
        let out = o.apply(vec![
            d(Rule::AmbiguousScalar),
            d(Rule::EmptyFile),
            d(Rule::Schema),
        ]);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].severity, Severity::Error);
        assert_eq!(out[1].rule, Rule::Schema);
    }
}
