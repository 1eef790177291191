//! Feature flags (SPEC §3.3, issue 4): a flag's value per host class in
//! `render`, `explain` and `diff`; the flag rules of `check`; `flags list`;
//! and `flags stale` (SPEC §5) with its reasons `expired`, `uniform` (asked
//! of git history, made here with commits dated in the past) and
//! `unreferenced` (a search of code directories that respects `.gitignore`).
//!
//! Every expectation is written by hand from the fixture text; comments give
//! the line:column a value sits at. "Today" is pinned with
//! `RINGMASTER_TODAY` wherever expiry matters.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use crate::support::{
    Output, TENANT_MANIFEST as MANIFEST, TestRepo, at, brief, briefs, change_row, changes_by_class,
    check_leaf_line, days_ago, related, render_provenance, text,
};

const DEFAULTS: &str = "server:\n  port: 8080\n";
const DOGFOOD: &str = "server:\n  port: 9090\n";

/// api-dogfood: ring value (8:3) → true; api-acme: tenant value (11:3) wins
/// over its ring's (9:3) → false; api-globex: ring value (9:3) → true;
/// api-shared: no ring or tenant value, the default (5:1) → false.
const NEW_CHECKOUT: &str = "\
name: new-checkout
owner: team-payments
description: New checkout flow
type: bool
default: false
expires: 2027-01-31
rings:
  dogfood: true
  single-tenant: true
tenants:
  acme: false
";

/// api-dogfood: ring value (7:3) → vector; api-acme: neither its ring nor its
/// tenant has a value, the default (4:1) → legacy; api-globex: tenant value
/// (9:3) → hybrid; api-shared: the default (4:1) → legacy.
const SEARCH_BACKEND: &str = "\
name: search-backend
owner: team-search
type: string
default: legacy
expires: 2027-06-30
rings:
  dogfood: vector
tenants:
  globex: hybrid
";

/// Expires on 2026-03-01 (the value at 5:10); on in dogfood only.
const OLD_SEARCH: &str = "\
name: old-search
owner: team-search
type: bool
default: false
expires: 2026-03-01
rings:
  dogfood: true
";

/// No expiry, no ring or tenant value.
const DARK_MODE: &str = "\
name: dark-mode
owner: team-ui
type: bool
default: false
";

/// A today before every expiry of the good flags (2027-01-31, 2027-06-30).
const TODAY: &str = "2026-11-22";

/// The manifest, two layers and the two good flags (not committed).
fn flag_files(repo: &TestRepo) -> &TestRepo {
    repo.file("ringmaster.yaml", MANIFEST)
        .file("config/defaults.yaml", DEFAULTS)
        .file("config/ring/dogfood.yaml", DOGFOOD)
        .file("flags/new-checkout.yaml", NEW_CHECKOUT)
        .file("flags/search-backend.yaml", SEARCH_BACKEND)
}

/// [`flag_files`], committed once.
fn flag_repo() -> TestRepo {
    let repo = TestRepo::new();
    flag_files(&repo).commit("flags");
    repo
}

/// `check --format json` with today pinned.
fn check_on(repo: &TestRepo, today: &str) -> Output {
    repo.run_env(
        &["check", "--format", "json"],
        &[("RINGMASTER_TODAY", today)],
    )
}

fn check(repo: &TestRepo) -> Output {
    check_on(repo, TODAY)
}

// ------------------------------------------------ values per class: render

#[test]
fn render_json_has_each_flag_as_tenant_over_ring_over_default() {
    let repo = flag_repo();
    let expected = [
        ("api-dogfood", 9090, json!(true), json!("vector")),
        ("api-acme", 8080, json!(false), json!("legacy")),
        ("api-globex", 8080, json!(true), json!("hybrid")),
        ("api-shared", 8080, json!(false), json!("legacy")),
    ];
    for (class, port, checkout, search) in expected {
        let out = repo
            .run(&["render", "--class", class, "--format", "json"])
            .expect_code(0);
        assert_eq!(
            out.json(),
            json!({
                "server": { "port": port },
                "flags": { "new-checkout": checkout, "search-backend": search }
            }),
            "{class}"
        );
    }
}

#[test]
fn render_provenance_points_at_the_flag_line_that_chose_the_value() {
    let repo = flag_repo();
    // (class, flag, line, column of the key, the key's path in the flag file, value)
    let expected = [
        (
            "api-dogfood",
            "new-checkout",
            8,
            3,
            "rings.dogfood",
            json!(true),
        ),
        (
            "api-acme",
            "new-checkout",
            11,
            3,
            "tenants.acme",
            json!(false),
        ),
        (
            "api-globex",
            "new-checkout",
            9,
            3,
            "rings.single-tenant",
            json!(true),
        ),
        ("api-shared", "new-checkout", 5, 1, "default", json!(false)),
        (
            "api-dogfood",
            "search-backend",
            7,
            3,
            "rings.dogfood",
            json!("vector"),
        ),
        (
            "api-acme",
            "search-backend",
            4,
            1,
            "default",
            json!("legacy"),
        ),
        (
            "api-globex",
            "search-backend",
            9,
            3,
            "tenants.globex",
            json!("hybrid"),
        ),
        (
            "api-shared",
            "search-backend",
            4,
            1,
            "default",
            json!("legacy"),
        ),
    ];
    for (class, flag, line, column, yaml_path, value) in expected {
        let file = format!("flags/{flag}.yaml");
        // The fixture itself: that line really sets that value.
        check_leaf_line(&repo.read(&file), line as usize, yaml_path, &value)
            .unwrap_or_else(|e| panic!("fixture: {e}"));
        let out = repo.run(&render_provenance(class)).expect_code(0);
        let leaf = &out.json()["leaves"][format!("flags.{flag}")];
        assert_eq!(leaf["value"], value, "{class} {flag}: {leaf}");
        assert_eq!(leaf["file"], file.as_str(), "{class} {flag}: {leaf}");
        assert_eq!(leaf["line"], line, "{class} {flag}: {leaf}");
        assert_eq!(leaf["column"], column, "{class} {flag}: {leaf}");
    }
}

