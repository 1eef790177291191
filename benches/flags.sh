#!/usr/bin/env bash
# Benchmark `ringmaster flags stale --code` on a large source tree, next to the tools a user
# would reach for to "find these names in a tree".
#
#   benches/flags.sh [--quick] [--keep] [--files N] [--flags F]
#
# Generates (benches/gen_code.py) a config repo with F flag files (default 500) and a source
# tree of N files (default 100 000, 1-4 KB each, .rs/.go/.py/.ts/.java, ~250 MB), made a git
# repository, whose .gitignore ignores a vendor/ directory that alone references a tenth of the
# flags. Then times with hyperfine (--warmup 1 --runs 10), side by side:
#
#   ringmaster --repo REPO flags stale --code TREE --format json
#                                   the whole command: flag files, git history, the code scan
#                                   (every name as a whole word, plus the flag-call regex)
#   rg -c -w -F -f names.txt TREE   ripgrep: every name as a word, count per file
#   git grep -c -w -F -f names.txt  git's own grep over the tracked files, in TREE
#
# The peers only find the names; they neither run the flag-call regex nor read flag files, and
# their "word" is [A-Za-z0-9_] (so `-w flag-0042` also matches inside `flag-0042-v2`). Peak
# RSS comes from one extra run of each under GNU time (`/usr/bin/time -f %M`), which is also
# the run whose answer is checked: ringmaster's unreferenced and undefined names against the
# generator's, and for the peers that no vendor/ file was searched. Each verdict is shown in
# the table; a wrong answer from ringmaster (such as a vendor-only flag reported referenced,
# or a run that failed) then makes the benchmark exit 1.
#
# The markdown table goes to stdout and to target/bench-flags.md; hyperfine's JSON exports to
# target/bench-results/flags-*.json.
#
# Options:
#   --quick     10 000 files and 100 flags: a CI smoke run
#   --keep      keep the generated trees (their path is printed)
#   --files N   source files (default 100 000)
#   --flags F   flag files (default 500)
# Environment:
#   RINGMASTER_BIN   a prebuilt ringmaster binary; otherwise `cargo build --release --locked`
#   BENCH_SEED       generator seed (default 1)
#
# hyperfine, ripgrep and GNU time come from apt-get when missing (as root or through
# passwordless sudo). A peer that cannot be installed is reported as such; so is a ringmaster
# without `flags stale`: the peers are still measured.
set -euo pipefail

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

QUICK=0
KEEP=0
NFILES=100000
NFLAGS=500
while (($#)); do
    case $1 in
        --quick) QUICK=1 NFILES=10000 NFLAGS=100 ;;
        --keep) KEEP=1 ;;
        --files) NFILES=${2:?--files needs a number}; shift ;;
        --flags) NFLAGS=${2:?--flags needs a number}; shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "flags.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
[[ $NFILES =~ ^[1-9][0-9]*$ && $NFLAGS =~ ^[1-9][0-9]*$ ]] \
    || { echo "flags.sh: --files and --flags take positive numbers" >&2; exit 2; }

log() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"
ROOT=$(git -C "$SCRIPT_DIR" rev-parse --show-toplevel)
RESULTS_MD=$ROOT/target/bench-flags.md
RESULTS_DIR=$ROOT/target/bench-results
SEED=${BENCH_SEED:-1}
mkdir -p "$RESULTS_DIR"

# ---------------------------------------------------------------------------------------------
# apt-get, as root or through passwordless sudo; never interactive.
APT_UPDATED=0
apt_install() {
    local sudo=()
    if [[ $(id -u) != 0 ]]; then
        if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
            sudo=(sudo -n)
        else
            warn "cannot apt-get install $* (not root, no passwordless sudo)"
            return 1
        fi
    fi
    command -v apt-get >/dev/null || { warn "no apt-get to install $*"; return 1; }
    if ((APT_UPDATED == 0)); then
        log "apt-get update"
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2 || return 1
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "$@" >&2
}

