#!/usr/bin/env bash
# Scale benchmark (issue 17): time and peak memory from 1 000 to 100 000 host classes.
#
#   benches/scale.sh [--quick] [--max N] [--sizes "1000 10000"] [--cases "diff render check deliver"]
#
# For each size (default 1 000 and 10 000; `--max 100000` adds 100 000) generates
# (benches/gen_repo.py --effective-schema) a config repo with that many host classes over 5
# layer levels, ~190 leaves per class, twice: a second commit that changes one class file, and
# one that changes the defaults file (every class changes). Then times
#   diff --base HEAD~1 --head HEAD --format json   (one class changed; base changed)
#   render --all                                   (every class, one JSON line each)
#   check                                          (every file and effective config)
# and, in a third repo whose every class is in one ring (gen_repo.py --ring: no gate, no soak),
# the delivery of that ring, first to a directory, then to etcd:
#   rollout run   (RINGMASTER_CLOCK=simulated; before each run, untimed: the target emptied,
#                 the journal removed, `rollout start`: so each run delivers every class anew)
# etcd is started by the benchmark on free loopback ports (its data in the work directory)
# and stopped at the end; state (journal, lock) stays in the repo's git directory.
# Wall time is hyperfine's median (a single timed run for sizes above 10 000, which take
# seconds each); peak RSS comes from one run under GNU time (`/usr/bin/time -f %M`), which
# also gives the CPU time (user + system) shown. The cost per class (time / classes,
# RSS / classes) shows whether the cost stays flat as the fleet grows.
#
# Each answer is checked before it is timed: the classes and changes `diff` reports must be the
# generator's (gen_repo.py --expect, from its own reference merge), `render --all` must print
# one JSON line per class in name order, and `check` must find nothing; after a delivery the
# directory or etcd must hold the ring at the repo's HEAD and one entry per class, each equal to
# the class's line of `render --all` (read back as YAML) and, for three classes, byte for byte
# what `render --class` prints (benches/check_delivery.py). A wrong answer stops the benchmark
# with exit 1. Files are written back (`sync`) and left to settle before timing.
#
# --quick: 200 classes, 2 runs each: a smoke test of the whole script (a minute or two).
# --cases: only these cases (any of diff, render, check, deliver).
# --gen-only: generate the diff/render/check repos into BENCH_REPOS and stop (nothing timed).
#
# The table goes to stdout and is appended to target/bench-results.md; hyperfine's JSON exports
# go to target/bench-results/scale-*.json.
#
# Environment: RINGMASTER_BIN (a prebuilt binary; otherwise cargo build --release --locked),
# BENCH_SEED (default 1), BENCH_RUNS (hyperfine runs, default 5), BENCH_REPOS (a directory
# where the diff/render/check repos are kept and reused by later runs: generating 100 000
# classes takes minutes, so it can be done ahead of a quiet window with `--gen-only`; a kept
# repo is reused only when the generator and its arguments are the same, recorded in a stamp
# file beside it). Needs hyperfine, GNU time,
# PyYAML, and for the etcd delivery etcd and etcdctl (apt-get installs them when missing).
set -euo pipefail

log() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
usage() { echo "usage: scale.sh [--quick] [--max N] [--sizes \"N ...\"] [--cases \"diff render check deliver\"] [--gen-only]"; }
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"
ROOT=$(git -C "$SCRIPT_DIR" rev-parse --show-toplevel)
SEED=${BENCH_SEED:-1}
RUNS=${BENCH_RUNS:-5}
MAX=10000
SIZES=""
CASES="diff render check deliver"
GEN_ONLY=0
REPOS=${BENCH_REPOS:-}
while (($#)); do
    case $1 in
        --quick) SIZES=${SIZES:-200}; RUNS=${BENCH_RUNS:-2} ;;
        --max) MAX=${2:?--max needs a number}; shift ;;
        --sizes) SIZES=${2:?--sizes needs a list of numbers}; shift ;;
        --cases) CASES=${2:?--cases needs a list}; shift ;;
        --gen-only) GEN_ONLY=1 ;;
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
for c in $CASES; do
    [[ $c =~ ^(diff|render|check|deliver)$ ]] || { echo "scale.sh: unknown case: $c" >&2; exit 2; }
