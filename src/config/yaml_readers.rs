//! How each YAML 1.1 tool reads the plain scalars the three of them disagree
//! on (`yaml: {version: "1.1", reader: …}`), so that an imported repo reads
//! its YAML exactly as its own tool does. What they all agree on is
//! `document::resolve_plain_11`; this is only ever asked about a scalar that
//! reading leaves a string.
//!
//! Sources: PyYAML's `resolver.py` and `constructor.py`; Psych's
//! `scalar_scanner.rb` (Psych 4, `strict_integer: false`); go-yaml v2's
//! `resolve.go`, which types numbers with Go's `strconv`.

/// Under YAML 1.1, whose reading settles the scalars the tools disagree on
/// (see `document::YamlVersion::V1_1`); no effect under 1.2.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum YamlReader {
    /// None: such a scalar stays a string, with an `ambiguous-scalar` warning.
    #[default]
    Agreed,
    /// PyYAML (Ansible): base-60 `1:30` is 90, `1:30.5` 90.5.
    PyYaml,
    /// Ruby's Psych (Puppet, Hiera): booleans and null in any case, `1:30`
    /// as Psych computes it (5400), `1,000` is 1000.
    Psych,
    /// go-yaml v2 (Helm): `y`/`n` booleans, `1e3`, `0o17`, `0X1F` numbers.
    GoYaml,
}

/// A tool's reading of a scalar; `document` makes it a value (this module
/// stays below `document`, which calls it).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Reading {
    Null,
    Bool(bool),
    Int(i64),
    /// Past `i64`, in decimal.
    BigInt(String),
    Float(f64),
    /// The scalar's text, as a string.
    Str,
}

/// Longest scalar read as a base-60 number: the arithmetic is exact (any
/// size, as Python and Ruby compute it) and so quadratic in the length.
const MAX_BASE60_LEN: usize = 4096;

/// How `reader` reads a plain scalar the tools disagree on: `Some(value)`,
/// a string included; `None` when ringmaster cannot tell (a base-60 number
/// past `MAX_BASE60_LEN`, or no reader chosen).
pub(crate) fn resolve_disputed(text: &str, reader: YamlReader) -> Option<Reading> {
    if text.contains(':') && text.len() > MAX_BASE60_LEN {
        return match reader {
            YamlReader::GoYaml => Some(Reading::Str),
            _ => None,
        };
    }
    if reader != YamlReader::Agreed && matches!(text, "+.inf" | "+.Inf" | "+.INF") {
        // In PyYAML's float pattern, go-yaml v2's table and Psych's scanner
        // alike; only the agreed reading leaves it out.
        return Some(Reading::Float(f64::INFINITY));
    }
    let value = match reader {
        YamlReader::Agreed => return None,
        YamlReader::PyYaml => pyyaml_base60_int(text)
            .or_else(|| pyyaml_base60_float(text))
            .or_else(|| pyyaml_float(text)),
        YamlReader::Psych => psych(text),
        YamlReader::GoYaml => go_yaml(text),
    };
    Some(value.unwrap_or(Reading::Str))
}

/// `[-+]?[1-9][0-9_]*(:[0-5]?[0-9])+`, `_` dropped, sixties from the right.
fn pyyaml_base60_int(text: &str) -> Option<Reading> {
    let (negative, unsigned) = sign(text);
    let mut parts = unsigned.split(':');
    let first = parts.next()?;
    let rest: Vec<&str> = parts.collect();
    if rest.is_empty()
        || !first.starts_with(|c: char| matches!(c, '1'..='9'))
        || !first.chars().all(|c| c.is_ascii_digit() || c == '_')
        || !rest.iter().all(|p| sexagesimal(p))
    {
        return None;
    }
    let mut big = Decimal::of(first.chars().filter(|c| *c != '_'));
    for part in rest {
        big.mul_add(60, part.parse().ok()?);
    }
    Some(big.into_value(negative))
}

/// `[-+]?[0-9][0-9_]*(:[0-5]?[0-9])+\.[0-9_]*`, summed as PyYAML does:
/// from the right, each part a float times a power of 60.
fn pyyaml_base60_float(text: &str) -> Option<Reading> {
    let (negative, unsigned) = sign(text);
    let parts: Vec<&str> = unsigned.split(':').collect();
    let (first, rest) = parts.split_first()?;
    let (last, middle) = rest.split_last()?;
    let (seconds, fraction) = last.split_once('.')?;
    let ok = first.starts_with(|c: char| c.is_ascii_digit())
        && first.chars().all(|c| c.is_ascii_digit() || c == '_')
        && middle.iter().all(|p| sexagesimal(p))
        && sexagesimal(seconds)
        && fraction.chars().all(|c| c.is_ascii_digit() || c == '_');
    if !ok {
        return None;
    }
    let mut value = 0.0;
    let mut base = 1.0;
    for part in parts.iter().rev() {
        let digit: f64 = part.replace('_', "").parse().ok()?;
        value += digit * base;
        base *= 60.0;
    }
    Some(Reading::Float(if negative { -value } else { value }))
}

