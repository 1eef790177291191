//! Python's `ast.literal_eval`, as Ansible's INI inventory plugin applies it
//! to every `key=value` (host lines and `[group:vars]` alike, ansible-core
//! 2.14): `1` is an int, `True` a boolean, `[1, 2]` a list, `'a'` a string,
//! and anything that is not a Python literal stays the text it was.

use crate::config::document::{Entry, Node, Value};
use crate::diag::Pos;

/// How deep a literal may nest before it is left as text (Python's own
/// parser gives up around 100 levels too).
const MAX_DEPTH: usize = 64;

/// The value `ast.literal_eval(text)` gives, or `None` when Python would
/// raise (the caller keeps the text). Every node carries `pos`.
pub(crate) fn literal_eval(text: &str, pos: Pos) -> Option<Node> {
    let mut p = Parser {
        s: text.trim_start_matches([' ', '\t']).as_bytes(),
        at: 0,
        pos,
    };
    let value = p.expr_list(0)?;
    p.skip_space();
    (p.at == p.s.len()).then_some(value)
}

struct Parser<'a> {
    s: &'a [u8],
    at: usize,
    pos: Pos,
}

impl Parser<'_> {
    fn node(&self, value: Value) -> Node {
        Node {
            value,
            pos: self.pos,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.at).copied()
    }

    /// Spaces, tabs and a `#` comment to the end (Python's tokenizer).
    fn skip_space(&mut self) {
        while let Some(c) = self.peek() {
            match c {
                b' ' | b'\t' | b'\x0c' => self.at += 1,
                b'#' => self.at = self.s.len(),
                _ => break,
            }
        }
    }

    fn eat(&mut self, c: u8) -> bool {
        self.skip_space();
        if self.peek() == Some(c) {
            self.at += 1;
            true
        } else {
            false
        }
    }

    /// `a, b` at the top (or inside parentheses) is a tuple: a list here.
    fn expr_list(&mut self, depth: usize) -> Option<Node> {
        let first = self.value(depth)?;
        self.skip_space();
        if self.peek() != Some(b',') {
            return Some(first);
        }
        let mut items = vec![first];
        while self.eat(b',') {
            self.skip_space();
            match self.peek() {
                None | Some(b')') => break,
                _ => items.push(self.value(depth)?),
            }
        }
        Some(self.node(Value::Seq(items)))
    }

    fn value(&mut self, depth: usize) -> Option<Node> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.skip_space();
        let c = self.peek()?;
        match c {
            b'[' => {
                self.at += 1;
                let items = self.items(b']', depth)?;
                Some(self.node(Value::Seq(items)))
            }
            b'(' => {
                self.at += 1;
                if self.eat(b')') {
                    return Some(self.node(Value::Seq(Vec::new())));
                }
                let inner = self.value(depth + 1)?;
                self.skip_space();
                if self.eat(b')') {
                    return Some(inner);
                }
                // A tuple.
                let mut items = vec![inner];
                while self.eat(b',') {
                    self.skip_space();
                    if self.peek() == Some(b')') {
                        break;
                    }
                    items.push(self.value(depth + 1)?);
                }
                self.eat(b')').then(|| self.node(Value::Seq(items)))
            }
            b'{' => {
                self.at += 1;
                self.dict_or_set(depth)
            }
            b'-' | b'+' => {
                self.at += 1;
                self.skip_space();
                let negative = c == b'-';
                // Python takes one sign before a number literal, nothing else.
                if !matches!(self.peek(), Some(b'0'..=b'9' | b'.')) {
                    return None;
                }
                let inner = self.number()?;
                match inner.value {
                    Value::Int(i) if negative => Some(self.node(Value::Int(i.checked_neg()?))),
                    Value::Float(f) if negative => Some(self.node(Value::Float(-f))),
                    Value::BigInt(b) if negative => Some(self.node(Value::BigInt(format!("-{b}")))),
                    Value::Int(_) | Value::Float(_) | Value::BigInt(_) => Some(inner),
                    _ => None,
                }
            }
            b'0'..=b'9' | b'.' => self.number(),
            b'"' | b'\'' => self.strings(),
            _ if c.is_ascii_alphabetic() || c == b'_' => {
                let start = self.at;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
                {
                    self.at += 1;
                }
                let word = &self.s[start..self.at];
                // String prefixes: r'', b'', u'', rb'' …
                if matches!(self.peek(), Some(b'"' | b'\''))
                    && word.len() <= 2
                    && word
                        .iter()
                        .all(|c| matches!(c.to_ascii_lowercase(), b'r' | b'b' | b'u'))
                {
                    self.at = start;
                    return self.strings();
                }
                match word {
                    b"True" => Some(self.node(Value::Bool(true))),
                    b"False" => Some(self.node(Value::Bool(false))),
                    b"None" => Some(self.node(Value::Null)),
                    _ => None,
                }
            }
            _ => None,
        }
    }

    fn items(&mut self, close: u8, depth: usize) -> Option<Vec<Node>> {
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Some(items);
            }
            items.push(self.value(depth + 1)?);
            if self.eat(close) {
                return Some(items);
            }
            if !self.eat(b',') {
                return None;
            }
        }
    }

    fn dict_or_set(&mut self, depth: usize) -> Option<Node> {
        let mut entries: Vec<Entry> = Vec::new();
        let mut set: Vec<Node> = Vec::new();
        loop {
            if self.eat(b'}') {
                break;
            }
            let key = self.value(depth + 1)?;
            if self.eat(b':') {
                if !set.is_empty() {
                    return None;
                }
                let value = self.value(depth + 1)?;
                let key = key_text(&key.value)?;
                // A repeated key: the later value wins, in the first place.
                if let Some(e) = entries.iter_mut().find(|e| e.key == key) {
                    e.value = value;
                } else {
                    entries.push(Entry {
                        key,
                        key_pos: self.pos,
                        value,
                    });
                }
            } else {
                if !entries.is_empty() {
                    return None;
                }
                set.push(key);
            }
            if self.eat(b'}') {
                break;
            }
            if !self.eat(b',') {
                return None;
            }
        }
        if set.is_empty() {
            Some(self.node(Value::Map(entries)))
        } else {
            // A set cannot be shown as JSON; Ansible fails on it. Keep the text.
            None
        }
    }

    fn number(&mut self) -> Option<Node> {
        let start = self.at;
        let rest = &self.s[start..];
        let radix = match rest {
            [b'0', b'x' | b'X', ..] => 16,
            [b'0', b'o' | b'O', ..] => 8,
            [b'0', b'b' | b'B', ..] => 2,
            _ => 10,
        };
        if radix != 10 {
            self.at += 2;
            let digits_start = self.at;
            while self
                .peek()
                .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
            {
                self.at += 1;
            }
            let digits = std::str::from_utf8(&self.s[digits_start..self.at]).ok()?;
            if !underscores_ok(digits) {
                return None;
            }
            let clean = digits.replace('_', "");
            return Some(match i64::from_str_radix(&clean, radix) {
                Ok(i) => self.node(Value::Int(i)),
                Err(_) => {
                    u128::from_str_radix(&clean, radix).ok()?;
                    self.node(Value::BigInt(format!(
                        "{}",
                        u128::from_str_radix(&clean, radix).ok()?
                    )))
                }
            });
        }
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_digit() || c == b'_' || c == b'.')
        {
            self.at += 1;
        }
        let mut float = self.s[start..self.at].contains(&b'.');
        if matches!(self.peek(), Some(b'e' | b'E')) {
            let save = self.at;
            self.at += 1;
            if matches!(self.peek(), Some(b'+' | b'-')) {
                self.at += 1;
            }
            if self.peek().is_some_and(|c| c.is_ascii_digit()) {
                while self.peek().is_some_and(|c| c.is_ascii_digit() || c == b'_') {
                    self.at += 1;
                }
                float = true;
            } else {
                self.at = save;
                return None;
            }
        }
        // `1j`, `1L`, `1abc`: not a literal this reader gives a value to.
        if self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == b'_')
        {
            return None;
        }
        let text = std::str::from_utf8(&self.s[start..self.at]).ok()?;
        if text == "." || text.matches('.').count() > 1 {
            return None;
        }
        for part in text.split(['.', 'e', 'E', '+', '-']) {
            if !part.is_empty() && !underscores_ok(part) {
                return None;
            }
        }
        let clean = text.replace('_', "");
        if float {
            let f: f64 = clean.parse().ok()?;
            return Some(self.node(Value::Float(f)));
        }
        // Python 3 refuses `0644` (leading zeros), but `000` is 0.
        if clean.len() > 1 && clean.starts_with('0') && clean.bytes().any(|c| c != b'0') {
            return None;
        }
        Some(match clean.parse::<i64>() {
            Ok(i) => self.node(Value::Int(i)),
            Err(_) => self.node(Value::BigInt(clean.trim_start_matches('0').to_owned())),
        })
    }

    /// One or more adjacent string literals (`'a' 'b'` is `'ab'`).
    fn strings(&mut self) -> Option<Node> {
        let mut out = String::new();
        let mut any = false;
        loop {
            self.skip_space();
            let start = self.at;
            let mut raw = false;
            while let Some(c) = self.peek() {
                match c.to_ascii_lowercase() {
                    b'r' => raw = true,
                    b'b' | b'u' => {}
                    _ => break,
                }
                self.at += 1;
            }
            if self.at - start > 2 || !matches!(self.peek(), Some(b'"' | b'\'')) {
                self.at = start;
                break;
            }
            out.push_str(&self.one_string(raw)?);
            any = true;
        }
        any.then(|| self.node(Value::Str(out)))
    }

    fn one_string(&mut self, raw: bool) -> Option<String> {
        let quote = self.peek()?;
        let triple = self.s[self.at..].starts_with(&[quote, quote, quote]);
        self.at += if triple { 3 } else { 1 };
        let mut out: Vec<u8> = Vec::new();
        loop {
            let c = self.peek()?;
            if c == quote {
                if !triple {
                    self.at += 1;
                    break;
                }
                if self.s[self.at..].starts_with(&[quote, quote, quote]) {
                    self.at += 3;
                    break;
                }
            }
            if c == b'\n' && !triple {
                return None;
            }
            self.at += 1;
            if c != b'\\' {
                out.push(c);
                continue;
            }
            let e = self.peek()?;
            if raw {
                out.push(b'\\');
                out.push(e);
                self.at += 1;
                continue;
            }
            self.at += 1;
            match e {
                b'\n' => {}
                b'\\' => out.push(b'\\'),
                b'\'' => out.push(b'\''),
                b'"' => out.push(b'"'),
                b'a' => out.push(7),
                b'b' => out.push(8),
                b'f' => out.push(12),
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b't' => out.push(b'\t'),
                b'v' => out.push(11),
                b'0'..=b'7' => {
                    let mut v = u32::from(e - b'0');
                    for _ in 0..2 {
                        match self.peek() {
                            Some(d @ b'0'..=b'7') => {
                                v = v * 8 + u32::from(d - b'0');
                                self.at += 1;
                            }
                            _ => break,
                        }
                    }
                    push_char(&mut out, char::from_u32(v)?);
                }
                b'x' | b'u' | b'U' => {
                    let n = match e {
                        b'x' => 2,
                        b'u' => 4,
                        _ => 8,
                    };
                    let hex = std::str::from_utf8(self.s.get(self.at..self.at + n)?).ok()?;
                    let v = u32::from_str_radix(hex, 16).ok()?;
                    self.at += n;
                    push_char(&mut out, char::from_u32(v)?);
                }
                other => {
                    out.push(b'\\');
                    out.push(other);
                }
            }
        }
        String::from_utf8(out).ok()
    }
}

