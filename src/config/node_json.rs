//! A parsed document read by the JSON Schema validator as it is, without
//! first being copied into a `serde_json::Value`.
//!
//! `check` validates every file against its schema, and nearly every file
//! is valid: copying each tree into JSON (a string per key and per value, a
//! hashed map per mapping) cost more than the validation itself. The
//! validator is generic over how JSON is held (`jsonschema::json::Json`),
//! so it reads [`Node`]s here exactly as [`Node::to_json`] would present
//! them: `!unset` entries left out, `!unset` elsewhere null, numbers as the
//! `serde_json::Number` `to_json` builds. Only the yes/no answer comes from
//! here ([`CompiledSchema::is_valid_node`](super::schema::CompiledSchema));
//! an invalid file and one with numbers JSON cannot hold (`.inf`, `.nan`,
//! integers beyond 64 bits) are validated as JSON as before, so every
//! finding, its wording and its place come from one path.

use std::borrow::Cow;

use jsonschema::json::{Array, Json, Node as JsonNode, NodeIdentity, Object};
use jsonschema::types::JsonType;

use super::document::{Entry, Node, Value};

/// Parsed documents as the validator's JSON representation.
pub(crate) struct NodeJson;

impl Json for NodeJson {
    type Node<'a> = &'a Node;
    type PreparedKey = String;
    type StringBuffer = Option<Node>;

    // A lookup is a scan of the entries: a pass over the members is worth
    // it from a few lookups on, as for `serde_json`'s maps.
    const KEYS_PER_LOOKUP: usize = 2;

    fn prepare_key(key: &str) -> String {
        key.to_owned()
    }

    fn with_string_node<T>(
        buffer: &mut Option<Node>,
        string: &str,
        f: impl FnOnce(&Node) -> T,
    ) -> T {
        let node = buffer.get_or_insert_with(|| Node {
            value: Value::Str(String::new()),
            pos: crate::diag::Pos::START,
        });
        if let Value::Str(existing) = &mut node.value {
            existing.clear();
            existing.push_str(string);
        } else {
            node.value = Value::Str(string.to_owned());
        }
        f(node)
    }
}

/// A number as [`Node::to_json`] writes it; `None` for what it writes as a
/// string (a non-finite float, an integer beyond `u64`), which the caller
/// never validates here.
fn number(value: &Value) -> Option<serde_json::Number> {
    match value {
        Value::Int(i) => Some(serde_json::Number::from(*i)),
        Value::BigInt(text) => text.parse::<u64>().ok().map(serde_json::Number::from),
        Value::Float(f) => serde_json::Number::from_f64(*f),
        _ => None,
    }
}

impl<'a> JsonNode<'a, NodeJson> for &'a Node {
    type Object = Members<'a>;
    type Array = &'a [Node];
    type Number = serde_json::Number;

    fn as_object(&self) -> Option<Members<'a>> {
        match &self.value {
            Value::Map(entries) => Some(Members(entries)),
            _ => None,
        }
    }

    fn as_array(&self) -> Option<&'a [Node]> {
        match &self.value {
            Value::Seq(items) => Some(items),
            _ => None,
        }
    }

    fn as_string(&self) -> Option<Cow<'a, str>> {
        match &self.value {
            Value::Str(s) => Some(Cow::Borrowed(s)),
            Value::BigInt(text) if text.parse::<u64>().is_err() => Some(Cow::Borrowed(text)),
            Value::Float(f) if !f.is_finite() => {
                Some(Cow::Borrowed(super::document::non_finite_spelling(*f)))
            }
            _ => None,
        }
    }

    fn as_number(&self) -> Option<serde_json::Number> {
        number(&self.value)
    }

    fn is_number(&self) -> bool {
        self.json_type() == JsonType::Number
    }

    fn as_boolean(&self) -> Option<bool> {
        match self.value {
            Value::Bool(b) => Some(b),
            _ => None,
        }
    }

    fn is_null(&self) -> bool {
        matches!(self.value, Value::Null | Value::Unset)
    }

    fn json_type(&self) -> JsonType {
        match &self.value {
            Value::Null | Value::Unset => JsonType::Null,
            Value::Bool(_) => JsonType::Boolean,
            Value::Int(_) => JsonType::Number,
            Value::BigInt(text) if text.parse::<u64>().is_ok() => JsonType::Number,
            Value::Float(f) if f.is_finite() => JsonType::Number,
            Value::BigInt(_) | Value::Float(_) | Value::Str(_) => JsonType::String,
            Value::Seq(_) => JsonType::Array,
            Value::Map(_) => JsonType::Object,
        }
    }

    fn to_value(&self) -> Cow<'a, serde_json::Value> {
        Cow::Owned(self.to_json())
    }

    fn identity(&self) -> Option<NodeIdentity> {
        Some(NodeIdentity::new(std::ptr::from_ref::<Node>(self) as usize))
    }
}

/// A mapping's entries as a JSON object: `!unset` entries are not there.
/// A parsed mapping holds each key once (the builder keeps the last of
/// duplicates), as a JSON object does.
#[derive(Clone, Copy)]
pub(crate) struct Members<'a>(&'a [Entry]);

fn present(entry: &&Entry) -> bool {
    entry.value.value != Value::Unset
}

type MembersIter<'a> = std::iter::Map<
    std::iter::Filter<std::slice::Iter<'a, Entry>, fn(&&Entry) -> bool>,
    fn(&'a Entry) -> (&'a str, &'a Node),
>;

impl<'a> Object<'a, NodeJson> for Members<'a> {
    type Node = &'a Node;
    type MemberName = &'a str;
    type MembersIter = MembersIter<'a>;

    fn len(&self) -> usize {
        self.0.iter().filter(present).count()
    }

    fn get(&self, key: &String) -> Option<&'a Node> {
        self.0
            .iter()
            .find(|e| e.key == *key && present(e))
            .map(|e| &e.value)
    }

    fn members(&self) -> MembersIter<'a> {
        fn pair(e: &Entry) -> (&str, &Node) {
            (e.key.as_str(), &e.value)
        }
        self.0
            .iter()
            .filter(present as fn(&&Entry) -> bool)
            .map(pair as fn(&'a Entry) -> (&'a str, &'a Node))
    }
}

impl<'a> Array<'a, NodeJson> for &'a [Node] {
    type Node = &'a Node;
    type ElementsIter = std::slice::Iter<'a, Node>;

    fn len(&self) -> usize {
        <[Node]>::len(self)
    }

    fn elements(&self) -> std::slice::Iter<'a, Node> {
        self.iter()
    }
}