#[test]
fn render_provenance_human_names_the_flag_file_and_line() {
    let repo = flag_repo();
    let out = repo
        .run(&["render", "--class", "api-acme", "--provenance"])
        .expect_code(0);
    let line = out
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("new-checkout:"))
        .unwrap_or_else(|| panic!("no new-checkout line:\n{}", out.stdout));
    assert!(
        line.contains("false") && line.trim_end().ends_with("flags/new-checkout.yaml:11"),
        "{line}"
    );
    let line = out
        .stdout
        .lines()
        .find(|l| l.trim_start().starts_with("search-backend:"))
        .unwrap_or_else(|| panic!("no search-backend line:\n{}", out.stdout));
    assert!(
        line.contains("legacy") && line.trim_end().ends_with("flags/search-backend.yaml:4"),
        "{line}"
    );
}

#[test]
fn explain_walks_default_ring_and_tenant_values() {
    let repo = flag_repo();
    let steps = |class: &str| -> (Vec<(String, u64, Value)>, Value, Value) {
        let out = repo
            .run(&[
                "explain",
                "--class",
                class,
                "flags.new-checkout",
                "--format",
                "json",
            ])
            .expect_code(0);
        let doc = out.json();
        let steps = doc["layers"]
            .as_array()
            .expect("layers")
            .iter()
            // The flag's layers that set a value (a ring or tenant without
            // a value of its own is listed as not mentioning the key).
            .filter(|s| s["file"] == "flags/new-checkout.yaml" && s["action"] != "absent")
            .map(|s| {
                (
                    s["action"].as_str().unwrap_or_default().to_owned(),
                    s["line"].as_u64().unwrap_or_default(),
                    s["value"].clone(),
                )
            })
            .collect();
        (steps, doc["final"].clone(), doc["source"].clone())
    };
    let step = |action: &str, line: u64, value: bool| (action.to_owned(), line, json!(value));
    // acme: the default (5), its ring's value (9), then its tenant's (11).
    assert_eq!(
        steps("api-acme"),
        (
            vec![
                step("set", 5, false),
                step("overrode", 9, true),
                step("overrode", 11, false)
            ],
            json!(false),
            json!("flags/new-checkout.yaml:11")
        )
    );
    // dogfood: the default, then its ring's value (8).
    assert_eq!(
        steps("api-dogfood"),
        (
            vec![step("set", 5, false), step("overrode", 8, true)],
            json!(true),
            json!("flags/new-checkout.yaml:8")
        )
    );
    // shared: only the default applies.
    assert_eq!(
        steps("api-shared"),
        (
            vec![step("set", 5, false)],
            json!(false),
            json!("flags/new-checkout.yaml:5")
        )
    );
}

#[test]
fn explain_finds_a_flag_whose_name_has_a_dot() {
    // The flag schema allows `.` in names (`checkout.v2`); `render` puts the
    // flag under `flags` as the key `checkout.v2`, so `explain
    // flags.checkout.v2` must find it: on in dogfood (6:3).
    let repo = flag_repo();
    repo.file(
        "flags/checkout.v2.yaml",
        "name: checkout.v2\nowner: team-payments\ntype: bool\ndefault: false\nrings:\n  dogfood: true\n",
    );
    let out = repo
        .run(&["render", "--class", "api-dogfood", "--format", "json"])
        .expect_code(0);
    assert_eq!(out.json()["flags"]["checkout.v2"], true);
    let out = repo
        .run(&[
            "explain",
            "--class",
            "api-dogfood",
            "flags.checkout.v2",
            "--format",
            "json",
        ])
        .expect_code(0);
    let doc = out.json();
    assert_eq!(
        (&doc["final"], &doc["source"]),
        (&json!(true), &json!("flags/checkout.v2.yaml:6")),
        "{doc}"
    );
}

// -------------------------------------------------- values per class: diff

/// One change of `diff --format json`: (path, op, old, new, source).
type Change = (String, String, Value, Value, String);

/// `diff --format json` reduced to class → changes.
fn diff_changes(out: &Output) -> BTreeMap<String, Vec<Change>> {
    out.assert_code(0);
    changes_by_class(&out.json())
        .into_iter()
        .map(|(class, changes)| {
            let changes = changes
                .iter()
                .map(|ch| {
                    let (path, op, old, new) = change_row(ch);
                    (path, op, old, new, text(ch, "source"))
                })
                .collect();
            (class, changes)
        })
        .collect()
}

fn change(path: &str, op: &str, old: Value, new: Value, source: &str) -> Change {
    (path.to_owned(), op.to_owned(), old, new, source.to_owned())
}

