#!/usr/bin/env bash
# Two ringmaster builds side by side on the `check` and `diff` benchmark repos, in one run, so a
# change to the merge (or anything on the common path) is measured against the build before it
# on the same noisy machine at the same moment.
#
#   benches/compare.sh OLD_BIN NEW_BIN [--classes N] [--files N] [--runs N]
#
# Repos (benches/gen_repo.py, seed BENCH_SEED, default 1): N classes over 5 layer levels (default
# 1 000) with one class file edited and with the defaults edited, and N files (default 1 000) for
# `check`. Before timing, both builds must give the same answer: `check --format json` the same
# findings and summary, `diff --format json` the same changes (the `pointer` field a newer build
# adds is set aside), and the diff must be the generator's own (gen_repo.py --expect). A
# difference stops the run with exit 1. Prints a markdown table: median, min, and NEW/OLD.
# Needs hyperfine (apt-get installs it when missing).
set -euo pipefail
SCRIPT_DIR=$(cd "$(dirname "$0")" && pwd)
log() { printf 'compare.sh: %s\n' "$*" >&2; }
(($# >= 2)) || { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2; exit 2; }
OLD=$(realpath "$1") NEW=$(realpath "$2")
shift 2
CLASSES=1000 FILES=1000 RUNS=30 SEED=${BENCH_SEED:-1}
while (($#)); do
    case $1 in
        --classes) CLASSES=${2:?}; shift ;;
        --files) FILES=${2:?}; shift ;;
        --runs) RUNS=${2:?}; shift ;;
        *) echo "compare.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done
if ! command -v hyperfine >/dev/null; then
    log "apt-get install hyperfine"
    sudo_if() { if ((EUID == 0)); then "$@"; else sudo "$@"; fi; }
    sudo_if apt-get update -qq >&2
    sudo_if env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >&2
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ringmaster-compare.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
for edit in class defaults; do
    python3 "$SCRIPT_DIR/gen_repo.py" "$WORK/$edit" --classes "$CLASSES" --edit "$edit" \
        --seed "$SEED" --expect "$WORK/$edit-expect.json" -q
done
python3 "$SCRIPT_DIR/gen_repo.py" "$WORK/files" --files "$FILES" --seed "$SEED" \
    --expect "$WORK/files-expect.json" -q

# same_answer KIND DIR ARGS...: both builds, JSON compared with `pointer` fields set aside.
same_answer() {
    local kind=$1 dir=$2
    shift 2
    local rc_old=0 rc_new=0
    "$OLD" --repo "$dir" "$@" --format json >"$WORK/old.json" || rc_old=$?
    "$NEW" --repo "$dir" "$@" --format json >"$WORK/new.json" || rc_new=$?
    python3 - "$kind" "$rc_old" "$rc_new" "$WORK/old.json" "$WORK/new.json" "$dir-expect.json" "$*" <<'PY' || exit 1
import json, os, sys
kind, rc_old, rc_new, old_path, new_path, expect_path, cmd = sys.argv[1:]
def strip(v):
    if isinstance(v, dict):
        return {k: strip(x) for k, x in v.items() if k != "pointer"}
    if isinstance(v, list):
        return [strip(x) for x in v]
    return v
old, new = (strip(json.load(open(p))) for p in (old_path, new_path))
if rc_old != rc_new or old != new:
    sys.exit(f"compare.sh: the builds disagree on `{cmd}` (exit {rc_old} vs {rc_new})")
if kind == "diff" and os.path.exists(expect_path):
    expect = json.load(open(expect_path))["diff"]
    changes = sum(len(c["changes"]) for c in new["classes"])
    if (len(new["classes"]), changes) != (expect["classes_changed"], expect["changes"]):
        sys.exit(f"compare.sh: `{cmd}` gives {len(new['classes'])} classes / {changes} changes, "
                 f"the generator says {expect['classes_changed']} / {expect['changes']}")
PY
}
same_answer diff "$WORK/class" diff --base HEAD~1 --head HEAD
same_answer diff "$WORK/defaults" diff --base HEAD~1 --head HEAD
same_answer check "$WORK/defaults" check
same_answer check "$WORK/files" check

echo "| case | old median (ms) | new median (ms) | old min | new min | new / old |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
bench() {
    local name=$1
    shift
    hyperfine -N --warmup 3 --runs "$RUNS" --export-json "$WORK/h.json" \
        "$OLD $*" "$NEW $*" >/dev/null 2>&1
    python3 - "$name" "$WORK/h.json" <<'PY'
import json, sys
name, path = sys.argv[1:]
old, new = json.load(open(path))["results"]
ms = lambda r, k: r[k] * 1000
print(f"| {name} | {ms(old,'median'):.1f} | {ms(new,'median'):.1f} | {ms(old,'min'):.1f} | "
      f"{ms(new,'min'):.1f} | {new['median'] / old['median']:.2f} |")
PY
}
bench "check, $FILES files" --repo "$WORK/files" check --format json
bench "check, $CLASSES classes" --repo "$WORK/defaults" check --format json
bench "diff, 1 class file changed" --repo "$WORK/class" diff --base HEAD~1 --head HEAD --format json
bench "diff, defaults changed (every class)" --repo "$WORK/defaults" diff --base HEAD~1 --head HEAD --format json