# ---------------------------------------------------------------------------------------------
# Tools: hyperfine (required), GNU time (peak RSS; optional), ripgrep and git (peers).
command -v hyperfine >/dev/null || apt_install hyperfine || true
HYPERFINE=$(command -v hyperfine || true)
[[ -n $HYPERFINE ]] || { echo "flags.sh: hyperfine is required and could not be installed" >&2; exit 1; }

gnu_time_ok() { [[ -x /usr/bin/time ]] && /usr/bin/time --version 2>&1 | grep -q GNU; }
gnu_time_ok || apt_install time || true
HAVE_TIME=0
if gnu_time_ok; then HAVE_TIME=1; else warn "GNU time not available: peak RSS will read n/a"; fi

command -v rg >/dev/null || apt_install ripgrep || warn "ripgrep could not be installed"
RG=$(command -v rg || true)
GIT=$(command -v git || true)
command -v python3 >/dev/null || { echo "flags.sh: python3 is required (benches/gen_code.py)" >&2; exit 1; }

# ---------------------------------------------------------------------------------------------
# ringmaster itself.
RM=$(ringmaster_bin flags.sh)

# ---------------------------------------------------------------------------------------------
# The trees.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ringmaster-flags-bench.XXXXXX")
if ((KEEP)); then
    trap 'log "generated trees kept in $WORK"' EXIT
else
    trap 'rm -rf "$WORK"' EXIT
fi
REPO=$WORK/repo
CODE=$WORK/code
log "generating $NFILES source files and $NFLAGS flags"
python3 "$SCRIPT_DIR/gen_code.py" "$CODE" --files "$NFILES" --flags "$NFLAGS" --seed "$SEED" \
    --repo "$REPO" --expect "$WORK/expect.json" --git
