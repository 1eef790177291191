#!/usr/bin/env bash
# Mutation testing of the core modules with cargo-mutants (https://mutants.rs, crates.io
# `cargo-mutants`): it makes small changes to the code (a `>` made `>=`, a `+ 1` dropped, a
# function body replaced by a default value) and runs the tests on each. A mutant no test
# notices ("missed", a survivor) is behaviour the suite does not pin.
#
#   scripts/mutants.sh [--in-place] [--unit-first] [--iterate] [MODULE...] [-- CARGO-MUTANTS ARGS...]
#
# MODULE is one of (default: all of them, in this order):
#   merge     src/config/merge.rs           the layer merge (strategies, knockouts, the trace)
#   diff      src/diff/mod.rs            effective config × effective config → changes
#   gates     src/rollout/gates.rs           threshold and burn-rate verdicts, gate lints
#   journal   src/rollout/journal.rs         the hash chain and its verification
#   secrets   src/check/secrets.rs         what looks like a credential, and its mask
#   sarif     src/report/sarif.rs    SARIF locations (GitHub code scanning)
#   github    src/report/github.rs   GitHub annotations' locations
#
# Each module's mutants run only the tests that cover it (its unit tests and the integration
# modules of tests/it that drive it), which keeps a run feasible on two cores: 20 s to a
# minute per mutant against the integration tests, about two hours for everything with
# --unit-first (2026-12-07: 900 mutants).
#
# Options:
#   --in-place   mutate this working tree and reuse its target/ (no scratch copy, so no build
#                of the dependencies from scratch); do not edit or build here meanwhile.
#                Without it cargo-mutants works in a scratch copy of the tree.
#   --unit-first two passes per module: every mutant against the library's unit tests alone
#                (an incremental build of one test binary and a few seconds of tests: about
#                4-8 s a mutant on two cores), then only the mutants those missed against
#                the module's whole test set (`cargo mutants --iterate`). The same verdicts
#                as one pass, in a fraction of the time when the unit tests catch most.
#   --iterate    go on from the module's last results (target/mutants/MODULE): only the
#                mutants no earlier pass caught are tested again (with --unit-first, against
#                the unit tests first), e.g. after tests were added for the survivors. The
#                code under test must be unchanged: a mutant is known by its line and column.
#   -- ARGS      passed to cargo-mutants before the test arguments, e.g. `-- --re 'render'`
#                to test only mutants whose name matches, or `-- --list` to list them.
#
# Results: target/mutants/MODULE/mutants.out/ (caught.txt, missed.txt, timeout.txt,
# unviable.txt, outcomes.json; with --unit-first the first pass's in unit-tests.out/ beside it).
# At the end, every survivor is listed with the score per
# module: caught / (caught + missed), timeouts counted as caught, unviable mutants (that do not
# build) left out. Exit 0 when every module ran (survivors are listed, not fatal), 1 when
# cargo-mutants itself failed (for example the tests fail without any mutation).
#
# cargo-mutants is installed with `cargo install --locked cargo-mutants` when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

# module → "file|cargo test arguments". The test filters are substrings of test names:
# unit tests are named `<module>::tests::…`, integration tests `<tests/it module>::…`.
declare -A MODULES=(
    [merge]="src/config/merge.rs|--lib --test it -- merge merge_strategies:: render:: explain:: diff:: props:: check:: change:: layer_shapes:: effective_scopes:: shared_layers:: import_hiera:: import_ansible::"
    [diff]="src/diff/mod.rs|--lib --test it -- diff:: props:: change:: regressions::diff"
    [gates]="src/rollout/gates.rs|--lib --test it -- gates:: backtest:: rollout:: regressions:: prometheus:: trust_validation:: compare_gate::"
    [journal]="src/rollout/journal.rs|--lib --test it -- journal:: rollout:: regressions:: --skip rollout::compare::"
    [secrets]="src/check/secrets.rs|--lib --test it -- secrets:: change:: diff:: regressions::diff"
    [sarif]="src/report/sarif.rs|--test it -- sarif:: github:: regressions::sarif"
    [github]="src/report/github.rs|--lib --test it -- report::github check:: github::"
)
ORDER=(merge diff gates journal secrets sarif github)

IN_PLACE=()
UNIT_FIRST=0
ITERATE=()
PICKED=()
EXTRA=()
while (($#)); do
    case $1 in
        --in-place) IN_PLACE=(--in-place) ;;
        --unit-first) UNIT_FIRST=1 ;;
        --iterate) ITERATE=(--iterate) ;;
        -h | --help) usage; exit 0 ;;
        --) shift; EXTRA=("$@"); break ;;
        *)
            if [[ -z ${MODULES[$1]:-} ]]; then
                echo "mutants.sh: unknown module \`$1\` (one of: ${ORDER[*]})" >&2
                exit 2
            fi
            PICKED+=("$1")
            ;;
    esac
    shift
