//! Durations as ring files, gates and commands write them (`90s`, `1h30m`).

use std::time::Duration;

/// The longest duration a ring, gate or command accepts: beyond ten years a
/// number is a typo or an overflow attempt, not a plan.
pub(crate) const MAX_DURATION: Duration = Duration::from_secs(3660 * 86_400);
/// `1m`, `30s`, `1h30m`, `250ms`: a duration as a ring file writes it.
pub(crate) fn text(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        return format!("{ms}ms");
    }
    let mut s = d.as_secs();
    let mut out = String::new();
    for (unit, size) in [("d", 86_400), ("h", 3600), ("m", 60), ("s", 1)] {
        if s >= size {
            out.push_str(&format!("{}{unit}", s / size));
            s %= size;
        }
    }
    if out.is_empty() { "0s".into() } else { out }
}

/// Parses `90s`, `10m`, `1h30m`, `250ms`, `2d`: the duration syntax of ring files.
/// `None` for anything else, including durations beyond [`MAX_DURATION`].
pub(crate) fn parse_duration(text: &str) -> Option<Duration> {
    duration(text).ok()
}

/// [`parse_duration`] that says why a text is not a duration.
pub(crate) fn duration(text: &str) -> Result<Duration, String> {
    const SYNTAX: &str = "is not a duration: write a whole number and a unit (ms, s, m, h, d), e.g. `90s` or `1h30m`";
    let too_long = || {
        format!(
            "is longer than the maximum {}d (10 years)",
            MAX_DURATION.as_secs() / 86_400
        )
    };
    let mut total = Duration::ZERO;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(SYNTAX.into());
    }
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .ok_or_else(|| SYNTAX.to_owned())?;
        if digits == 0 {
            return Err(SYNTAX.into());
        }
        // All digits are valid, so a failed parse is an overflow.
        let n: u64 = rest[..digits].parse().map_err(|_| too_long())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let secs = |per: u64| n.checked_mul(per).map(Duration::from_secs);
        let unit = match &rest[..unit_len] {
            "ms" => Some(Duration::from_millis(n)),
            "s" => secs(1),
            "m" => secs(60),
            "h" => secs(3600),
            "d" => secs(86_400),
            _ => return Err(SYNTAX.into()),
        };
        total = unit
            .and_then(|u| total.checked_add(u))
            .filter(|t| *t <= MAX_DURATION)
            .ok_or_else(too_long)?;
        rest = &rest[unit_len..];
    }
    Ok(total)
}
