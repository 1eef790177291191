//! Numbers as a person reads them in a message.

/// `14.4`, `0.09412`, `0.0001234`: four decimals, or four significant
/// digits for smaller numbers; what a person reads in a halt message.
pub(crate) fn short(v: f64) -> String {
    if !v.is_finite() {
        return v.to_string();
    }
    let decimals = if v == 0.0 || v.abs() >= 1.0 {
        4
    } else {
        (3 - v.abs().log10().floor() as i64).clamp(4, 15) as usize
    };
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        s
    }
}