#[test]
fn diff_turning_a_flag_on_for_dogfood_changes_only_dogfood_classes() {
    let repo = flag_repo();
    repo.file("flags/dark-mode.yaml", DARK_MODE)
        .commit("dark mode");
    // Lines 5-6 added: `rings:` / `  dogfood: true`.
    repo.file(
        "flags/dark-mode.yaml",
        &format!("{DARK_MODE}rings:\n  dogfood: true\n"),
    );
    let out = repo.run(&["diff", "--format", "json"]);
    assert_eq!(
        diff_changes(&out),
        BTreeMap::from([(
            "api-dogfood".to_owned(),
            vec![change(
                "flags.dark-mode",
                "changed",
                json!(false),
                json!(true),
                "flags/dark-mode.yaml:6"
            )]
        )])
    );
    let summary = &out.json()["summary"];
    assert_eq!(
        (
            &summary["classes_total"],
            &summary["classes_changed"],
            &summary["changes"]
        ),
        (&json!(4), &json!(1), &json!(1))
    );
}

#[test]
fn diff_shows_flag_changes_per_ring_and_per_tenant_between_revisions() {
    let repo = flag_repo();
    repo.file("flags/dark-mode.yaml", DARK_MODE)
        .commit("dark mode");
    let base = repo.rev_parse("HEAD");
    // On for the single-tenant ring (6:3), but off again for globex (8:3).
    repo.file(
        "flags/dark-mode.yaml",
        &format!("{DARK_MODE}rings:\n  single-tenant: true\ntenants:\n  globex: false\n"),
    )
    .commit("dark mode for single-tenant, not globex");
    let head = repo.rev_parse("HEAD");
    let out = repo.run(&["diff", "--base", &base, "--head", &head, "--format", "json"]);
    assert_eq!(
        diff_changes(&out),
        BTreeMap::from([(
            "api-acme".to_owned(),
            vec![change(
                "flags.dark-mode",
                "changed",
                json!(false),
                json!(true),
                "flags/dark-mode.yaml:6"
            )]
        )])
    );
}

#[test]
fn diff_adding_and_removing_a_flag_touches_every_class() {
    let repo = flag_repo();
    // Added: every class gets the default (4:1). Removed: old values, sourced at base.
    repo.file("flags/dark-mode.yaml", DARK_MODE);
    repo.remove("flags/search-backend.yaml");
    let out = repo.run(&["diff", "--format", "json"]);
    let mut changes = diff_changes(&out);
    for changes in changes.values_mut() {
        changes.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    }
    let added = change(
        "flags.dark-mode",
        "added",
        Value::Null,
        json!(false),
        "flags/dark-mode.yaml:4",
    );
    let removed = |old: &str, line: u64| {
        change(
            "flags.search-backend",
            "removed",
            json!(old),
            Value::Null,
            &format!("flags/search-backend.yaml:{line}"),
        )
    };
    assert_eq!(
        changes,
        BTreeMap::from([
            (
                "api-acme".to_owned(),
                vec![added.clone(), removed("legacy", 4)]
            ),
            (
                "api-dogfood".to_owned(),
                vec![added.clone(), removed("vector", 7)]
            ),
            (
                "api-globex".to_owned(),
                vec![added.clone(), removed("hybrid", 9)]
            ),
            ("api-shared".to_owned(), vec![added, removed("legacy", 4)]),
        ])
    );
}

// ------------------------------------------------------------- flag rules

#[test]
fn good_flags_have_no_findings() {
    let repo = TestRepo::new();
    flag_files(&repo)
        .file("flags/dark-mode.yaml", DARK_MODE)
        // `.yml` is a flag file too; its stem is the name.
        .file(
            "flags/beta-ui.yml",
            "name: beta-ui\nowner: team-ui\ntype: number\ndefault: 0.5\n",
        );
    let out = check(&repo).expect_code(0);
    assert_eq!(out.findings(), Vec::<Value>::new());
}

#[test]
fn flag_owner_fires_on_a_missing_or_blank_owner_only() {
    let repo = TestRepo::new();
    flag_files(&repo)
        .file(
            "flags/no-owner.yaml",
            "name: no-owner\ntype: bool\ndefault: false\n",
        )
        .file(
            "flags/blank-owner.yaml",
            "name: blank-owner\nowner: \"  \"\ntype: bool\ndefault: false\n",
        );
    let out = check(&repo);
    // Warnings only.
    out.assert_code(0);
    let found: Vec<(String, String, String)> = out
        .findings()
        .iter()
        .map(|f| {
            let (rule, severity, file, ..) = brief(f);
            (rule, severity, file)
        })
        .collect();
    let owner = |file: &str| {
        (
            "flag-owner".to_owned(),
            "warning".to_owned(),
            file.to_owned(),
        )
    };
    assert_eq!(
        found,
        [
            owner("flags/blank-owner.yaml"),
            owner("flags/no-owner.yaml")
        ]
    );
    assert!(
        out.findings_of("flag-owner")[1]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("no-owner"),
        "{}",
        out.stdout
    );
}

#[test]
fn flag_owner_points_at_the_mapping_without_owner_or_at_the_blank_owner() {
    // SPEC §5: a missing key is reported at "the key of the mapping that lacks
    // it"; the root mapping has no key, so (as the `schema` rule does for a
    // missing required top-level key, path "") its start: 1:1. A blank
    // owner is a wrong value: the value's first character, `"` at 2:8.
    let repo = TestRepo::new();
    flag_files(&repo)
        .file(
            "flags/no-owner.yaml",
            "name: no-owner\ntype: bool\ndefault: false\n",
        )
        .file(
            "flags/blank-owner.yaml",
            "name: blank-owner\nowner: \"  \"\ntype: bool\ndefault: false\n",
        );
    let out = check(&repo).expect_code(0);
    assert_eq!(
        briefs(&out.findings_of("flag-owner")),
        [
            at(
                "flag-owner",
                "warning",
                "flags/blank-owner.yaml",
                2,
                8,
                Some("/owner")
            ),
            at(
                "flag-owner",
                "warning",
                "flags/no-owner.yaml",
                1,
                1,
                Some("")
            ),
        ]
    );
}