# A quarter of a gigabyte was just written: let its writeback finish, or it slows whichever
# tool runs first.
sync
# The peers' name list: one flag name per line, from the flag files themselves.
for f in "$REPO"/flags/*.yaml; do basename "$f" .yaml; done >"$WORK/names.txt"

# ---------------------------------------------------------------------------------------------
# Measuring.
ROWS=$WORK/rows.tsv
: >"$ROWS"
LOAD_START=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo n/a)
q() { printf '%q' "$1"; }

# bench ID TOOL DOES OK_CODES CMD: one GNU time run (peak RSS, exit code, warms the page
# cache), then hyperfine. OK_CODES: the exit codes that mean "it worked" (grep tools exit 1
# when nothing matched; a linter may exit 1 on findings).
bench() {
    local id=$1 tool=$2 does=$3 ok_codes=$4 cmd=$5
    local rc=0 rss=""
    log "$tool"
    if ((HAVE_TIME)); then
        /usr/bin/time -f '%M' -o "$WORK/$id.rss" sh -c "$cmd" >"$WORK/$id.out" 2>"$WORK/$id.err" \
            || rc=$?
        rss=$(tail -n1 "$WORK/$id.rss" 2>/dev/null | grep -E '^[0-9]+$' || true)
    else
        sh -c "$cmd" >"$WORK/$id.out" 2>"$WORK/$id.err" || rc=$?
    fi
    local status=ok
    if [[ " $ok_codes " != *" $rc "* ]]; then
        warn "$tool exited $rc; its output:"
        head -n 20 "$WORK/$id.out" "$WORK/$id.err" >&2 || true
        status="exit $rc"
    fi
    local json=$RESULTS_DIR/flags-$id.json
    rm -f "$json"
    if [[ $status == ok ]]; then
        "$HYPERFINE" --style basic --warmup 1 --runs 10 --shell=none --ignore-failure \
            --export-json "$json" --command-name "$tool" "$cmd" >&2 || status=hyperfine-failed
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$tool" "$does" "$json" "${rss:-}" "$status" >>"$ROWS"
}

missing() { printf '%s\t%s\t%s\t\t\t%s\n' "-" "$1" "$2" "$3" >>"$ROWS"; }

# ringmaster: only when this build has `flags stale` (clap exits 2 on an unknown subcommand).
if "$RM" flags stale --help >/dev/null 2>&1; then
    bench ringmaster ringmaster "flag files + git + names as words + flag-call regex" "0 1" \
        "$(q "$RM") --repo $(q "$REPO") flags stale --code $(q "$CODE") --format json"
else
    warn "this ringmaster has no \`flags stale\`: measuring the peers only"
    missing ringmaster "flag files + git + names as words + flag-call regex" "no flags stale"
fi
if [[ -n $RG ]]; then
    bench rg ripgrep "names as words, count per file" "0 1" \
        "$(q "$RG") -c -w -F -f $(q "$WORK/names.txt") $(q "$CODE")"
else
    missing ripgrep "names as words, count per file" "not installed"
fi
if [[ -n $GIT ]]; then
    bench git-grep "git grep" "names as words in tracked files, count per file" "0 1" \
        "$(q "$GIT") -C $(q "$CODE") grep -c -w -F -f $(q "$WORK/names.txt")"
else
    missing "git grep" "names as words in tracked files, count per file" "not installed"
fi

# ---------------------------------------------------------------------------------------------
# The table, with each answer checked.
CPU=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)
BENCH_WORK=$WORK
BENCH_ROWS=$ROWS
BENCH_NFILES=$NFILES
BENCH_NFLAGS=$NFLAGS
BENCH_QUICK=$QUICK
BENCH_CPU=${CPU:-unknown}
BENCH_NPROC=$(nproc)
BENCH_DATE=$(date -u +%Y-%m-%dT%H:%MZ)
BENCH_LOAD="$LOAD_START at the start, $(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo n/a) at the end"
BENCH_SIZE_MB=$(du -sm --apparent-size --exclude=.git "$CODE" | cut -f1)
# awk, not head: head would close the pipe early, and under pipefail a SIGPIPE'd producer
# fails the script.
BENCH_V_RINGMASTER=$("$RM" --version 2>/dev/null | awk 'NR == 1 {print $NF}' || true)
BENCH_V_RG=n/a
[[ -z $RG ]] || BENCH_V_RG=$("$RG" --version | awk 'NR == 1 {print $2}')
BENCH_V_GIT=n/a
[[ -z $GIT ]] || BENCH_V_GIT=$("$GIT" --version | awk '{print $3}')
BENCH_HYPERFINE=$("$HYPERFINE" --version | awk '{print $NF}')
export BENCH_WORK BENCH_ROWS BENCH_NFILES BENCH_NFLAGS BENCH_QUICK BENCH_CPU BENCH_NPROC BENCH_DATE \
    BENCH_LOAD \
    BENCH_SIZE_MB BENCH_V_RINGMASTER BENCH_V_RG BENCH_V_GIT BENCH_HYPERFINE

python3 - >"$RESULTS_MD" <<'PY'
import json, os

env = os.environ
work = env["BENCH_WORK"]
n = int(env["BENCH_NFILES"])
expect = json.load(open(os.path.join(work, "expect.json")))


wrong = []


def check(id_):
    """A short verdict on the answer of the GNU time run (ringmaster's problems are also
    collected in `wrong`, which fails the benchmark)."""
    verdict = answer(id_)
    if id_ == "ringmaster" and not verdict.startswith("correct"):
        wrong.append(verdict)
    return verdict


def answer(id_):
    out_path = os.path.join(work, f"{id_}.out")
    try:
        out = open(out_path, encoding="utf-8", errors="replace").read()
    except OSError:
        return "n/a"
    if id_ == "ringmaster":
        try:
            doc = json.loads(out)
        except ValueError:
            return "output is not JSON"
        unref = sorted(s["name"] for s in doc.get("stale", [])
                       if "unreferenced" in s.get("reasons", []))
        undef = sorted({u["name"] for u in doc.get("undefined", [])})
        want_unref = sorted(expect["unreferenced"] + expect["vendor_only"])
        problems = []
        if unref != want_unref:
            leaked = sorted(set(expect["vendor_only"]) - set(unref))
            if leaked:
                problems.append(f"{len(leaked)} vendor-only flags seen (ignore rules broken)")
            extra = sorted(set(unref) - set(want_unref))
            if extra:
                problems.append(f"{len(extra)} referenced flags reported unreferenced")
            missed = sorted(set(expect["unreferenced"]) - set(unref))
            if missed:
                problems.append(f"{len(missed)} unreferenced flags missed (word boundaries?)")
        if undef != expect["undefined"]:
            problems.append(f"undefined: {len(undef)} names, expected {len(expect['undefined'])}")
        return "; ".join(problems) or (f"correct: {len(unref)} unreferenced, "
                                       f"{len(undef)} undefined")
    vendor = sum(1 for line in out.splitlines() if "vendor/" in line)
    files = len(out.splitlines())
    return (f"{files:,} files with a name; vendor/ ignored" if vendor == 0
            else f"{vendor} vendor/ files searched")


rows = []
with open(env["BENCH_ROWS"]) as fh:
    for line in fh:
        id_, tool, does, js, rss, status = line.rstrip("\n").split("\t")
        median = None
        if js and os.path.exists(js):
            with open(js) as jf:
                median = json.load(jf)["results"][0]["median"]
        rows.append(dict(id=id_, tool=tool, does=does, median=median,
                         rss=int(rss) if rss else None, status=status))

base = next((r["median"] for r in rows if r["tool"] == "ringmaster" and r["median"]), None)
out = ["# `ringmaster flags stale --code` benchmark", "",
       f"{env['BENCH_DATE']}, {env['BENCH_NPROC']} cores ({env['BENCH_CPU']}), "
       f"hyperfine {env['BENCH_HYPERFINE']} (--warmup 1 --runs 10)"
       + (", `--quick`" if env["BENCH_QUICK"] == "1" else "") + ". A source tree of "
       f"{n:,} files ({env['BENCH_SIZE_MB']} MB, `benches/gen_code.py`) and "
       f"{int(env['BENCH_NFLAGS']):,} flag files. Load average {env['BENCH_LOAD']} "
       "(other work on the machine skews the figures).", "",
       "| tool | does | median wall (ms) | files/s | peak RSS (MB) | time vs ringmaster | answer |",
       "| --- | --- | ---: | ---: | ---: | ---: | --- |"]
for r in rows:
    if r["status"] in ("not installed", "no flags stale"):
        out.append(f"| {r['tool']} | {r['does']} | {r['status']} | | | | |")
        continue
    ms = f"{r['median'] * 1000:,.1f}" if r["median"] else "n/a"
    fps = f"{n / r['median']:,.0f}" if r["median"] else "n/a"
    rss = f"{r['rss'] / 1024:,.1f}" if r["rss"] else "n/a"
    ratio = f"{r['median'] / base:,.1f}x" if (base and r["median"]) else "n/a"
    note = "" if r["status"] == "ok" else f" ({r['status']})"
    if r["tool"] == "ringmaster" and r["status"] != "ok":
        wrong.append(f"ringmaster {r['status']}")
    out.append(f"| {r['tool']}{note} | {r['does']} | {ms} | {fps} | {rss} | {ratio} | "
               f"{check(r['id'])} |")
versions = {"ringmaster": env["BENCH_V_RINGMASTER"], "ripgrep": env["BENCH_V_RG"],
            "git": env["BENCH_V_GIT"]}
out += ["", "Versions: " + ", ".join(f"{k} {v or 'n/a'}" for k, v in versions.items()) + ".",
        "Commands: `ringmaster --repo REPO flags stale --code TREE --format json`; "
        "`rg -c -w -F -f names.txt TREE`; `git -C TREE grep -c -w -F -f names.txt`. "
        "The peers only find the names (their word characters are `[A-Za-z0-9_]`, so a name "
        "also matches inside `name-v2`); ringmaster also reads the flag files, asks git, and "
        "runs the flag-call regex for undefined names.",
        "Peak RSS is from one separate run under `/usr/bin/time -f %M`, whose answer is the "
        "one checked."]
print("\n".join(out))
if wrong:
    with open(os.path.join(work, "wrong-answer"), "w") as fh:
        fh.write("; ".join(wrong) + "\n")
PY
cat "$RESULTS_MD"
if [[ -s $WORK/wrong-answer ]]; then
    echo "flags.sh: WRONG ANSWER from ringmaster: $(cat "$WORK/wrong-answer")" >&2
    exit 1
fi
log "written to $RESULTS_MD (hyperfine JSON in $RESULTS_DIR/)"