/// PyYAML's decimal float, `[-+]?[0-9][0-9_]*\.[0-9_]*([eE][-+][0-9]+)?`
/// or `\.[0-9][0-9_]*([eE][-+][0-9]+)?`, for the spellings the others refuse
/// (`1.e+3`): `_` dropped, then Python's `float()`.
fn pyyaml_float(text: &str) -> Option<Reading> {
    let (mantissa, exponent) = match text.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (text, None),
    };
    let (int_part, frac) = mantissa.split_once('.')?;
    let digits_or_underscores = |s: &str| s.chars().all(|c| c.is_ascii_digit() || c == '_');
    let int_ok = if int_part.is_empty() {
        frac.starts_with(|c: char| c.is_ascii_digit())
    } else {
        let unsigned = int_part.strip_prefix(['-', '+']).unwrap_or(int_part);
        unsigned.starts_with(|c: char| c.is_ascii_digit()) && digits_or_underscores(unsigned)
    };
    let exponent_ok = exponent.is_none_or(|e| {
        e.strip_prefix(['-', '+'])
            .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()))
    });
    if !(int_ok && digits_or_underscores(frac) && exponent_ok) {
        return None;
    }
    text.replace('_', "").parse().ok().map(Reading::Float)
}

/// Psych's scanner, for what the others read otherwise: booleans, null and
/// the special floats in any case, base-60 with one or two colons, and
/// commas in numbers.
fn psych(text: &str) -> Option<Reading> {
    let lower = text.to_ascii_lowercase();
    match lower.as_str() {
        "yes" | "true" | "on" => return Some(Reading::Bool(true)),
        "no" | "false" | "off" => return Some(Reading::Bool(false)),
        "null" => return Some(Reading::Null),
        ".inf" | "+.inf" => return Some(Reading::Float(f64::INFINITY)),
        "-.inf" => return Some(Reading::Float(f64::NEG_INFINITY)),
        ".nan" => return Some(Reading::Float(f64::NAN)),
        _ => {}
    }
    psych_base60(text)
        .or_else(|| psych_float(text))
        .or_else(|| psych_integer(text))
}

/// `[-+]?[0-9][0-9_]*(:[0-5]?[0-9]){1,2}` (and the same with a fraction),
/// computed as Psych does: `n.to_i * 60**((e-2).abs)` summed, so `12:30` is
/// 45000 and only the first part carries the sign.
fn psych_base60(text: &str) -> Option<Reading> {
    let (_, unsigned) = sign(text);
    let parts: Vec<&str> = unsigned.split(':').collect();
    if !(2..=3).contains(&parts.len()) {
        return None;
    }
    let (first, rest) = parts.split_first()?;
    let (last, middle) = rest.split_last()?;
    if !first.starts_with(|c: char| c.is_ascii_digit())
        || !first.chars().all(|c| c.is_ascii_digit() || c == '_')
        || !middle.iter().all(|p| sexagesimal(p))
    {
        return None;
    }
    let weight = |e: usize| 60_f64.powi(e.abs_diff(2) as i32);
    if let Some((seconds, fraction)) = last.split_once('.') {
        if !sexagesimal(seconds) || !fraction.chars().all(|c| c.is_ascii_digit() || c == '_') {
            return None;
        }
        let mut sum = 0.0;
        for (e, part) in text.split(':').enumerate() {
            sum += ruby_to_f(part) * weight(e);
        }
        return Some(Reading::Float(sum));
    }
    if !sexagesimal(last) {
        return None;
    }
    // first * 3600 + the rest, the rest below 3600 and never signed.
    let mut rest_value: u32 = 0;
    for (e, part) in rest.iter().enumerate() {
        rest_value += ruby_to_i(part) * 60_u32.pow((e + 1).abs_diff(2) as u32);
    }
    let mut first_big = Decimal::of(ruby_digits(first).0.chars());
    first_big.mul_add(3600, 0);
    let negative = text.starts_with('-') && !first_big.is_zero();
    if negative {
        first_big.sub_small(rest_value);
    } else {
        first_big.mul_add(1, rest_value);
    }
    Some(first_big.into_value(negative))
}