#[test]
fn flag_expired_fires_after_the_expiry_date_only() {
    let repo = TestRepo::new();
    flag_files(&repo).file("flags/old-search.yaml", OLD_SEARCH);
    // The day before and the day itself: `expires` is the date *after which* it is stale.
    for today in ["2026-02-28", "2026-03-01"] {
        let out = check_on(&repo, today).expect_code(0);
        assert_eq!(out.findings(), Vec::<Value>::new(), "today {today}");
    }
    for (today, ago) in [("2026-03-02", "1 day ago"), ("2026-03-31", "30 days ago")] {
        let out = check_on(&repo, today);
        // A warning: exit 0.
        out.assert_code(0);
        let found = out.findings();
        // `2026-03-01` starts at line 5, column 10.
        assert_eq!(
            briefs(&found),
            [at(
                "flag-expired",
                "warning",
                "flags/old-search.yaml",
                5,
                10,
                Some("/expires")
            )],
            "today {today}"
        );
        let message = found[0]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains("old-search")
                && message.contains("2026-03-01")
                && message.contains(ago),
            "{message}"
        );
    }
}

#[test]
fn flag_type_fires_on_default_ring_and_tenant_values_of_the_wrong_type() {
    let repo = TestRepo::new();
    flag_files(&repo).file(
        "flags/max-items.yaml",
        "\
name: max-items
owner: team-cart
type: number
default: \"ten\"
rings:
  dogfood: 5
  multi-tenant: true
tenants:
  acme: \"x\"
  globex: 2.5
",
    );
    let out = check(&repo).expect_code(1);
    // "ten" at 4:10, true at 7:17, "x" at 9:9; 5 and 2.5 are numbers.
    assert_eq!(
        briefs(&out.findings_of("flag-type")),
        [
            at(
                "flag-type",
                "error",
                "flags/max-items.yaml",
                4,
                10,
                Some("/default")
            ),
            at(
                "flag-type",
                "error",
                "flags/max-items.yaml",
                7,
                17,
                Some("/rings/multi-tenant")
            ),
            at(
                "flag-type",
                "error",
                "flags/max-items.yaml",
                9,
                9,
                Some("/tenants/acme")
            ),
        ]
    );
    // Nothing else but the flag schema's view of the same three values.
    for f in out.findings() {
        let (rule, _, file, line, column, _) = brief(&f);
        assert!(
            rule == "flag-type"
                || (rule == "schema"
                    && file == "flags/max-items.yaml"
                    && [(4, 10), (7, 17), (9, 9)].contains(&(line, column))),
            "unexpected finding {f}"
        );
    }
}

#[test]
fn flag_type_checks_bool_and_string_flags_too() {
    let repo = TestRepo::new();
    flag_files(&repo)
        // A quoted "true" is a string: 4:10.
        .file(
            "flags/beta.yaml",
            "name: beta\nowner: team-ui\ntype: bool\ndefault: \"true\"\n",
        )
        // 42 is a number: 6:12.
        .file(
            "flags/banner.yaml",
            "name: banner\nowner: team-ui\ntype: string\ndefault: hello\nrings:\n  dogfood: 42\n",
        );
    let out = check(&repo).expect_code(1);
    assert_eq!(
        briefs(&out.findings_of("flag-type")),
        [
            at(
                "flag-type",
                "error",
                "flags/banner.yaml",
                6,
                12,
                Some("/rings/dogfood")
            ),
            at(
                "flag-type",
                "error",
                "flags/beta.yaml",
                4,
                10,
                Some("/default")
            ),
        ]
    );
}

const TARGETS: &str = "\
name: targets
owner: team-a
type: bool
default: false
rings:
  dogfod: true
  multi-tenant: true
tenants:
  acmee: true
  globex: true
";

#[test]
fn flag_unknown_ring_and_tenant_fire_with_did_you_mean() {
    let repo = TestRepo::new();
    flag_files(&repo).file("flags/targets.yaml", TARGETS);
    let out = check(&repo).expect_code(1);
    let found = out.findings();
    // The keys `dogfod` (6:3) and `acmee` (9:3); `multi-tenant` and `globex` exist.
    assert_eq!(
        briefs(&found),
        [
            at(
                "flag-unknown-ring",
                "error",
                "flags/targets.yaml",
                6,
                3,
                Some("/rings/dogfod")
            ),
            at(
                "flag-unknown-tenant",
                "error",
                "flags/targets.yaml",
                9,
                3,
                Some("/tenants/acmee")
            ),
        ]
    );
    let message = |i: usize| found[i]["message"].as_str().unwrap_or_default().to_owned();
    assert!(
        message(0).contains("did you mean `dogfood`?"),
        "{}",
        message(0)
    );
    assert!(
        message(1).contains("did you mean `acme`?"),
        "{}",
        message(1)
    );
}

#[test]
fn flag_targets_are_not_checked_without_host_classes() {
    let repo = TestRepo::new();
    repo.file("ringmaster.yaml", "version: 1\nflags: flags/\n")
        .file("flags/targets.yaml", TARGETS);
    let out = check(&repo).expect_code(0);
    assert_eq!(out.findings(), Vec::<Value>::new());
}

