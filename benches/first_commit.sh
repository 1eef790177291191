#!/usr/bin/env bash
# A new user's first commit with the `ringmaster-check-wheel` pre-commit hook (issue 18).
#
#   benches/first_commit.sh [--runs N] [--wheels DIR]
#
# Times, from nothing, what a developer does to adopt the hook, each step on its own:
#   1. python3 -m venv + pip install pre-commit   (from the package index, as a user does)
#   2. pre-commit install                          (in a config repo: examples/shop)
#   3. the first git commit                        (pre-commit creates the hook's environment:
#                                                   pip installs the ringmaster-cli wheel, then
#                                                   the hook checks the staged files)
# with a fresh venv, pre-commit home and pip cache on every run. The hook repository is a clone
# of this repository's HEAD (the `rev` is its commit). pip finds the wheel in a local
# directory (PIP_FIND_LINKS + PIP_NO_INDEX for steps 2-3: the package index's role in real
# use); `--wheels DIR` uses the wheels there, otherwise scripts/build-wheel.sh builds the
# release wheel once, before anything is timed.
#
# The answer is checked: the commit must succeed, and a bad change must be refused afterwards
# with its file:line (so the hook really ran ringmaster). Prints one line per run (wall time of
# each step, and user+sys CPU of the whole run) and the medians; appends the table to
# target/bench-results.md.
set -euo pipefail

RUNS=3
WHEELS=""
while (($#)); do
    case $1 in
        --runs) RUNS=${2:?--runs needs a number}; shift ;;
        --wheels) WHEELS=${2:?--wheels needs a directory}; shift ;;
        -h | --help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "first_commit.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done
[[ $RUNS =~ ^[1-9][0-9]*$ ]] || { echo "first_commit.sh: --runs takes a positive number" >&2; exit 2; }

log() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(git -C "$SCRIPT_DIR" rev-parse --show-toplevel)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if [[ -z $WHEELS ]]; then
    log "building the release wheel (not timed)"
    WHEELS=$WORK/wheels
    "$ROOT/scripts/build-wheel.sh" -o "$WHEELS" >&2
fi
WHEELS=$(cd "$WHEELS" && pwd)
ls "$WHEELS"/ringmaster_cli-*.whl >/dev/null

log "hook repository: a clone of HEAD"
git clone -q "$ROOT" "$WORK/hooks"
REV=$(git -C "$WORK/hooks" rev-parse HEAD)

now() { date +%s.%N; }
cpu_of_children() { python3 -c 'import os; t=os.times(); print(t.children_user + t.children_system)'; }

results=()
for ((i = 1; i <= RUNS; i++)); do
    run=$WORK/run$i
    mkdir -p "$run"
    cp -R "$ROOT/examples/shop" "$run/repo"
    (
        cd "$run/repo"
        git init -q
        git config user.email bench@example.invalid
        git config user.name bench
        git config commit.gpgsign false
        printf 'repos:\n  - repo: %s\n    rev: %s\n    hooks:\n      - id: ringmaster-check-wheel\n' \
            "$WORK/hooks" "$REV" > .pre-commit-config.yaml
        git add -A
        git commit -q --no-verify -m "shop config"
    )
    export PRE_COMMIT_HOME=$run/pre-commit PIP_CACHE_DIR=$run/pip-cache
    export PIP_DISABLE_PIP_VERSION_CHECK=1
    sync
    sleep 1
    # shellcheck disable=SC2016 # expanded by the inner bash
    /usr/bin/time -f '%U %S' -o "$run/cpu" bash -c '
        set -euo pipefail
        run=$1; wheels=$2
        t0=$(date +%s.%N)
        python3 -m venv "$run/venv"
        "$run/venv/bin/pip" install -q pre-commit
        t1=$(date +%s.%N)
        cd "$run/repo"
        export PIP_FIND_LINKS=$wheels PIP_NO_INDEX=1
        "$run/venv/bin/pre-commit" install >/dev/null
        t2=$(date +%s.%N)
        sed -i "s/max_connections: 1024/max_connections: 2048/" config/role/api.yaml
        git add config/role/api.yaml
        PATH=$run/venv/bin:$PATH git commit -q -m "api: more connections" > "$run/commit.log" 2>&1
        t3=$(date +%s.%N)
        echo "$t0 $t1 $t2 $t3" > "$run/times"
    ' _ "$run" "$WHEELS"
    # The hook really ran ringmaster: a bad change is refused at its place.
    (
        cd "$run/repo"
        sed -i "s/max_connections: 2048/max_connections: lots/" config/role/api.yaml
        git add config/role/api.yaml
        if PATH=$run/venv/bin:$PATH PIP_FIND_LINKS=$WHEELS PIP_NO_INDEX=1 \
            git commit -q -m "api: lots" > "$run/bad.log" 2>&1; then
            echo "first_commit.sh: a bad commit was accepted (run $i)" >&2
            exit 1
        fi
        grep -q 'config/role/api.yaml:4:20' "$run/bad.log" || {
            echo "first_commit.sh: the refusal does not name config/role/api.yaml:4:20 (run $i):" >&2
            cat "$run/bad.log" >&2
            exit 1
        }
    )
    read -r t0 t1 t2 t3 < "$run/times"
    read -r user sys < "$run/cpu"
    line=$(python3 -c "
t0,t1,t2,t3,u,s=map(float,'$t0 $t1 $t2 $t3 $user $sys'.split())
print(f'{t1-t0:.1f} {t2-t1:.1f} {t3-t2:.1f} {t3-t0:.1f} {u+s:.1f}')")
    log "run $i: pip install pre-commit, pre-commit install, first commit, total, CPU (s): $line"
    results+=("$line")
done

# shellcheck disable=SC2016 # Python source
table=$(printf '%s\n' "${results[@]}" | python3 -c '
import statistics, sys
rows = [list(map(float, l.split())) for l in sys.stdin if l.strip()]
med = [statistics.median(c) for c in zip(*rows)]
print("| new user, `ringmaster-check-wheel` (median of %d) | time |" % len(rows))
print("| --- | ---: |")
for name, v in zip(["python3 -m venv + pip install pre-commit", "pre-commit install",
                    "first commit (hook environment included)", "**total**",
                    "CPU, user + sys, whole run"], med):
    print(f"| {name} | {v:.1f} s |")
')
printf '%s\n' "$table"
mkdir -p "$TARGET"
{ printf '\n## first_commit.sh (%s, load %s)\n\n' "$(date -u +%FT%TZ)" "$(cut -d' ' -f1-3 /proc/loadavg)"; printf '%s\n' "$table"; } >> "$TARGET/bench-results.md"