/// Psych's FLOAT: `[-+]?([0-9][0-9_,]*)?\.[0-9]*([eE][-+][0-9]+)?`, read by
/// Ruby's `Float()` once `,` and `_` are gone and a `.` before the exponent
/// or at the end is dropped.
fn psych_float(text: &str) -> Option<Reading> {
    let (_, unsigned) = sign(text);
    let (mantissa, exponent) = match unsigned.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (unsigned, None),
    };
    let (int_part, frac) = mantissa.split_once('.')?;
    let int_ok = int_part.is_empty()
        || (int_part.starts_with(|c: char| c.is_ascii_digit())
            && int_part
                .chars()
                .all(|c| c.is_ascii_digit() || c == '_' || c == ','));
    let exponent_ok = exponent.is_none_or(|e| {
        e.strip_prefix(['-', '+'])
            .is_some_and(|d| !d.is_empty() && d.chars().all(|c| c.is_ascii_digit()))
    });
    if !(int_ok && frac.chars().all(|c| c.is_ascii_digit()) && exponent_ok) {
        return None;
    }
    if int_part.is_empty() && frac.is_empty() {
        return None;
    }
    let cleaned: String = text.chars().filter(|c| !matches!(c, ',' | '_')).collect();
    let cleaned = cleaned.replace(".e", "e").replace(".E", "E");
    let cleaned = cleaned.strip_suffix('.').unwrap_or(&cleaned);
    cleaned.parse().ok().map(Reading::Float)
}

/// A YAML 1.1 integer's base from its prefix, and the digits after it:
/// `0b` binary, `0x` hexadecimal, a leading `0` octal; `None` for decimal.
pub(crate) fn radix_prefix_11(unsigned: &str) -> Option<(u32, &str)> {
    if let Some(bin) = unsigned.strip_prefix("0b") {
        Some((2, bin))
    } else if let Some(hex) = unsigned.strip_prefix("0x") {
        Some((16, hex))
    } else if unsigned.len() > 1 {
        unsigned.strip_prefix('0').map(|oct| (8, oct))
    } else {
        None
    }
}

/// Psych's INTEGER_LEGACY: the YAML 1.1 integers with `,` allowed where
/// `_` is, read by Ruby's `Integer()` once both are gone.
fn psych_integer(text: &str) -> Option<Reading> {
    let (negative, unsigned) = sign(text);
    let (radix, body) = if let Some(found) = radix_prefix_11(unsigned) {
        found
    } else {
        // `0|[1-9](?:[0-9]|,[0-9]|_[0-9])*`
        let mut previous_digit = false;
        for c in unsigned.chars() {
            match c {
                '0'..='9' => previous_digit = true,
                ',' | '_' if previous_digit => previous_digit = false,
                _ => return None,
            }
        }
        if !previous_digit || unsigned.starts_with('0') {
            return None;
        }
        (10, unsigned)
    };
    if !body
        .chars()
        .all(|c| c == '_' || c == ',' || c.is_digit(radix))
    {
        return None;
    }
    let digits: String = body.chars().filter(|c| c.is_digit(radix)).collect();
    if digits.is_empty() {
        // `0,` is `Integer("0")`; `Integer("0x")` raises in Psych: the tool
        // fails, and there is no reading to copy.
        return (radix == 8).then_some(Reading::Int(0));
    }
    let mut big = Decimal::of(std::iter::empty());
    for c in digits.chars() {
        big.mul_add(radix, c.to_digit(radix)?);
    }
    Some(big.into_value(negative))
}

/// go-yaml v2: `y`/`n` booleans, and numbers as Go's `strconv` reads them
/// (`0o17`, `0X1F`, `1e3`), base-60 a string.
fn go_yaml(text: &str) -> Option<Reading> {
    match text {
        "y" | "Y" => return Some(Reading::Bool(true)),
        "n" | "N" => return Some(Reading::Bool(false)),
        _ => {}
    }
    if text.starts_with('.') {
        // resolve.go hands a leading `.` to ParseFloat as written.
        return go_float_syntax(text, false)
            .then(|| text.parse().ok())
            .flatten()
            .filter(|f: &f64| f.is_finite())
            .map(Reading::Float);
    }
    if !text.starts_with(|c: char| c.is_ascii_digit() || c == '+' || c == '-') {
        return None;
    }
    let plain = text.replace('_', "");
    if let Some(v) = go_parse_int(&plain) {
        return Some(v);
    }
    // yamlStyleFloat: ^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$
    go_float_syntax(&plain, true)
        .then(|| plain.parse().ok())
        .flatten()
        .filter(|f: &f64| f.is_finite())
        .map(Reading::Float)
}