/// Adds `rel` with `contents` to the flag files and checks: exit 1 and
/// exactly one `rule` error, at the flag's name (1:7); returns the findings.
fn one_error_at_the_name(rule: &str, rel: &str, contents: &str) -> Vec<Value> {
    let repo = TestRepo::new();
    flag_files(&repo).file(rel, contents);
    let out = check(&repo).expect_code(1);
    let found = out.findings();
    assert_eq!(
        briefs(&found),
        [at(rule, "error", rel, 1, 7, Some("/name"))]
    );
    found
}

#[test]
fn flag_name_fires_when_the_file_name_is_not_the_flag_name() {
    // `right-name` starts at 1:7.
    let found = one_error_at_the_name(
        "flag-name",
        "flags/wrong-file.yaml",
        "name: right-name\nowner: team-a\ntype: bool\ndefault: false\n",
    );
    let message = found[0]["message"].as_str().unwrap_or_default();
    for named in ["right-name", "wrong-file"] {
        assert!(message.contains(named), "{message}");
    }
}

#[test]
fn flag_duplicate_fires_on_the_second_file_with_the_same_name() {
    // Both files are named after the flag, so only the duplicate is wrong.
    // `flags/new-checkout.yaml` sorts first; the `.yml` one is the duplicate, at 1:7.
    let found = one_error_at_the_name(
        "flag-duplicate",
        "flags/new-checkout.yml",
        "name: new-checkout\nowner: team-payments\ntype: bool\ndefault: true\n",
    );
    assert_eq!(
        related(&found[0]),
        [("flags/new-checkout.yaml".to_owned(), 1, 7)]
    );
}

#[test]
fn expires_that_is_not_a_date_is_a_schema_finding() {
    for bad in ["next-tuesday", "2026-02-30", "20270131"] {
        let repo = TestRepo::new();
        flag_files(&repo).file(
            "flags/bad-date.yaml",
            &format!("name: bad-date\nowner: team-a\ntype: bool\ndefault: false\nexpires: {bad}\n"),
        );
        // A date that parsed (or was read leniently) would have expired by now.
        let out = check(&repo).expect_code(1);
        let found = out.findings();
        assert!(!found.is_empty(), "{bad}: no finding");
        // The value starts at 5:10.
        for f in &found {
            assert_eq!(
                brief(f),
                at(
                    "schema",
                    "error",
                    "flags/bad-date.yaml",
                    5,
                    10,
                    Some("/expires")
                ),
                "{bad}: {f}"
            );
        }
    }
}

#[test]
fn manifest_rules_override_flag_rule_severities() {
    let files = |repo: &TestRepo, rules: &str| {
        flag_files(repo)
            .file("ringmaster.yaml", &format!("{MANIFEST}{rules}"))
            .file(
                "flags/no-owner.yaml",
                "name: no-owner\ntype: bool\ndefault: false\n",
            )
            .file("flags/old-search.yaml", OLD_SEARCH);
    };
    let rules_of = |out: &Output| -> Vec<(String, String, String)> {
        out.findings()
            .iter()
            .map(|f| {
                let (rule, severity, file, ..) = brief(f);
                (rule, severity, file)
            })
            .collect()
    };
    let r = |rule: &str, severity: &str, file: &str| {
        (rule.to_owned(), severity.to_owned(), file.to_owned())
    };

    let plain = TestRepo::new();
    files(&plain, "");
    let out = check(&plain).expect_code(0);
    assert_eq!(
        rules_of(&out),
        [
            r("flag-owner", "warning", "flags/no-owner.yaml"),
            r("flag-expired", "warning", "flags/old-search.yaml"),
        ]
    );

    let strict = TestRepo::new();
    // `off` quoted: plain `off` is a YAML 1.1 boolean (an `ambiguous-scalar` warning).
    files(
        &strict,
        "rules:\n  flag-owner: error\n  flag-expired: \"off\"\n",
    );
    let out = check(&strict).expect_code(1);
    assert_eq!(
        rules_of(&out),
        [r("flag-owner", "error", "flags/no-owner.yaml")]
    );
    assert_eq!(out.json()["summary"]["errors"], 1);
    assert_eq!(out.json()["summary"]["warnings"], 0);
}

// -------------------------------------------------------------- flags list

/// The human table's cells, by header name: cells start where their header does.
fn table(stdout: &str) -> Vec<BTreeMap<String, String>> {
    let lines: Vec<Vec<char>> = stdout
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.chars().collect())
        .collect();
    let header: String = lines[0].iter().collect();
    let names = [
        "flag",
        "owner",
        "type",
        "default",
        "dogfood",
        "multi-tenant",
        "single-tenant",
        "tenants",
        "expires",
        "days left",
    ];
    let mut starts: Vec<(usize, &str)> = names
        .iter()
        .map(|n| {
            let byte = header
                .match_indices(n)
                .map(|(i, _)| i)
                .find(|&i| {
                    let before = header[..i].chars().last();
                    let after = header[i + n.len()..].chars().next();
                    before.is_none_or(char::is_whitespace) && after.is_none_or(char::is_whitespace)
                })
                .unwrap_or_else(|| panic!("no `{n}` column in {header:?}"));
            (header[..byte].chars().count(), *n)
        })
        .collect();
    starts.sort();
    lines[1..]
        .iter()
        // The footer: "N flags (· = the default applies)".
        .filter(|l| !l.iter().collect::<String>().contains(" flags ("))
        .map(|l| {
            starts
                .iter()
                .enumerate()
                .map(|(i, (start, name))| {
                    let end = starts.get(i + 1).map_or(l.len(), |(s, _)| *s).min(l.len());
                    let cell: String = l[(*start).min(l.len())..end].iter().collect();
                    ((*name).to_owned(), cell.trim().to_owned())
                })
                .collect()
        })
        .collect()
}

