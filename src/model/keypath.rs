//! A key path into a config tree, as segments (map keys), so a key that
//! holds a dot (`net.ipv4.ip_forward`, `app.kubernetes.io/name`) is one
//! segment, never three.
//!
//! Two written forms are read:
//! - the dotted form, `server.port`, where a segment holding a dot, a quote
//!   or a backslash is double-quoted: `sysctl."net.ipv4.ip_forward"`
//!   (`\"` and `\\` escape inside the quotes);
//! - a JSON Pointer (RFC 6901) when the text starts with `/`:
//!   `/sysctl/net.ipv4.ip_forward` (`~1` is `/`, `~0` is `~`).
//!
//! The dotted form is printed, quoting a segment only where it must, so a
//! path of dot-free keys prints as it always did and every printed path
//! reads back as the same segments.

use std::fmt;

#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyPath {
    segments: Vec<String>,
}

/// How the text of a key path was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Written {
    /// Dots only, no quotes: a dot may also belong to a key.
    Plain,
    /// Dotted with at least one quoted segment.
    Quoted,
    /// A JSON Pointer.
    Pointer,
}

/// Why a text is not a key path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyPathError {
    pub text: String,
    pub reason: String,
}

impl fmt::Display for KeyPathError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not a key path: {}; write it like server.max_connections, \
             sysctl.\"net.ipv4.ip_forward\" (a key with dots, quoted) or the JSON Pointer \
             /sysctl/net.ipv4.ip_forward",
            self.text, self.reason
        )
    }
}

impl std::error::Error for KeyPathError {}

impl KeyPath {
    pub fn new(segments: Vec<String>) -> KeyPath {
        KeyPath { segments }
    }

    pub fn segments(&self) -> &[String] {
        &self.segments
    }

    pub fn is_empty(&self) -> bool {
        self.segments.is_empty()
    }

    pub fn len(&self) -> usize {
        self.segments.len()
    }

    /// The last key: what a secret-looking name is judged by.
    pub fn last(&self) -> Option<&str> {
        self.segments.last().map(String::as_str)
    }

    /// This path with one more key.
    pub fn child(&self, key: &str) -> KeyPath {
        let mut segments = Vec::with_capacity(self.segments.len() + 1);
        segments.extend(self.segments.iter().cloned());
        segments.push(key.to_owned());
        KeyPath { segments }
    }

    /// The first `n` segments.
    pub fn prefix(&self, n: usize) -> KeyPath {
        KeyPath {
            segments: self.segments[..n.min(self.segments.len())].to_vec(),
        }
    }

    /// The segments joined with dots and no quoting: what a user who does
    /// not know a key holds dots would type.
    pub fn plain(&self) -> String {
        self.segments.join(".")
    }

    /// The JSON Pointer (RFC 6901) of this path.
    pub fn pointer(&self) -> String {
        pointer_of(&self.segments)
    }

    /// Reads either form: a JSON Pointer when `text` starts with `/`, else
    /// the dotted form.
    pub fn parse(text: &str) -> Result<KeyPath, KeyPathError> {
        Self::parse_written(text).map(|(path, _)| path)
    }