/// `strconv.ParseInt(s, 0, 64)`, then `ParseUint` for an unsigned value
/// past `i64`: a sign, then `0x`/`0X`, `0o`/`0O`, `0b`/`0B` or a leading
/// `0` (octal), else decimal.
fn go_parse_int(plain: &str) -> Option<Reading> {
    let (negative, unsigned) = sign(plain);
    let lower = unsigned.get(..2).map(str::to_ascii_lowercase);
    let (radix, digits) = match lower.as_deref() {
        Some("0x") => (16, &unsigned[2..]),
        Some("0o") => (8, &unsigned[2..]),
        Some("0b") => (2, &unsigned[2..]),
        _ if unsigned.len() > 1 && unsigned.starts_with('0') => (8, &unsigned[1..]),
        _ => (10, unsigned),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return None;
    }
    let magnitude = u64::from_str_radix(digits, radix).ok()?;
    if negative {
        let v = 0_i64.checked_sub_unsigned(magnitude)?;
        return Some(Reading::Int(v));
    }
    if plain.starts_with('+') {
        // ParseUint takes no sign: past i64, a signed value is refused.
        return i64::try_from(magnitude).ok().map(Reading::Int);
    }
    Some(match i64::try_from(magnitude) {
        Ok(v) => Reading::Int(v),
        Err(_) => Reading::BigInt(magnitude.to_string()),
    })
}

/// go-yaml v2's float shape; `signed`: a leading sign is allowed (a leading
/// `.` goes to ParseFloat unsigned).
fn go_float_syntax(text: &str, signed: bool) -> bool {
    let body = if signed {
        text.strip_prefix(['-', '+']).unwrap_or(text)
    } else {
        text
    };
    let (mantissa, exponent) = match body.split_once(['e', 'E']) {
        Some((m, e)) => (m, Some(e)),
        None => (body, None),
    };
    let digits = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit());
    let mantissa_ok = match mantissa.split_once('.') {
        Some(("", frac)) => digits(frac),
        Some((int, frac)) => digits(int) && (frac.is_empty() || digits(frac)),
        None => digits(mantissa),
    };
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['-', '+']).unwrap_or(e)));
    mantissa_ok && exponent_ok
}

/// `[0-5]?[0-9]`
fn sexagesimal(part: &str) -> bool {
    let b = part.as_bytes();
    match b {
        [d] => d.is_ascii_digit(),
        [t, d] => matches!(t, b'0'..=b'5') && d.is_ascii_digit(),
        _ => false,
    }
}

fn sign(text: &str) -> (bool, &str) {
    match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    }
}

/// The digits Ruby's `String#to_i` reads from the start of `part` (`_`
/// only between digits: `1__0` is 1), and how many bytes that took.
fn ruby_digits(part: &str) -> (String, usize) {
    let b = part.as_bytes();
    let mut out = String::new();
    let mut end = 0;
    while end < b.len() {
        match b[end] {
            d @ b'0'..=b'9' => out.push(char::from(d)),
            b'_' if !out.is_empty() && b.get(end + 1).is_some_and(u8::is_ascii_digit) => {}
            _ => break,
        }
        end += 1;
    }
    (out, end)
}

/// Ruby's `String#to_i` on a `[-+]?[0-9][0-9_]*` part below 60.
fn ruby_to_i(part: &str) -> u32 {
    ruby_digits(part).0.parse().unwrap_or(0)
}

/// Ruby's `String#to_f`: the longest number prefix, `_` between digits.
fn ruby_to_f(part: &str) -> f64 {
    let (negative, unsigned) = sign(part);
    let (mut number, end) = ruby_digits(unsigned);
    if let Some(after) = unsigned[end..].strip_prefix('.') {
        let (frac, _) = ruby_digits(after);
        if !frac.is_empty() {
            number.push('.');
            number.push_str(&frac);
        }
    }
    let v: f64 = number.parse().unwrap_or(0.0);
    if negative { -v } else { v }
}

/// A non-negative integer of any size, decimal digits least significant
/// first: exact base-60 and radix arithmetic as Python and Ruby do it.
struct Decimal(Vec<u8>);

impl Decimal {
    fn of(digits: impl Iterator<Item = char>) -> Decimal {
        let mut out: Vec<u8> = digits
            .filter_map(|c| c.to_digit(10))
            .map(|d| d as u8)
            .collect();
        out.reverse();
        Decimal(out)
    }