fn list_repo() -> TestRepo {
    let repo = TestRepo::new();
    flag_files(&repo)
        .file("flags/old-search.yaml", OLD_SEARCH)
        .file("flags/dark-mode.yaml", DARK_MODE);
    repo
}

#[test]
fn flags_list_table_has_owner_type_value_per_ring_expiry_and_days_left() {
    let repo = list_repo();
    let out = repo
        .run_env(&["flags", "list"], &[("RINGMASTER_TODAY", TODAY)])
        .expect_code(0);
    let rows = table(&out.stdout);
    let row = |cells: [&str; 10]| -> BTreeMap<String, String> {
        [
            "flag",
            "owner",
            "type",
            "default",
            "dogfood",
            "multi-tenant",
            "single-tenant",
            "tenants",
            "expires",
            "days left",
        ]
        .iter()
        .zip(cells)
        .map(|(k, v)| ((*k).to_owned(), v.to_owned()))
        .collect()
    };
    // Days left from 2026-11-22: to 2027-01-31 is 9 + 31 + 30 = 70; to
    // 2027-06-30 is 70 + 28 + 31 + 30 + 31 + 30 = 220; 2026-03-01 was
    // 31 + 30 + 31 + 30 + 31 + 31 + 30 + 31 + 21 = 266 days before.
    // `·`: the ring has no value of its own, the default applies.
    assert_eq!(
        rows,
        [
            row([
                "dark-mode",
                "team-ui",
                "bool",
                "false",
                "·",
                "·",
                "·",
                "",
                "",
                ""
            ]),
            row([
                "new-checkout",
                "team-payments",
                "bool",
                "false",
                "true",
                "·",
                "true",
                "acme=false",
                "2027-01-31",
                "70"
            ]),
            row([
                "old-search",
                "team-search",
                "bool",
                "false",
                "true",
                "·",
                "·",
                "",
                "2026-03-01",
                "-266"
            ]),
            row([
                "search-backend",
                "team-search",
                "string",
                "legacy",
                "vector",
                "·",
                "·",
                "globex=hybrid",
                "2027-06-30",
                "220"
            ]),
        ],
        "\n{}",
        out.stdout
    );
    out.assert_stdout_has("4 flags");
    // `list` is the default subcommand.
    let bare = repo
        .run_env(&["flags"], &[("RINGMASTER_TODAY", TODAY)])
        .expect_code(0);
    assert_eq!(bare.stdout, out.stdout);
}

