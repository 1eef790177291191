#!/usr/bin/env bash
# Benchmark `ringmaster diff` on a synthetic hierarchy (issue 3's targets):
#
#   benches/diff.sh
#
# Generates (benches/gen_repo.py) a config repo with 1 000 host classes over 5 layer levels,
# ~200 leaves each, with a second commit that changes
#   (a) one class file          target: under 100 ms
#   (b) the defaults file       target: under 2 s (every class changes)
# and times `ringmaster diff --base HEAD~1 --head HEAD --format json` with hyperfine; peak RSS
# (target: under 500 MB) from one run under GNU time. Also times `check` on the same repo
# (1 000 effective configs merged and schema-checked).
#
# Environment: RINGMASTER_BIN (a prebuilt binary; otherwise cargo build --release --locked),
# BENCH_SEED (default 1). Needs hyperfine and GNU time (apt-get installs them when missing).
set -euo pipefail

log() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(git -C "$SCRIPT_DIR" rev-parse --show-toplevel)
SEED=${BENCH_SEED:-1}

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

WORK=$(mktemp -d "${TMPDIR:-/tmp}/ringmaster-diff-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
for edit in class defaults; do
    log "generating 1 000 classes, edit: $edit"
    python3 "$SCRIPT_DIR/gen_repo.py" "$WORK/$edit" --classes 1000 --edit "$edit" --seed "$SEED" -q
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
