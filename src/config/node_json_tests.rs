//! The validator reading parsed documents (`node_json.rs`) against the same
//! schema reading their JSON (`Node::to_json`): the same answer, over
//! generated documents and schemas that use every kind of keyword.

use proptest::prelude::*;

use crate::config::document::{self, Limits, Node};
use crate::config::node_json::NodeJson;
use crate::config::schema::{CompiledSchema, DocumentLocator};

/// Keywords of every kind: types, objects, arrays, numbers, strings and
/// formats, `const`/`enum`/`uniqueItems` (which compare whole values),
/// combinators, conditionals, `$ref`s and `propertyNames`.
fn schemas() -> Vec<serde_json::Value> {
    use serde_json::json;
    vec![
        json!({"type": "object", "additionalProperties": false,
               "properties": {"a": {"type": "integer"}, "b": {"type": "string"},
                              "c": {"type": ["array", "null"]}, "d": {"type": "number"}}}),
        json!({"type": "object", "required": ["a", "b"], "minProperties": 2,
               "maxProperties": 4, "dependentRequired": {"c": ["d"]}}),
        json!({"properties": {"a": {"minimum": 0, "maximum": 100, "multipleOf": 5},
                              "b": {"exclusiveMinimum": 1.5, "exclusiveMaximum": 1e20},
                              "d": {"type": "integer", "minimum": -9223372036854775808_i64}}}),
        json!({"properties": {"b": {"minLength": 2, "maxLength": 5, "pattern": "^[a-z]+$"},
                              "a": {"format": "ipv4"}, "c": {"format": "email"},
                              "d": {"format": "date-time"}}}),
        json!({"properties": {"c": {"type": "array", "items": {"type": ["integer", "string"]},
                                    "minItems": 1, "maxItems": 3, "uniqueItems": true,
                                    "contains": {"const": 1}}}}),
        json!({"properties": {"a": {"enum": [1, "x", null, true, [1, "x"], {"a": 1}]},
                              "b": {"const": {"a": 1, "b": "x"}},
                              "c": {"enum": ["x", "yy", "zzz"]}}}),
        json!({"anyOf": [{"required": ["a"]}, {"type": "array"}],
               "oneOf": [{"properties": {"a": {"type": "integer"}}},
                         {"properties": {"b": {"type": "integer"}}}],
               "not": {"required": ["zz"]}}),
        json!({"if": {"properties": {"a": {"const": 1}}, "required": ["a"]},
               "then": {"required": ["b"]}, "else": {"properties": {"b": {"type": "null"}}}}),
        json!({"$defs": {"leaf": {"type": ["string", "number", "boolean", "null"]},
                         "tree": {"anyOf": [{"$ref": "#/$defs/leaf"},
                                            {"type": "array", "items": {"$ref": "#/$defs/tree"}},
                                            {"type": "object",
                                             "additionalProperties": {"$ref": "#/$defs/tree"}}]}},
               "$ref": "#/$defs/tree"}),
        json!({"propertyNames": {"pattern": "^[a-c]$", "maxLength": 1},
               "patternProperties": {"^[ab]$": {"type": "integer"}},
               "additionalProperties": {"type": "string"}}),
        json!({"type": "object", "unevaluatedProperties": false,
               "properties": {"a": true}, "allOf": [{"properties": {"b": true}}]}),
        json!({"items": {"type": "integer"}, "prefixItems": [{"type": "string"}],
               "type": ["array", "object"]}),
    ]
}

/// A flow-style YAML value: scalars of every resolution (integers, floats,
/// big integers, `.inf`/`.nan`, booleans, nulls, quoted and plain strings,
/// `!unset`), mappings with repeated keys, lists.
fn value() -> impl Strategy<Value = String> {
    let scalar = prop::sample::select(vec![
        "0",
        "1",
        "-1",
        "5",
        "100",
        "1.0",
        "1.5",
        "2e3",
        "-0",
        "0x1F",
        "0o17",
        "9223372036854775807",
        "18446744073709551615",
        "18446744073709551616",
        "-9223372036854775809",
        ".inf",
        "-.inf",
        ".nan",
        "true",
        "false",
        "null",
        "~",
        "x",
        "yy",
        "zzz",
        "\"1\"",
        "'x'",
        "ab",
        "A1",
        "10.0.0.1",
        "a@b.example",
        "2024-01-02T03:04:05Z",
        "!unset",
        "\"\"",
    ])
    .prop_map(str::to_owned);
    scalar.prop_recursive(4, 40, 5, |inner| {
        let key = prop::sample::select(vec!["a", "b", "c", "d", "zz", "\"e f\""]);
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(|v| format!("[{}]", v.join(", "))),
            prop::collection::vec((key, inner), 0..6).prop_map(|entries| {
                let body: Vec<String> = entries.iter().map(|(k, v)| format!("{k}: {v}")).collect();
                format!("{{{}}}", body.join(", "))
            }),
        ]
    })
}