done
wants() { [[ " $CASES " == *" $1 "* ]]; }
if ((GEN_ONLY)); then
    [[ -n $REPOS ]] || { echo "scale.sh: --gen-only needs BENCH_REPOS (where to keep the repos)" >&2; exit 2; }
    CASES=${CASES//deliver/}
fi
if [[ -n $REPOS ]]; then
    mkdir -p "$REPOS"
    REPOS=$(cd "$REPOS" && pwd)
fi

as_root() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo -n "$@"; fi; }
missing=()
command -v hyperfine >/dev/null || missing+=(hyperfine)
/usr/bin/time --version 2>&1 | grep -q GNU || missing+=(time)
if wants deliver; then
    python3 -c 'import yaml' 2>/dev/null || missing+=(python3-yaml)
    command -v etcd >/dev/null || missing+=(etcd-server)
    command -v etcdctl >/dev/null || missing+=(etcd-client)
fi
if ((${#missing[@]})); then
    log "apt-get install ${missing[*]}"
    as_root apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi

if ((GEN_ONLY)); then
    RM=ringmaster # nothing runs it
else
    RM=$(ringmaster_bin scale.sh)
fi

RESULTS_MD=$ROOT/target/bench-results.md
RESULTS_DIR=$ROOT/target/bench-results
mkdir -p "$RESULTS_DIR"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ringmaster-scale-bench.XXXXXX")
ETCD_PID=""
cleanup() {
    if [[ -n $ETCD_PID ]]; then
        kill "$ETCD_PID" 2>/dev/null || true
        wait "$ETCD_PID" 2>/dev/null || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

# verify KIND EXPECT_JSON ARGS...: runs `ringmaster ARGS...` and compares its answer with the
# generator's; says what differs and exits 1 on a wrong answer.
verify() {
    local kind=$1 expect=$2
    shift 2
    local rc=0
    "$RM" "$@" >"$WORK/answer.out" || rc=$?
    python3 "$SCRIPT_DIR/check_answer.py" scale.sh "$kind" "$expect" "$rc" "$*" "$WORK/answer.out" || exit 1
}

# generate NAME ARGS...: gen_repo.py's repo $WORK/NAME (and its answers $WORK/NAME-expect.json)
# for ARGS. With BENCH_REPOS, the repo is kept there and $WORK/NAME links to it; a kept repo
# whose stamp (the generator's digest and ARGS) matches is reused, anything else regenerated.
generate() {
    local name=$1
    shift
    if [[ -z $REPOS ]]; then
        log "generating $name"
        python3 "$SCRIPT_DIR/gen_repo.py" "$WORK/$name" "$@" --expect "$WORK/$name-expect.json" -q
        return
    fi
    local stamp kept=$REPOS/$name
    stamp="$(sha256sum "$SCRIPT_DIR/gen_repo.py" | cut -c1-16) $*"
    if [[ -f $kept.stamp && $(cat "$kept.stamp") == "$stamp" && -d $kept && -f $kept-expect.json ]]; then
        log "reusing $kept"
    else
        log "generating $name into $REPOS"
        rm -rf "$kept" "$kept.stamp" "$kept-expect.json"
        python3 "$SCRIPT_DIR/gen_repo.py" "$kept" "$@" --expect "$kept-expect.json" -q
        printf '%s\n' "$stamp" >"$kept.stamp"
    fi
    ln -sfn "$kept" "$WORK/$name"
    cp "$kept-expect.json" "$WORK/$name-expect.json"
}

median_s() { python3 -c 'import json,sys,statistics; r=json.load(open(sys.argv[1]))["results"][0]; print("%.3f" % statistics.median(r["times"]))' "$1"; }
settle() { sync; sleep 3; }

# measure N LABEL CMD COMMAND_LINE [PREPARE]: one run of COMMAND_LINE under GNU time (peak RSS,
# CPU time; after PREPARE, an untimed shell command), then hyperfine's median of RUNS (each
# after PREPARE) up to 10 000 classes, the GNU time run's wall time above; one table row.
measure() {
    local n=$1 label=$2 cmd=$3 line=$4 prepare=${5:-}
    local json=$RESULTS_DIR/scale-$n-${label//[^a-z]/_}.json secs how
    [[ -z $prepare ]] || sh -c "$prepare"
    # shellcheck disable=SC2086
    /usr/bin/time -f '%e %M %U %S' -o "$WORK/time.txt" $line >/dev/null 2>"$WORK/timed.err" || {
        echo "scale.sh: \`$line\` failed:" >&2
        cat "$WORK/timed.err" >&2
        exit 1
    }
    if ((n <= 10000)); then
        local opts=(--style none --runs "$RUNS" -N --export-json "$json")
        if [[ -n $prepare ]]; then opts+=(--warmup 0 --prepare "$prepare"); else opts+=(--warmup 1); fi
        hyperfine "${opts[@]}" "$line" >/dev/null
        secs=$(median_s "$json")
        how="median of $RUNS"
    else
        secs=$(awk '{print $1}' "$WORK/time.txt")
        how="1 run"
    fi
    python3 - "$n" "$cmd" "$label" "$secs" "$how" "$WORK/time.txt" <<'PY' | tee -a "$RESULTS_MD"
import sys
n, cmd, label, secs, how, timefile = sys.argv[1:]
_, kb, user, system = open(timefile).read().split()[-4:]
n, secs, kb, cpu = int(n), float(secs), int(kb), float(user) + float(system)
print(f"| {n:_} | {label}: `ringmaster {cmd}` | {secs:.2f} s ({how}) | {cpu:.2f} s "
      f"| {kb / 1024:.0f} MB | {secs / n * 1e6:.0f} µs, {kb / n:.1f} KB |".replace("_", " "))
PY
}

# etcd for the delivery cases: free loopback ports, data in the work directory, a quota above
# what 100 000 classes' deliveries write (compacted between runs), stopped on exit.
if wants deliver; then
    free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
    client=$(free_port)
    peer=$(free_port)
    ETCD_URL=http://127.0.0.1:$client
    etcd --data-dir "$WORK/etcd" --name scale --quota-backend-bytes 8589934592 \
        --listen-client-urls "$ETCD_URL" --advertise-client-urls "$ETCD_URL" \
        --listen-peer-urls "http://127.0.0.1:$peer" --initial-advertise-peer-urls "http://127.0.0.1:$peer" \
        --initial-cluster "scale=http://127.0.0.1:$peer" >"$WORK/etcd.log" 2>&1 &
    ETCD_PID=$!
    for _ in $(seq 100); do
        ETCDCTL_API=3 etcdctl --endpoints "$ETCD_URL" endpoint health >/dev/null 2>&1 && break
        sleep 0.1
    done
    ETCDCTL_API=3 etcdctl --endpoints "$ETCD_URL" endpoint health >/dev/null 2>&1 || {
        echo "scale.sh: etcd did not start:" >&2
        tail -n 20 "$WORK/etcd.log" >&2
        exit 3
    }
    # Before each timed delivery: an empty target and no journal, then `rollout start`.
    cat >"$WORK/prepare-deliver.sh" <<'SH'
# prepare-deliver.sh RINGMASTER REPO dir OUT_DIR | RINGMASTER REPO etcd URL,PREFIX
set -eu
rm_=$1 repo=$2 kind=$3 where=$4
if [ "$kind" = dir ]; then
    rm -rf "$where"
else
    url=${where%%,*} prefix=${where#*,}
    export ETCDCTL_API=3
    etcdctl --endpoints "$url" del --prefix "$prefix/" >/dev/null
    rev=$(etcdctl --endpoints "$url" endpoint status -w json |
        python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["header"]["revision"])')
    etcdctl --endpoints "$url" compact "$rev" >/dev/null 2>&1 || true
fi
gitdir=$(git -C "$repo" rev-parse --absolute-git-dir)
rm -f "$gitdir/ringmaster/journal.jsonl" "$gitdir/ringmaster/journal.head"
"$rm_" --repo "$repo" rollout start >/dev/null
sync
SH
fi

((GEN_ONLY)) || {
    printf '\n### Scale (issue 17): %s, seed %s, %s, load average %s at the start\n\n' \
        "$("$RM" --version 2>/dev/null || echo ringmaster)" "$SEED" "$(date -u +%Y-%m-%dT%H:%MZ)" \
        "$(cut -d' ' -f1-3 /proc/loadavg)"
    printf '| classes | command | wall time | CPU (user+sys, 1 run) | peak RSS | per class |\n'
    printf '| ---: | --- | ---: | ---: | ---: | ---: |\n'
} | tee -a "$RESULTS_MD"
for n in $SIZES; do
    cases=()
    wants diff && cases+=(
        "class|diff --base HEAD~1 --head HEAD --format json|diff, one class changed"
        "defaults|diff --base HEAD~1 --head HEAD --format json|diff, base changed"
    )
    wants render && cases+=("class|render --all|render --all")
    wants check && cases+=("class|check --format json|check")
    edits=()
    for c in "${cases[@]}"; do
        [[ " ${edits[*]} " == *" ${c%%|*} "* ]] || edits+=("${c%%|*}")
    done
    for edit in "${edits[@]}"; do
        generate "$n-$edit" --classes "$n" --edit "$edit" --effective-schema --seed "$SEED"
    done
    ((GEN_ONLY == 0)) || continue
    for c in "${cases[@]}"; do
        IFS='|' read -r edit cmd _ <<<"$c"
        # shellcheck disable=SC2086
        verify "${cmd%% *}" "$WORK/$n-$edit-expect.json" --repo "$WORK/$n-$edit" $cmd
    done
    ((${#cases[@]} == 0)) || settle
    for c in "${cases[@]}"; do
        IFS='|' read -r edit cmd label <<<"$c"
        measure "$n" "$label" "$cmd" "$RM --repo $WORK/$n-$edit $cmd"
    done
    rm -rf "$WORK/$n-class" "$WORK/$n-defaults"

    wants deliver || continue
    # One ring over every class, delivered to a directory, then (a commit later) to etcd.
    repo=$WORK/$n-ring
    log "generating $n classes in one ring"
    python3 "$SCRIPT_DIR/gen_repo.py" "$repo" --classes "$n" --effective-schema --seed "$SEED" \
        --ring multi-tenant --deliver "{kind: dir, path: $WORK/$n-out}" \
        --expect "$WORK/$n-ring-expect.json" -q
    "$RM" --repo "$repo" render --all >"$WORK/$n-render-all.jsonl"
    for target in dir etcd; do
        if [[ $target == dir ]]; then
            where=$WORK/$n-out
        else
            where="$ETCD_URL,/scale-$n"
            sed -i "s#^deliver: .*#deliver: {kind: etcd, endpoints: [$ETCD_URL], prefix: /scale-$n}#" \
                "$repo/ringmaster.yaml"
            git -C "$repo" -c user.name=bench -c user.email=bench@example.invalid \
                -c commit.gpgsign=false commit -qam "deliver to etcd" --no-verify
        fi
        prepare="sh $WORK/prepare-deliver.sh $RM $repo $target $where"
        sh -c "$prepare"
        rc=0
        RINGMASTER_CLOCK=simulated "$RM" --repo "$repo" rollout run >"$WORK/run.out" 2>"$WORK/run.err" || rc=$?
        if ((rc != 0)) || ! grep -q ': complete$' "$WORK/run.out"; then
            echo "scale.sh: WRONG ANSWER: \`rollout run\` did not complete the delivery to $target:" >&2
            cat "$WORK/run.out" "$WORK/run.err" >&2
            exit 1
        fi
        python3 "$SCRIPT_DIR/check_delivery.py" "$target" "$where" multi-tenant \
            "$(git -C "$repo" rev-parse HEAD)" "$WORK/$n-ring-expect.json" \
            "$WORK/$n-render-all.jsonl" "$RM" "$repo" || exit 1
        grep -m1 ' delivered ' "$WORK/run.err" | sed 's/^/  /' >&2 || true
        settle
        measure "$n" "deliver one ring ($target)" "rollout run" \
            "env RINGMASTER_CLOCK=simulated $RM --repo $repo rollout run" "$prepare"
    done
    rm -rf "$repo" "$WORK/$n-out" "$WORK/$n-render-all.jsonl"
done