#[test]
fn flags_list_json_shape() {
    let repo = list_repo();
    let out = repo
        .run_env(
            &["flags", "list", "--format", "json"],
            &[("RINGMASTER_TODAY", TODAY)],
        )
        .expect_code(0);
    let doc = out.json();
    let top: Vec<&String> = doc.as_object().expect("an object").keys().collect();
    assert_eq!(top, ["flags"]);
    let flags = doc["flags"].as_array().expect("flags is an array");
    let names: Vec<&str> = flags
        .iter()
        .map(|f| f["name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        ["dark-mode", "new-checkout", "old-search", "search-backend"]
    );
    assert_eq!(
        flags[1],
        json!({
            "name": "new-checkout",
            "file": "flags/new-checkout.yaml",
            "owner": "team-payments",
            "type": "bool",
            "default": false,
            "rings": { "dogfood": true, "single-tenant": true },
            "tenants": { "acme": false },
            "expires": "2027-01-31",
            "days_left": 70
        })
    );
    assert_eq!(
        flags[0],
        json!({
            "name": "dark-mode",
            "file": "flags/dark-mode.yaml",
            "owner": "team-ui",
            "type": "bool",
            "default": false,
            "rings": {},
            "tenants": {},
            "expires": null,
            "days_left": null
        })
    );
    assert_eq!(flags[2]["days_left"], -266);
    assert_eq!(flags[3]["default"], "legacy");
    assert_eq!(flags[3]["tenants"], json!({ "globex": "hybrid" }));
}

#[test]
fn flags_without_a_flags_directory_or_with_a_foreign_format_exit_2() {
    let repo = TestRepo::new();
    repo.file("ringmaster.yaml", "version: 1\n");
    let out = repo.run(&["flags", "list"]).expect_code(2);
    out.assert_stderr_has("flags:");

    let repo = flag_repo();
    let out = repo
        .run(&["flags", "list", "--format", "sarif"])
        .expect_code(2);
    out.assert_stderr_has("sarif");
}

// ------------------------------------------------- flags stale: expired, code

/// `app/` is code: a flag call, a plain mention, an undefined flag at
/// `app/src/cart.rs:12`, and a git-ignored `vendor/` that names `old-search`
/// and an undefined `ghost-flag`.
fn code_repo() -> TestRepo {
    let repo = TestRepo::new();
    flag_files(&repo)
        .file("flags/old-search.yaml", OLD_SEARCH)
        .file(
            "app/src/checkout.rs",
            "pub fn checkout() {\n    if flag(\"new-checkout\") {\n        new_flow();\n    }\n}\n",
        )
        .file(
            "app/web/search.ts",
            "export const backendFlag = \"search-backend\";\n",
        )
        .file(
            "app/src/cart.rs",
            &format!(
                "{}    if is_enabled(\"new-cart\") {{\n        cart_v2();\n    }}\n",
                "// cart\n".repeat(11)
            ),
        )
        .file("app/.gitignore", "vendor/\n")
        .file(
            "app/vendor/legacy.js",
            "if (flag(\"old-search\")) { flag(\"ghost-flag\"); }\n",
        )
        .commit("config and code");
    repo
}

fn stale_json(repo: &TestRepo, args: &[&str]) -> Value {
    let mut all = vec!["flags", "stale", "--format", "json"];
    all.extend_from_slice(args);
    let out = repo.run_env(&all, &[("RINGMASTER_TODAY", TODAY)]);
    // A report, not a gate: exit 0 even with stale flags.
    out.assert_code(0);
    out.json()
}

/// `stale[]` reduced to (name, reasons, owner).
fn stale_entries(doc: &Value) -> Vec<(String, Vec<String>, Value)> {
    let Some(stale) = doc["stale"].as_array() else {
        panic!("no stale array in {doc}")
    };
    let strings = |v: &Value| -> Vec<String> {
        let list = v.as_array().unwrap_or_else(|| panic!("no reasons in {v}"));
        list.iter()
            .map(|r| r.as_str().unwrap_or_default().to_owned())
            .collect()
    };
    stale
        .iter()
        .map(|s| {
            let name = s["name"].as_str().unwrap_or_default().to_owned();
            (name, strings(&s["reasons"]), s["owner"].clone())
        })
        .collect()
}

fn entry(name: &str, reasons: &[&str], owner: &str) -> (String, Vec<String>, Value) {
    (
        name.to_owned(),
        reasons.iter().map(|r| (*r).to_owned()).collect(),
        json!(owner),
    )
}

#[test]
fn stale_json_is_the_spec_shape_with_expired_unreferenced_and_undefined() {
    let repo = code_repo();
    let doc = stale_json(&repo, &["--code", "app"]);
    let top: Vec<&String> = doc.as_object().expect("an object").keys().collect();
    assert_eq!(top, ["stale", "undefined"], "{doc}");
    // old-search expired on 2026-03-01 and is named only under the ignored vendor/.
    assert_eq!(
        stale_entries(&doc),
        [entry(
            "old-search",
            &["expired", "unreferenced"],
            "team-search"
        )]
    );
    // new-cart at app/src/cart.rs:12 (after eleven comment lines); ghost-flag is ignored.
    assert_eq!(
        doc["undefined"],
        json!([{ "name": "new-cart", "file": "app/src/cart.rs", "line": 12 }])
    );
}

#[test]
fn stale_without_code_has_no_unreferenced_reason() {
    let repo = code_repo();
    let doc = stale_json(&repo, &[]);
    assert_eq!(
        stale_entries(&doc),
        [entry("old-search", &["expired"], "team-search")]
    );
    assert_eq!(doc["undefined"], json!([]));
}

#[test]
fn a_gitignored_directory_in_the_code_tree_is_not_searched() {
    let repo = code_repo();
    let doc = stale_json(&repo, &["--code", "app"]);
    assert!(
        stale_entries(&doc)
            .iter()
            .any(|(name, reasons, _)| name == "old-search"
                && reasons.contains(&"unreferenced".to_owned())),
        "{doc}"
    );
    // Without the ignore file, vendor/ is code like any other: old-search is
    // referenced there and ghost-flag is an undefined flag at line 1.
    repo.remove("app/.gitignore");
    let doc = stale_json(&repo, &["--code", "app"]);
    assert_eq!(
        stale_entries(&doc),
        [entry("old-search", &["expired"], "team-search")]
    );
    assert_eq!(
        doc["undefined"],
        json!([
            { "name": "new-cart", "file": "app/src/cart.rs", "line": 12 },
            { "name": "ghost-flag", "file": "app/vendor/legacy.js", "line": 1 }
        ])
    );
}

#[test]
fn stale_undefined_paths_are_relative_to_the_current_directory() {
    let repo = code_repo();
    let out = repo
        .run_in(
            "app",
            &["flags", "stale", "--code", "src", "--format", "json"],
        )
        .expect_code(0);
    assert_eq!(
        out.json()["undefined"],
        json!([{ "name": "new-cart", "file": "src/cart.rs", "line": 12 }])
    );
}

#[test]
fn stale_human_lists_reasons_and_undefined_references() {
    let repo = code_repo();
    let out = repo
        .run_env(
            &["flags", "stale", "--code", "app"],
            &[("RINGMASTER_TODAY", TODAY)],
        )
        .expect_code(0);
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("old-search"))
        .unwrap_or_else(|| panic!("no old-search line:\n{}", out.stdout));
    assert!(
        line.contains("expired") && line.contains("unreferenced") && line.contains("team-search"),
        "{line}"
    );
    out.assert_stdout_has("app/src/cart.rs:12")
        .assert_stdout_has("new-cart");
    assert!(!out.stdout.contains("ghost-flag"), "{}", out.stdout);
}

#[test]
fn stale_code_directory_that_does_not_exist_is_exit_2_naming_it() {
    let repo = code_repo();
    let out = repo
        .run(&["flags", "stale", "--code", "app", "--code", "no-such-dir"])
        .expect_code(2);
    out.assert_stderr_has("no-such-dir")
        .assert_stderr_has("does not exist");
    assert_eq!(out.stdout, "");
}

