//! Revisions in messages: the 10-character short form every output uses.

/// The first ten characters of a revision, or all of it when shorter. Never
/// splits a character: a revision read from a journal is untrusted text.
pub(crate) fn short(revision: &str) -> &str {
    revision.get(..10).unwrap_or(revision)
}

#[cfg(test)]
mod tests {
    use super::short;

    #[test]
    fn the_short_form_is_ten_characters_and_never_splits_one() {
        assert_eq!(short("0123456789abcdef"), "0123456789");
        assert_eq!(short("abc"), "abc");
        // A multi-byte character across the cut: the whole text, no panic.
        assert_eq!(short("012345678é"), "012345678é");
    }
}