fn compiled(schema: &serde_json::Value) -> CompiledSchema {
    CompiledSchema {
        path: "s.json".into(),
        validator: jsonschema::options()
            .should_validate_formats(true)
            .build(schema)
            .expect("test schemas compile"),
        node_validator: Some(
            jsonschema::options_for::<NodeJson>()
                .should_validate_formats(true)
                .build(schema)
                .expect("test schemas compile"),
        ),
        json: schema.clone(),
        digest: [0; 32],
    }
}

fn agree(schemas: &[CompiledSchema], root: &Node) -> Result<(), TestCaseError> {
    let json = root.to_json();
    let locator = DocumentLocator {
        file: "c.yaml",
        root,
    };
    for schema in schemas {
        let node_validator = schema.node_validator.as_ref().expect("compiled");
        if !root.has_special_numbers() {
            prop_assert_eq!(
                node_validator.is_valid(root),
                schema.validator.is_valid(&json),
                "schema {} on {}",
                schema.json,
                json
            );
        }
        if schema.valid_as_parsed(root) {
            prop_assert!(schema.validate(&json, &locator).is_empty());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    /// Whatever the document, the parsed tree and its JSON get the same
    /// answer from every schema; where the tree is said valid, validating
    /// its JSON finds nothing.
    #[test]
    fn a_parsed_document_and_its_json_get_the_same_answer(text in value()) {
        let schemas: Vec<CompiledSchema> = schemas().iter().map(compiled).collect();
        let parsed = document::parse("c.yaml", text.as_bytes(), &Limits::default());
        for root in &parsed.docs {
            agree(&schemas, root)?;
        }
    }
}

/// The generator reaches both answers, and each keyword kind says no at
/// least once: the property above compares answers that differ.
#[test]
fn the_generated_documents_are_valid_and_invalid_for_every_schema() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let schemas: Vec<CompiledSchema> = schemas().iter().map(compiled).collect();
    let mut valid = vec![0; schemas.len()];
    let mut invalid = vec![0; schemas.len()];
    let mut runner = TestRunner::deterministic();
    let strategy = value();
    for _ in 0..2000 {
        let text = strategy.new_tree(&mut runner).expect("a value").current();
        let parsed = document::parse("c.yaml", text.as_bytes(), &Limits::default());
        for root in &parsed.docs {
            for (i, schema) in schemas.iter().enumerate() {
                if schema.valid_as_parsed(root) {
                    valid[i] += 1;
                } else {
                    invalid[i] += 1;
                }
            }
        }
    }
    for i in 0..schemas.len() {
        assert!(
            valid[i] > 20 && invalid[i] > 20,
            "schema {i}: {} valid, {} invalid",
            valid[i],
            invalid[i]
        );
    }
}

/// `!unset` entries are not members, `!unset` elsewhere is null, and a
/// repeated key is one member holding the last value: as in the JSON.
#[test]
fn unset_entries_and_repeated_keys_read_as_in_the_json() {
    let schema = compiled(&serde_json::json!({
        "type": "object", "properties": {"a": {"const": 2}, "b": {"type": "array",
        "items": {"type": "null"}}}, "required": ["a"], "maxProperties": 2,
        "not": {"required": ["c"]}}));
    for (text, valid) in [
        ("{a: 1, a: 2, c: !unset, b: [!unset]}", true),
        ("{a: 2, c: 1}", false),
        ("{a: !unset}", false),
        ("{a: 2, a: 1}", false),
    ] {
        let parsed = document::parse("c.yaml", text.as_bytes(), &Limits::default());
        let root = parsed.single().expect("one document");
        assert_eq!(schema.valid_as_parsed(root), valid, "{text}");
        assert_eq!(schema.validator.is_valid(&root.to_json()), valid, "{text}");
    }
}
