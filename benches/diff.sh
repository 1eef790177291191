#!/usr/bin/env bash
# Benchmark `ringmaster diff` on a synthetic hierarchy (issue 3's targets):
#
#   benches/diff.sh [--classes N]
#
# Generates (benches/gen_repo.py) a config repo with N host classes (default 1 000) over 5 layer levels,
# ~200 leaves each, with a second commit that changes
#   (a) one class file          target: under 100 ms
#   (b) the defaults file       target: under 2 s (every class changes)
# and times `ringmaster diff --base HEAD~1 --head HEAD --format json` with hyperfine; peak RSS
# (target: under 500 MB) from one run under GNU time. Also times `check` on the same repo
# (1 000 effective configs merged and schema-checked).
#
# Each answer is checked before it is timed: the classes changed and the number of changes
# `diff` reports must be the generator's (gen_repo.py --expect, from its own reference merge),
# and `check` must find nothing. A wrong answer stops the benchmark with exit 1.
#
# Environment: RINGMASTER_BIN (a prebuilt binary; otherwise cargo build --release --locked),
# BENCH_SEED (default 1). Needs hyperfine and GNU time (apt-get installs them when missing).
set -euo pipefail

log() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"
SEED=${BENCH_SEED:-1}
CLASSES=1000
while (($#)); do
    case $1 in
        --classes) CLASSES=${2:?--classes needs a number}; shift ;;
        *) echo "diff.sh: unknown argument: $1 (usage: diff.sh [--classes N])" >&2; exit 2 ;;
    esac
    shift
done
[[ $CLASSES =~ ^[1-9][0-9]*$ ]] || { echo "diff.sh: --classes takes a positive number" >&2; exit 2; }

as_root() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo -n "$@"; fi; }
if ! command -v hyperfine >/dev/null || ! /usr/bin/time --version 2>&1 | grep -q GNU; then
    log "apt-get install hyperfine time"
    as_root apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine time >&2
fi

RM=$(ringmaster_bin diff.sh)

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ringmaster-diff-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
for edit in class defaults; do
    log "generating $CLASSES classes, edit: $edit"
    python3 "$SCRIPT_DIR/gen_repo.py" "$WORK/$edit" --classes "$CLASSES" --edit "$edit" \
        --seed "$SEED" --expect "$WORK/$edit-expect.json" -q
done

# verify diff|check EXPECT_JSON ARGS...: runs `ringmaster ARGS... --format json` and compares its
# answer with the generator's; says what differs and exits 1 on a wrong answer.
verify() {
    local kind=$1 expect=$2
    shift 2
    local rc=0
    "$RM" "$@" --format json >"$WORK/answer.json" || rc=$?
    python3 "$SCRIPT_DIR/check_answer.py" diff.sh "$kind" "$expect" "$rc" "$*" "$WORK/answer.json" || exit 1
}
for edit in class defaults; do
    dir=$WORK/$edit
    verify diff "$WORK/$edit-expect.json" --repo "$dir" diff --base HEAD~1 --head HEAD
    verify check "$WORK/$edit-expect.json" --repo "$dir" check
done

median_ms() { python3 -c 'import json,sys,statistics; r=json.load(open(sys.argv[1]))["results"][0]; print("%.1f" % (statistics.median(r["times"]) * 1000))' "$1"; }
rss_mb() { /usr/bin/time -f %M "$@" 2>&1 >/dev/null | tail -n1 | awk '{printf "%.0f", $1/1024}'; }

printf '| case | command | median | peak RSS |\n| --- | --- | ---: | ---: |\n'
for edit in class defaults; do
    dir=$WORK/$edit
    summary=$("$RM" --repo "$dir" diff --base HEAD~1 --head HEAD | tail -n1 | sed 's/ (.*//')
    for cmd in "diff --base HEAD~1 --head HEAD --format json" "check"; do
        json=$WORK/$edit-${cmd%% *}.json
        # shellcheck disable=SC2086
        hyperfine --style none --warmup 2 --runs 15 -N --export-json "$json" \
            "$RM --repo $dir $cmd" >/dev/null 2>&1 || hyperfine --style none --warmup 2 --runs 15 \
            --export-json "$json" "$RM --repo $dir $cmd >/dev/null" >/dev/null
        # shellcheck disable=SC2086
        printf '| %s | `ringmaster %s` | %s ms | %s MB |\n' "$edit changed ($summary)" "$cmd" \
            "$(median_ms "$json")" "$(rss_mb "$RM" --repo "$dir" $cmd)"
    done
done