done
((${#PICKED[@]})) || PICKED=("${ORDER[@]}")

if ! cargo mutants --version >/dev/null 2>&1; then
    echo "==> cargo install --locked cargo-mutants" >&2
    cargo install --locked cargo-mutants >&2
fi
echo "==> $(cargo mutants --version)" >&2

# A mutant that fails a property test must not leave its case in
# proptest-regressions/ (an --in-place run writes into this tree).
export PROPTEST_DISABLE_FAILURE_PERSISTENCE=1

failed=0
for module in "${PICKED[@]}"; do
    IFS='|' read -r file test_args <<<"${MODULES[$module]}"
    # The test targets go to every cargo call, the build's too: without them
    # `cargo test --no-run` would build (and link) every test binary for each mutant.
    targets=()
    spec=${test_args%% -- *}
    # shellcheck disable=SC2086 # spec is a list of words
    for t in ${spec//--test /--test=}; do targets+=("--cargo-arg=$t"); done
    out=target/mutants/$module
    ((${#ITERATE[@]})) || rm -rf "$out/unit-tests.out"
    mkdir -p "$out"
    iterate=("${ITERATE[@]}")
    if ((UNIT_FIRST)) && [[ " $test_args " == *" --lib "* ]]; then
        filters=${test_args#* -- }
        echo "==> $module: mutants of $file, first against the unit tests: cargo test --lib -- $filters" >&2
        rc=0
        # shellcheck disable=SC2086 # filters is a list of words
        cargo mutants --no-shuffle "${IN_PLACE[@]}" "${ITERATE[@]}" --file "$file" --output "$out" \
            --cargo-arg=--lib "${EXTRA[@]}" -- -- $filters || rc=$?
        if ((rc != 0 && rc != 2 && rc != 3)); then
            echo "mutants.sh: cargo mutants failed on $module's unit tests (exit $rc)" >&2
            failed=1
            continue
        fi
        # The first pass's verdicts, kept for the score; the second pass tests only what it
        # missed (and its timeouts) and writes its own.
        ((${#ITERATE[@]})) || cp -r "$out/mutants.out" "$out/unit-tests.out"
        iterate=(--iterate)
    fi
    echo "==> $module: mutants of $file, tests: cargo test $test_args" >&2
    rc=0
    # shellcheck disable=SC2086 # the filters are a list of words
    cargo mutants --no-shuffle "${IN_PLACE[@]}" "${iterate[@]}" --file "$file" --output "$out" \
        "${targets[@]}" "${EXTRA[@]}" -- -- ${test_args#* -- } || rc=$?
    # cargo-mutants exits 2 when mutants were missed, 3 on timeouts: both reported below.
    if ((rc != 0 && rc != 2 && rc != 3)); then
        echo "mutants.sh: cargo mutants failed on $module (exit $rc)" >&2
        failed=1
    fi
done

# The survivors and the score of each module.
echo
echo "| module | file | caught | missed | timeout | unviable | score |"
echo "| --- | --- | ---: | ---: | ---: | ---: | ---: |"
survivors=()
# The verdicts of every pass: cargo-mutants --iterate carries each earlier pass's caught and
# unviable mutants forward in previously_caught.txt, so the last pass's files, the unit-test
# pass's and that list hold them all. A mutant is counted once, by its last verdict.
lines() { cat "$@" 2>/dev/null | grep . | sort -u || true; }
for module in "${PICKED[@]}"; do
    IFS='|' read -r file _ <<<"${MODULES[$module]}"
    dir=target/mutants/$module/mutants.out
    first=target/mutants/$module/unit-tests.out
    unviable_set=$(lines "$dir/unviable.txt" "$first/unviable.txt")
    caught=$(comm -23 <(lines "$dir/caught.txt" "$dir/previously_caught.txt" "$first/caught.txt") \
        <(echo "$unviable_set") | grep -c . || true)
    missed=$(lines "$dir/missed.txt" | grep -c . || true)
    timeout=$(lines "$dir/timeout.txt" | grep -c . || true)
    unviable=$(echo "$unviable_set" | grep -c . || true)
    tested=$((caught + missed + timeout))
    if ((tested)); then
        score="$(((caught + timeout) * 100 / tested)) %"
    else
        score="n/a"
    fi
    echo "| $module | \`$file\` | $caught | $missed | $timeout | $unviable | $score |"
    if [[ -f $dir/missed.txt ]]; then
        while IFS= read -r line; do survivors+=("$module: $line"); done <"$dir/missed.txt"
    fi
done
echo
if ((${#survivors[@]})); then
    echo "Survivors (mutants no test caught):"
    printf '  %s\n' "${survivors[@]}"
else
    echo "No survivors."
fi
exit "$failed"