    /// [`KeyPath::parse`], also saying which form `text` was written in.
    pub fn parse_written(text: &str) -> Result<(KeyPath, Written), KeyPathError> {
        let fail = |reason: &str| KeyPathError {
            text: text.to_owned(),
            reason: reason.to_owned(),
        };
        if text.is_empty() {
            return Err(fail("it is empty"));
        }
        if let Some(rest) = text.strip_prefix('/') {
            return Self::parse_pointer_segments(rest)
                .map(|p| (p, Written::Pointer))
                .map_err(|r| fail(&r));
        }
        let mut segments = Vec::new();
        let mut quoted_any = false;
        let mut chars = text.chars().peekable();
        loop {
            let mut segment = String::new();
            if chars.peek() == Some(&'"') {
                chars.next();
                quoted_any = true;
                loop {
                    match chars.next() {
                        None => return Err(fail("a quoted key is not closed with `\"`")),
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(c @ ('"' | '\\')) => segment.push(c),
                            _ => {
                                return Err(fail("inside quotes, `\\` escapes only `\"` and `\\`"));
                            }
                        },
                        Some(c) => segment.push(c),
                    }
                }
                match chars.next() {
                    None => {
                        segments.push(segment);
                        break;
                    }
                    Some('.') => segments.push(segment),
                    Some(_) => {
                        return Err(fail("a quoted key must be followed by `.` or end the path"));
                    }
                }
            } else {
                let mut ended = true;
                for c in chars.by_ref() {
                    match c {
                        '.' => {
                            ended = false;
                            break;
                        }
                        '"' => {
                            return Err(fail(
                                "a `\"` inside a key: quote the whole key, escaping the quote as `\\\"`",
                            ));
                        }
                        c => segment.push(c),
                    }
                }
                if segment.is_empty() {
                    return Err(fail(
                        "it has an empty key (two dots in a row, or a dot at an end); quote an empty key as \"\"",
                    ));
                }
                segments.push(segment);
                if ended {
                    break;
                }
            }
            if chars.peek().is_none() {
                // A trailing dot after a quoted key.
                return Err(fail(
                    "it has an empty key (two dots in a row, or a dot at an end); quote an empty key as \"\"",
                ));
            }
        }
        let written = if quoted_any {
            Written::Quoted
        } else {
            Written::Plain
        };
        Ok((KeyPath { segments }, written))
    }

    /// The segments of a JSON Pointer after its leading `/`.
    fn parse_pointer_segments(rest: &str) -> Result<KeyPath, String> {
        let mut segments = Vec::new();
        for raw in rest.split('/') {
            let mut segment = String::with_capacity(raw.len());
            let mut chars = raw.chars();
            while let Some(c) = chars.next() {
                if c == '~' {
                    match chars.next() {
                        Some('0') => segment.push('~'),
                        Some('1') => segment.push('/'),
                        _ => {
                            return Err(
                                "in a JSON Pointer `~` must be followed by 0 (for `~`) or 1 (for `/`)"
                                    .to_owned(),
                            );
                        }
                    }
                } else {
                    segment.push(c);
                }
            }
            segments.push(segment);
        }
        Ok(KeyPath { segments })
    }

    /// Whether a segment must be quoted in the dotted form.
    fn needs_quotes(segment: &str, first: bool) -> bool {
        segment.is_empty()
            || segment.contains(['.', '"', '\\'])
            // Unquoted, a leading `/` would read as a JSON Pointer.
            || (first && segment.starts_with('/'))
    }
}

impl fmt::Display for KeyPath {
    /// The dotted form, quoting only the segments that need it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, s) in self.segments.iter().enumerate() {
            if i > 0 {
                f.write_str(".")?;
            }
            if Self::needs_quotes(s, i == 0) {
                f.write_str("\"")?;
                for c in s.chars() {
                    if matches!(c, '"' | '\\') {
                        f.write_str("\\")?;
                    }
                    write!(f, "{c}")?;
                }
                f.write_str("\"")?;
            } else {
                f.write_str(s)?;
            }
        }
        Ok(())
    }
}

