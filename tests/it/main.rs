//! ringmaster's integration tests: one test binary (faster to build and link
//! than one per file), each module a topic. Every test runs the real binary
//! (`CARGO_BIN_EXE_ringmaster`) on a throw-away git repository built with
//! `support::TestRepo`.
//!
//! Where new tests go: add a module file next to this one (`tests/it/<topic>.rs`)
//! and list it below, e.g. `mod render;` and `mod diff;` for those commands.
//! Tests of `check` go in `check.rs` (rules, formats, inputs), hostile or
//! broken input in `bad_input.rs`, SARIF conformance in `sarif.rs`,
//! library-level property tests of merge and diff in `props.rs`. Shared
//! helpers belong in `support.rs`.

mod live;
mod support;

mod architecture;
mod bad_input;
mod change;
mod check;
mod check_cache;
mod check_index;
mod cli_polish;
mod compare_gate;
mod debrief;
mod diff;
mod effective_scopes;
mod etcd;
mod examples;
mod explain;
mod flags;
mod github;
mod html_report;
mod import_adopted;
mod import_ansible;
mod import_helm;
mod import_hiera;
mod init;
mod keypaths;
mod layer_shapes;
mod merge_strategies;
mod mutations;
mod notify;
mod onefile;
mod onefile_links;
mod onefile_schema;
mod precommit;
mod prometheus;
mod props;
mod real_repos;
mod regressions;
mod render;
mod rollout;
mod rollout_output;
mod sarif;
mod shared_layers;
mod soak_clock;
mod trust_boundary;
mod trust_conformance;
mod trust_journal;
mod trust_output;
mod trust_validation;
mod wheel;
mod yaml_readers;
mod yaml_versions;
