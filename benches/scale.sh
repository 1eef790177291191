#!/usr/bin/env bash
# Scale benchmark (issue 17): time and peak memory from 1 000 to 100 000 host classes.
#
#   benches/scale.sh [--max N] [--sizes "1000 10000"]
#
# For each size (default 1 000 and 10 000; `--max 100000` adds 100 000) generates
# (benches/gen_repo.py --effective-schema) a config repo with that many host classes over 5
# layer levels, ~190 leaves per class, twice: a second commit that changes one class file, and
# one that changes the defaults file (every class changes). Then times
#   diff --base HEAD~1 --head HEAD --format json   (one class changed; base changed)
#   render --all                                   (every class, one JSON line each)
#   check                                          (every file and effective config)
# Wall time is hyperfine's median (a single timed run for sizes above 10 000, which take
# seconds each); peak RSS comes from one run under GNU time (`/usr/bin/time -f %M`). The cost
# per class (time / classes, RSS / classes) shows whether the cost stays flat as the fleet grows.
#
# Each answer is checked before it is timed: the classes and changes `diff` reports must be the
# generator's (gen_repo.py --expect, from its own reference merge), `render --all` must print
# one JSON line per class in name order, and `check` must find nothing. A wrong answer stops the
# benchmark with exit 1. Files are written back (`sync`) and left to settle before timing.
#
# The table goes to stdout and is appended to target/bench-results.md; hyperfine's JSON exports
# go to target/bench-results/scale-*.json.
#
# Environment: RINGMASTER_BIN (a prebuilt binary; otherwise cargo build --release --locked),
# BENCH_SEED (default 1), BENCH_RUNS (hyperfine runs, default 5). Needs hyperfine and GNU time
# (apt-get installs them when missing).
set -euo pipefail

log() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
usage() { echo "usage: scale.sh [--max N] [--sizes \"N ...\"]"; }
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(git -C "$SCRIPT_DIR" rev-parse --show-toplevel)
SEED=${BENCH_SEED:-1}
RUNS=${BENCH_RUNS:-5}
MAX=10000
SIZES=""
while (($#)); do
    case $1 in
        --max) MAX=${2:?--max needs a number}; shift ;;
        --sizes) SIZES=${2:?--sizes needs a list of numbers}; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "scale.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
[[ $MAX =~ ^[1-9][0-9]*$ ]] || { echo "scale.sh: --max takes a positive number" >&2; exit 2; }
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "scale.sh: BENCH_RUNS takes a positive number" >&2; exit 2; }
if [[ -z $SIZES ]]; then
    for n in 1000 10000 100000; do
        ((n <= MAX)) && SIZES+="$n "
    done
fi
for n in $SIZES; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "scale.sh: sizes are positive numbers: $n" >&2; exit 2; }
done
[[ -n ${SIZES// /} ]] || { echo "scale.sh: no size up to --max $MAX" >&2; exit 2; }

as_root() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo -n "$@"; fi; }
if ! command -v hyperfine >/dev/null || ! /usr/bin/time --version 2>&1 | grep -q GNU; then
    log "apt-get install hyperfine time"
    as_root apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine time >&2
fi

if [[ -n ${RINGMASTER_BIN:-} ]]; then
    RM=$(command -v "$RINGMASTER_BIN")
else
    log "cargo build --release --locked"
    (cd "$ROOT" && cargo build --release --locked >&2)
    RM=${CARGO_TARGET_DIR:-$ROOT/target}/release/ringmaster
fi

RESULTS_MD=$ROOT/target/bench-results.md
RESULTS_DIR=$ROOT/target/bench-results
mkdir -p "$RESULTS_DIR"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ringmaster-scale-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# verify KIND EXPECT_JSON ARGS...: runs `ringmaster ARGS...` and compares its answer with the
# generator's; says what differs and exits 1 on a wrong answer.
verify() {
    local kind=$1 expect=$2
    shift 2
    local rc=0
    "$RM" "$@" >"$WORK/answer.out" || rc=$?
    python3 "$SCRIPT_DIR/check_answer.py" scale.sh "$kind" "$expect" "$rc" "$*" "$WORK/answer.out" || exit 1
}

median_s() { python3 -c 'import json,sys,statistics; r=json.load(open(sys.argv[1]))["results"][0]; print("%.3f" % statistics.median(r["times"]))' "$1"; }
# timed SECONDS_FILE ARGS...: one run under GNU time; prints the peak RSS in KB and writes the
# wall time in seconds to SECONDS_FILE.
timed() {
    local out=$1
    shift
    /usr/bin/time -f '%e %M' -o "$WORK/time.txt" "$@" >/dev/null
    awk '{print $1}' "$WORK/time.txt" >"$out"
    awk '{print $2}' "$WORK/time.txt"
}
settle() { sync; sleep 3; }

{
    printf '\n### Scale (issue 17): %s, seed %s, %s\n\n' "$("$RM" --version 2>/dev/null || echo ringmaster)" "$SEED" "$(date -u +%Y-%m-%dT%H:%MZ)"
    printf '| classes | command | wall time | peak RSS | per class |\n| ---: | --- | ---: | ---: | ---: |\n'
} | tee -a "$RESULTS_MD"
for n in $SIZES; do
    for edit in class defaults; do
        log "generating $n classes, edit: $edit"
        python3 "$SCRIPT_DIR/gen_repo.py" "$WORK/$n-$edit" --classes "$n" --edit "$edit" \
            --effective-schema --seed "$SEED" --expect "$WORK/$n-$edit-expect.json" -q
    done
    cases=(
        "class|diff --base HEAD~1 --head HEAD --format json|diff, one class changed"
        "defaults|diff --base HEAD~1 --head HEAD --format json|diff, base changed"
        "class|render --all|render --all"
        "class|check --format json|check"
    )
    for c in "${cases[@]}"; do
        IFS='|' read -r edit cmd _ <<<"$c"
        # shellcheck disable=SC2086
        verify "${cmd%% *}" "$WORK/$n-$edit-expect.json" --repo "$WORK/$n-$edit" $cmd
    done
    settle
    for c in "${cases[@]}"; do
        IFS='|' read -r edit cmd label <<<"$c"
        dir=$WORK/$n-$edit
        json=$RESULTS_DIR/scale-$n-${label//[^a-z]/_}.json
        # shellcheck disable=SC2086
        kb=$(timed "$WORK/wall.txt" "$RM" --repo "$dir" $cmd)
        if ((n <= 10000)); then
            # shellcheck disable=SC2086
            hyperfine --style none --warmup 1 --runs "$RUNS" -N --export-json "$json" \
                "$RM --repo $dir $cmd" >/dev/null 2>&1 || hyperfine --style none --warmup 1 \
                --runs "$RUNS" --export-json "$json" "$RM --repo $dir $cmd >/dev/null" >/dev/null
            secs=$(median_s "$json")
            how="median of $RUNS"
        else
            secs=$(cat "$WORK/wall.txt")
            how="1 run"
        fi
        python3 - "$n" "$cmd" "$label" "$secs" "$kb" "$how" <<'PY' | tee -a "$RESULTS_MD"
import sys
n, cmd, label, secs, kb, how = sys.argv[1:]
n, secs, kb = int(n), float(secs), int(kb)
print(f"| {n:_} | {label}: `ringmaster {cmd}` | {secs:.2f} s ({how}) | {kb / 1024:.0f} MB "
      f"| {secs / n * 1e6:.0f} µs, {kb / n:.1f} KB |".replace("_", " "))
PY
    done
    rm -rf "$WORK/$n-class" "$WORK/$n-defaults"
done