/// The JSON Pointer (RFC 6901) of keys given one by one: `~` is written
/// `~0` and `/` is written `~1`. For callers that hold borrowed segments (the
/// merge engine's path) and should not build a [`KeyPath`] for each finding.
pub(crate) fn pointer_of<S: AsRef<str>>(segments: &[S]) -> String {
    let mut out = String::new();
    for s in segments {
        out.push('/');
        out.push_str(&s.as_ref().replace('~', "~0").replace('/', "~1"));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn segs(p: &KeyPath) -> Vec<&str> {
        p.segments().iter().map(String::as_str).collect()
    }

    #[test]
    fn dotted_paths_of_plain_keys_print_as_they_read() {
        let p = KeyPath::parse("server.max_connections").unwrap();
        assert_eq!(segs(&p), ["server", "max_connections"]);
        assert_eq!(p.to_string(), "server.max_connections");
        assert_eq!(p.pointer(), "/server/max_connections");
        let hiera = KeyPath::parse("psick::mongo::tp::options").unwrap();
        assert_eq!(hiera.to_string(), "psick::mongo::tp::options");
    }

    #[test]
    fn a_quoted_segment_holds_dots_and_escapes() {
        let p = KeyPath::parse(r#"sysctl."net.ipv4.conf.all.forwarding""#).unwrap();
        assert_eq!(segs(&p), ["sysctl", "net.ipv4.conf.all.forwarding"]);
        assert_eq!(p.to_string(), r#"sysctl."net.ipv4.conf.all.forwarding""#);
        assert_eq!(p.pointer(), "/sysctl/net.ipv4.conf.all.forwarding");
        let p = KeyPath::parse(r#""a\"b\\c".d"#).unwrap();
        assert_eq!(segs(&p), [r#"a"b\c"#, "d"]);
        assert_eq!(p.to_string(), r#""a\"b\\c".d"#);
        let label = KeyPath::parse(r#"labels."app.kubernetes.io/name""#).unwrap();
        assert_eq!(label.pointer(), "/labels/app.kubernetes.io~1name");
    }

    #[test]
    fn json_pointers_unescape_tilde_and_slash() {
        let p = KeyPath::parse("/labels/app.kubernetes.io~1name/~0x").unwrap();
        assert_eq!(segs(&p), ["labels", "app.kubernetes.io/name", "~x"]);
        assert_eq!(p.to_string(), r#"labels."app.kubernetes.io/name".~x"#);
        assert_eq!(segs(&KeyPath::parse("/").unwrap()), [""]);
        assert_eq!(segs(&KeyPath::parse("/a//b").unwrap()), ["a", "", "b"]);
    }

    #[test]
    fn a_first_key_starting_with_a_slash_is_quoted_so_it_is_not_a_pointer() {
        let p = KeyPath::new(vec!["/etc".into(), "a/b".into()]);
        assert_eq!(p.to_string(), r#""/etc".a/b"#);
        assert_eq!(KeyPath::parse(&p.to_string()).unwrap(), p);
    }

    #[test]
    fn malformed_paths_say_why() {
        for (text, why) in [
            ("", "empty"),
            ("a..b", "empty key"),
            (".a", "empty key"),
            ("a.", "empty key"),
            (r#""a"."#, "empty key"),
            (r#""a"b"#, "followed by `.`"),
            (r#""ab"#, "not closed"),
            (r#"a"b"#, "quote the whole key"),
            (r#""a\n""#, "escapes only"),
            ("/a~2", "~"),
            ("/a~", "~"),
        ] {
            let err = KeyPath::parse(text).unwrap_err();
            assert!(err.reason.contains(why), "{text}: {err}");
            assert!(err.to_string().contains("/sysctl/"), "{err}");
        }
    }

    #[test]
    fn the_written_form_is_reported() {
        let form = |t: &str| KeyPath::parse_written(t).unwrap().1;
        assert_eq!(form("a.b"), Written::Plain);
        assert_eq!(form(r#"a."b.c""#), Written::Quoted);
        assert_eq!(form("/a/b.c"), Written::Pointer);
    }

    proptest! {
        #[test]
        fn printing_then_parsing_gives_the_same_segments(
            segments in proptest::collection::vec(
                prop_oneof![
                    "[a-z_:]{1,8}",
                    "[a-z./~\"\\\\ -]{0,8}",
                    any::<String>(),
                ],
                1..6,
            )
        ) {
            let path = KeyPath::new(segments);
            let printed = path.to_string();
            prop_assert_eq!(KeyPath::parse(&printed).unwrap(), path.clone(), "{}", printed);
            prop_assert_eq!(KeyPath::parse(&path.pointer()).unwrap(), path.clone());
            // Keys without dots, quotes or backslashes print as they always did.
            if path.segments().iter().enumerate().all(|(i, s)| !KeyPath::needs_quotes(s, i == 0)) {
                prop_assert_eq!(printed, path.plain());
            }
        }
    }
}
