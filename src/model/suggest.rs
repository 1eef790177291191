//! "Did you mean": the closest known name to a mistyped one.

/// Longer names are never compared (the table is `len × len`).
const MAX_SUGGESTED_LEN: usize = 128;

/// The candidate closest to `word` by edit distance, if it is close enough to
/// be a plausible typo.
pub(crate) fn closest<'a>(
    word: &str,
    candidates: impl Iterator<Item = &'a str>,
) -> Option<&'a str> {
    // The distance table is quadratic: names longer than any real key or
    // fact name (a hostile file can hold a megabyte-long one) get no hint.
    if word.len() > MAX_SUGGESTED_LEN {
        return None;
    }
    candidates
        .filter(|c| c.len() <= MAX_SUGGESTED_LEN)
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, c)| *d > 0 && *d <= (word.len().max(c.len()) / 3).max(1))
        .min()
        .map(|(_, c)| c)
}

/// Optimal string alignment distance: edits plus adjacent transpositions,
/// the commonest typo (`hots` for `host`).
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            d[i][j] = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d[i][j] = d[i][j].min(d[i - 2][j - 2] + 1);
            }
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closest_suggests_plausible_typos_only() {
        let names = ["region", "role", "ring"];
        assert_eq!(closest("regoin", names.iter().copied()), Some("region"));
        assert_eq!(closest("tenant", names.iter().copied()), None);
    }

    #[test]
    fn very_long_names_get_no_hint_and_cost_nothing() {
        let long = "a".repeat(1_000_000);
        assert_eq!(closest(&long, ["a"].into_iter()), None);
        assert_eq!(closest("aa", [long.as_str(), "ab"].into_iter()), Some("ab"));
    }
}