fn push_char(out: &mut Vec<u8>, c: char) {
    let mut buf = [0u8; 4];
    out.extend_from_slice(c.encode_utf8(&mut buf).as_bytes());
}

/// Python's digit grouping: `_` only between digits.
fn underscores_ok(digits: &str) -> bool {
    !digits.is_empty()
        && !digits.starts_with('_')
        && !digits.ends_with('_')
        && !digits.contains("__")
}

/// A dict key as JSON shows it (Ansible's JSON output turns keys into text).
fn key_text(v: &Value) -> Option<String> {
    Some(match v {
        Value::Str(s) => s.clone(),
        Value::Int(i) => i.to_string(),
        Value::BigInt(b) => b.clone(),
        Value::Bool(b) => if *b { "true" } else { "false" }.to_owned(),
        Value::Null => "null".to_owned(),
        Value::Float(f) => format!("{f:?}"),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(s: &str) -> Option<serde_json::Value> {
        literal_eval(s, Pos::START).map(|n| n.to_json())
    }

    #[test]
    fn python_literals_become_values_and_the_rest_stays_text() {
        use serde_json::json;
        assert_eq!(eval("1"), Some(json!(1)));
        assert_eq!(eval("-1.5"), Some(json!(-1.5)));
        assert_eq!(eval("0x1F"), Some(json!(31)));
        assert_eq!(eval("1_000"), Some(json!(1000)));
        assert_eq!(eval("True"), Some(json!(true)));
        assert_eq!(eval("None"), Some(json!(null)));
        assert_eq!(eval("'a' \"b\""), Some(json!("ab")));
        assert_eq!(eval("[1, 'x', (2, 3)]"), Some(json!([1, "x", [2, 3]])));
        assert_eq!(eval("{'a': {'b': 1}}"), Some(json!({"a": {"b": 1}})));
        assert_eq!(eval("1, 2"), Some(json!([1, 2])));
        assert_eq!(eval("[1, 2] # c"), Some(json!([1, 2])));
        assert_eq!(eval("'\\x41\\n'"), Some(json!("A\n")));
        for text in [
            "0644", "yes", "true", "a b", "1+2", "", "1j", "{1, 2}", "[1,",
        ] {
            assert_eq!(eval(text), None, "{text}");
        }
    }
}