    fn mul_add(&mut self, factor: u32, addend: u32) {
        let mut carry = u64::from(addend);
        for d in &mut self.0 {
            let v = u64::from(*d) * u64::from(factor) + carry;
            *d = (v % 10) as u8;
            carry = v / 10;
        }
        while carry > 0 {
            self.0.push((carry % 10) as u8);
            carry /= 10;
        }
    }

    /// `self - small`, `self` being at least `small`.
    fn sub_small(&mut self, small: u32) {
        let mut borrow = i64::from(small);
        for d in &mut self.0 {
            if borrow == 0 {
                break;
            }
            let v = i64::from(*d) - borrow % 10;
            borrow /= 10;
            if v < 0 {
                *d = (v + 10) as u8;
                borrow += 1;
            } else {
                *d = v as u8;
            }
        }
    }

    fn is_zero(&self) -> bool {
        self.0.iter().all(|d| *d == 0)
    }

    fn into_value(self, negative: bool) -> Reading {
        let mut digits: String = self
            .0
            .iter()
            .rev()
            .skip_while(|d| **d == 0)
            .map(|d| char::from(b'0' + d))
            .collect();
        if digits.is_empty() {
            return Reading::Int(0);
        }
        if negative {
            digits.insert(0, '-');
        }
        match digits.parse::<i64>() {
            Ok(v) => Reading::Int(v),
            Err(_) => Reading::BigInt(digits),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Outputs of `ruby -ryaml` (Psych 4) and `python3` (PyYAML) on these
    /// scalars; the whole tables run against the real tools in
    /// `tests/it/yaml_readers.rs`.
    #[test]
    fn base_60_past_64_bits_and_signed_zero_match_python_and_ruby() {
        let big = |s: &str| Some(Reading::BigInt(s.to_owned()));
        assert_eq!(
            resolve_disputed("99999999999999999999:59:59", YamlReader::Psych),
            big("359999999999999999999999")
        );
        assert_eq!(
            resolve_disputed("99999999999999999999:59:59", YamlReader::PyYaml),
            big("359999999999999999999999")
        );
        assert_eq!(
            resolve_disputed("-1:0:0:0:0:0:0:0:0:0:0:0", YamlReader::PyYaml),
            big("-36279705600000000000")
        );
        assert_eq!(
            resolve_disputed("-0:30", YamlReader::Psych),
            Some(Reading::Int(1800))
        );
        assert_eq!(
            resolve_disputed("-0:30.5", YamlReader::Psych),
            Some(Reading::Float(1830.0))
        );
    }

    #[test]
    fn an_overlong_base_60_scalar_has_no_reading_and_a_failing_psych_integer_stays_a_string() {
        let long = format!("1{}", ":30".repeat(MAX_BASE60_LEN));
        assert_eq!(resolve_disputed(&long, YamlReader::PyYaml), None);
        assert_eq!(
            resolve_disputed(&long, YamlReader::GoYaml),
            Some(Reading::Str)
        );
        assert_eq!(
            resolve_disputed("0x_", YamlReader::Psych),
            Some(Reading::Str)
        );
        assert_eq!(resolve_disputed("12:30", YamlReader::Agreed), None);
    }

    /// go-yaml v2's resolve.go: its table, then `ParseInt(s, 0, 64)`,
    /// `ParseUint`, `ParseFloat` under yamlStyleFloat; a leading `.` goes
    /// to `ParseFloat` as written.
    #[test]
    fn go_yaml_follows_resolve_go() {
        let go = |s: &str| resolve_disputed(s, YamlReader::GoYaml);
        assert_eq!(go("+.Inf"), Some(Reading::Float(f64::INFINITY)));
        assert_eq!(go("-.5"), Some(Reading::Float(-0.5)));
        assert_eq!(go("1e+3"), Some(Reading::Float(1000.0)));
        assert_eq!(go("0O17"), Some(Reading::Int(15)));
        assert_eq!(go("-0x8000000000000000"), Some(Reading::Int(i64::MIN)));
        assert_eq!(
            go("0xFFFFFFFFFFFFFFFF"),
            Some(Reading::BigInt("18446744073709551615".to_owned()))
        );
        // ParseUint takes no sign.
        assert_eq!(go("+0xFFFFFFFFFFFFFFFF"), Some(Reading::Str));
        assert_eq!(go("1e400"), Some(Reading::Str));
        assert_eq!(go("._5"), Some(Reading::Str));
        assert_eq!(go("1:30"), Some(Reading::Str));
    }
}