// ----------------------------------------------- flags stale: uniform (git)

fn flag(name: &str, default: bool, rings: &str) -> String {
    format!("name: {name}\nowner: team-{name}\ntype: bool\ndefault: {default}\n{rings}")
}

/// History, newest last:
/// - 50 days ago: `checkout-v2` and `dark-mode` on in dogfood only (not
///   uniform); `beta-banner` off everywhere (uniform false).
/// - 40 days ago: `checkout-v2` on everywhere (uniform true from here).
/// - 10 days ago: `dark-mode` on everywhere (its dogfood value equals the
///   default); `beta-banner` on everywhere (uniform, but with a new value).
/// - 2 days ago: an unrelated config edit.
fn uniform_repo() -> (TestRepo, String) {
    let repo = TestRepo::new();
    let dogfood_on = "rings:\n  dogfood: true\n";
    repo.file("ringmaster.yaml", MANIFEST)
        .file("config/defaults.yaml", DEFAULTS)
        .file("config/ring/dogfood.yaml", DOGFOOD)
        .file(
            "flags/checkout-v2.yaml",
            &flag("checkout-v2", false, dogfood_on),
        )
        .file(
            "flags/dark-mode.yaml",
            &flag("dark-mode", false, dogfood_on),
        )
        .file("flags/beta-banner.yaml", &flag("beta-banner", false, ""))
        .commit_at("flags", days_ago(50));
    repo.file("flags/checkout-v2.yaml", &flag("checkout-v2", true, ""))
        .commit_at("checkout-v2 everywhere", days_ago(40));
    let forty = repo.rev_parse("HEAD");
    repo.file("flags/dark-mode.yaml", &flag("dark-mode", true, dogfood_on))
        .file("flags/beta-banner.yaml", &flag("beta-banner", true, ""))
        .commit_at("dark-mode and beta-banner everywhere", days_ago(10));
    repo.file("config/defaults.yaml", "server:\n  port: 8081\n")
        .commit_at("port", days_ago(2));
    (repo, forty)
}

#[test]
fn uniform_for_40_days_is_stale_at_the_default_30_day_threshold() {
    let (repo, forty) = uniform_repo();
    let doc = stale_json(&repo, &[]);
    assert_eq!(
        stale_entries(&doc),
        [entry("checkout-v2", &["uniform"], "team-checkout-v2")]
    );
    // When it became uniform: the commit of 40 days ago, in UTC.
    let since = repo.git_env(
        &[
            "show",
            "-s",
            "--format=%cd",
            "--date=format-local:%Y-%m-%dT%H:%M:%SZ",
            &forty,
        ],
        &[("TZ", "UTC")],
    );
    assert_eq!(doc["stale"][0]["uniform_since"], since.trim(), "{doc}");
}

#[test]
fn uniform_days_sets_the_threshold() {
    let (repo, _) = uniform_repo();
    // 10 days uniform ≥ 5: dark-mode and beta-banner join.
    let doc = stale_json(&repo, &["--uniform-days", "5"]);
    assert_eq!(
        stale_entries(&doc),
        [
            entry("beta-banner", &["uniform"], "team-beta-banner"),
            entry("checkout-v2", &["uniform"], "team-checkout-v2"),
            entry("dark-mode", &["uniform"], "team-dark-mode"),
        ]
    );
    // 40 days < 45: nobody.
    let doc = stale_json(&repo, &["--uniform-days", "45"]);
    assert_eq!(stale_entries(&doc), []);
}

#[test]
fn a_working_tree_edit_restarts_the_uniform_clock() {
    let (repo, _) = uniform_repo();
    // Not uniform any more: off for acme.
    repo.file(
        "flags/checkout-v2.yaml",
        &flag("checkout-v2", true, "tenants:\n  acme: false\n"),
    );
    let doc = stale_json(&repo, &[]);
    assert_eq!(stale_entries(&doc), []);
}

#[test]
fn uniform_counts_a_flag_rolled_out_to_every_ring() {
    // "Fully rolled out" (SPEC §4): every ring that has host classes has its
    // own value `true`, so every class gets `true`; the default `false`
    // applies to no class. That is the same value everywhere, for 40 days.
    // `half-done` is on in two of the three rings only: not uniform.
    let repo = TestRepo::new();
    repo.file("ringmaster.yaml", MANIFEST)
        .file("config/defaults.yaml", DEFAULTS)
        .file("config/ring/dogfood.yaml", DOGFOOD)
        .file(
            "flags/fast-search.yaml",
            &flag(
                "fast-search",
                false,
                "rings:\n  dogfood: true\n  single-tenant: true\n  multi-tenant: true\n",
            ),
        )
        .file(
            "flags/half-done.yaml",
            &flag(
                "half-done",
                false,
                "rings:\n  dogfood: true\n  single-tenant: true\n",
            ),
        )
        .commit_at("rolled out", days_ago(40));
    for class in ["api-dogfood", "api-acme", "api-globex", "api-shared"] {
        let out = repo
            .run(&["render", "--class", class, "--format", "json"])
            .expect_code(0);
        assert_eq!(out.json()["flags"]["fast-search"], true, "{class}");
    }
    let doc = stale_json(&repo, &[]);
    assert_eq!(
        stale_entries(&doc),
        [entry("fast-search", &["uniform"], "team-fast-search")]
    );
}
