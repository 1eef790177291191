#!/usr/bin/env bash
# Benchmark `ringmaster check` against the tools a user would pick instead.
#
#   benches/check.sh [--quick] [--keep] [--files N] [--no-peers]
#
# Generates synthetic config repos (benches/gen_repo.py) of 1 000 and 10 000 files, ~2.6 KB
# each, and times with hyperfine, side by side in one run:
#
#   ringmaster --repo DIR check --no-cache    the whole repo, cold (lint + schema, both cores)
#   ringmaster --repo DIR check               the same with its check cache (issue 17), in the
#                                             repo's .git/ringmaster/cache: empty (every run
#                                             writes it afresh), after one file changed (the
#                                             others' results come from the cache), and with
#                                             nothing changed
#   check-jsonschema --schemafile S FILES...  schema only (PyPI), as `pip install` gives it
#                                             (ruamel.yaml 0.19: pure-Python YAML parser), and
#                                             again with ruamel.yaml.clib (its C parser)
#   ajv validate --spec=draft2020 ...         schema only (npm ajv-cli 5, YAML data files)
#   yamllint -d relaxed config/               lint only (PyPI)
#
# ajv-cli 5.0.0: `--spec=draft2020` works (it selects ajv/dist/2020) although `ajv help` lists
# only draft7 and draft2019 (draft2019 rejects a 2020-12 `$schema`); `-c ajv-formats` adds the
# `format` keywords; data files ending in .yaml/.yml are read with js-yaml; `-d` takes a
# quoted glob that ajv expands itself. Exit 1 when any file is invalid.
#
# And the pre-commit case: one file of the 10 000-file repo (with the cache, as a hook runs it).
# The cache cases use hyperfine --prepare: "empty cache" moves the cache directory aside before
# each run (removing 10 000 entries would leave the filesystem busy during the next run), "one
# file changed" rewrites the last line (a comment) of one file before each run, so every run
# parses that file again and takes the others from the cache. Peak RSS comes from one extra
# run of each command under GNU time (`/usr/bin/time -f %M`). The markdown table goes to
# stdout and to target/bench-results.md; hyperfine's JSON exports to target/bench-results/.
#
# ringmaster's answer is checked before it is timed: on every generated repo it must exit 0 with
# no finding and report having read every file (gen_repo.py --expect), cold, with an empty
# cache, after the one-file edit and from a warm cache, and on the one file it must read that
# file and its schema and find nothing. A wrong answer stops the benchmark
# with exit 1 (a checker that skipped files would be fast, and find nothing too).
#
# Options:
#   --quick     only the 1 000-file repo (the one-file case then uses that repo): a CI smoke run
#   --keep      keep the generated repos (their path is printed)
#   --files N   only one repo, of N files (a smoke run of the script itself)
#   --no-peers  time ringmaster alone (installs no peer)
# Environment:
#   RINGMASTER_BIN   a prebuilt ringmaster binary; otherwise `cargo build --release --locked`
#   BENCH_SEED       generator seed (default 1)
#   BENCH_TOOLS      where peers are installed (default target/bench-tools)
#   BENCH_PEERS      which peers to run (default all: "check-jsonschema check-jsonschema-c ajv
#                    yamllint"); the pure-Python ones take minutes per pass on a loaded machine
#
# A full run takes about 20 minutes on 2 cores (each Python peer needs ~100 s per pass over
# 10 000 files), --quick about 3. Commands over 5 s get 3 timed runs, over 1 s 5 runs, the rest
# at least 10, each after a warmup (for the slow ones, the GNU time run is that warmup).
#
# Peers are installed on first use into target/bench-tools/ (a Python venv, an npm prefix);
# hyperfine and GNU time come from apt-get when missing. A peer that cannot be installed or
# does not run is reported as such; it never stops the benchmark.
set -euo pipefail

# Pinned so that figures from different runs compare; override to try others.
CHECK_JSONSCHEMA_VERSION=${CHECK_JSONSCHEMA_VERSION:-0.39.0}
YAMLLINT_VERSION=${YAMLLINT_VERSION:-1.38.0}
AJV_CLI_VERSION=${AJV_CLI_VERSION:-5.0.0}
AJV_FORMATS_VERSION=${AJV_FORMATS_VERSION:-3.0.1}
RUAMEL_CLIB_VERSION=${RUAMEL_CLIB_VERSION:-0.2.15}

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

QUICK=0
KEEP=0
FILES=""
PEERS=1
while (($#)); do
    case $1 in
        --quick) QUICK=1 ;;
        --keep) KEEP=1 ;;
        --files) FILES=${2:?--files needs a number}; shift ;;
        --no-peers) PEERS=0 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "check.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
[[ -z $FILES || $FILES =~ ^[1-9][0-9]*$ ]] || { echo "check.sh: --files takes a positive number" >&2; exit 2; }

log() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
warn() { printf 'warning: %s\n' "$*" >&2; }
q() { printf '%q' "$1"; }

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"
ROOT=$(git -C "$SCRIPT_DIR" rev-parse --show-toplevel)
TOOLS=${BENCH_TOOLS:-$ROOT/target/bench-tools}
RESULTS_MD=$ROOT/target/bench-results.md
RESULTS_DIR=$ROOT/target/bench-results
SEED=${BENCH_SEED:-1}
mkdir -p "$TOOLS" "$RESULTS_DIR"

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
        "${sudo[@]}" apt-get update -qq >&2 || return 1
        APT_UPDATED=1
    fi
    log "apt-get install $*"
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "$@" >&2
}

# ---------------------------------------------------------------------------------------------
# Harness tools: hyperfine (required) and GNU time (for peak RSS; optional).
if ! command -v hyperfine >/dev/null; then
    apt_install hyperfine || true
fi
HYPERFINE=$(command -v hyperfine || true)
if [[ -z $HYPERFINE && -x $TOOLS/cargo/bin/hyperfine ]]; then
    HYPERFINE=$TOOLS/cargo/bin/hyperfine
fi
if [[ -z $HYPERFINE ]] && command -v cargo >/dev/null; then
    log "cargo install hyperfine (apt-get could not)"
    cargo install --locked --quiet --root "$TOOLS/cargo" hyperfine >&2 || true
    [[ -x $TOOLS/cargo/bin/hyperfine ]] && HYPERFINE=$TOOLS/cargo/bin/hyperfine
fi
[[ -n $HYPERFINE ]] || { echo "check.sh: hyperfine is required and could not be installed" >&2; exit 1; }

gnu_time_ok() { [[ -x /usr/bin/time ]] && /usr/bin/time --version 2>&1 | grep -q GNU; }
gnu_time_ok || apt_install time || true
HAVE_TIME=0
if gnu_time_ok; then HAVE_TIME=1; else warn "GNU time not available: peak RSS will read n/a"; fi

# ---------------------------------------------------------------------------------------------
# ringmaster itself.
RM=$(ringmaster_bin check.sh)

# ---------------------------------------------------------------------------------------------
# Peers, cached in target/bench-tools/. Each one that fails is left out, never fatal.
VENV=$TOOLS/venv
CJS=$VENV/bin/check-jsonschema
YAMLLINT=$VENV/bin/yamllint
# A second venv: check-jsonschema with ruamel.yaml's C parser, which ruamel.yaml 0.19 made an
# optional extra (0.18 installed it by default), so users have either.
VENV_C=$TOOLS/venv-clib
CJS_C=$VENV_C/bin/check-jsonschema
AJV=$TOOLS/npm/node_modules/.bin/ajv

make_venv() { # DIR
    [[ -x $1/bin/pip ]] && return 0
    local py
    py=$(command -v python3) || { warn "python3 missing"; return 1; }
    log "python venv in $1"
    "$py" -m venv "$1" >&2 && return 0
    rm -rf "$1"
    apt_install python3-venv && "$py" -m venv "$1" >&2 && return 0
    rm -rf "$1"
    return 1
}

pip_install() { # VENV PACKAGE...
    local venv=$1
    shift
    log "pip install $*"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$@" >&2
}

install_python_peers() {
    if [[ ! -x $CJS || ! -x $YAMLLINT ]]; then
        if ! { make_venv "$VENV" && pip_install "$VENV" \
            "check-jsonschema==$CHECK_JSONSCHEMA_VERSION" "yamllint==$YAMLLINT_VERSION"; }; then
            warn "check-jsonschema / yamllint could not be installed"
        fi
    fi
    if [[ ! -x $CJS_C ]]; then
        if ! { make_venv "$VENV_C" && pip_install "$VENV_C" \
            "check-jsonschema==$CHECK_JSONSCHEMA_VERSION" "ruamel.yaml.clib==$RUAMEL_CLIB_VERSION"; }; then
            warn "check-jsonschema with ruamel.yaml.clib could not be installed"
        fi
    fi
    if [[ -x $CJS_C ]] && ! "$VENV_C/bin/python" -c 'import _ruamel_yaml' 2>/dev/null; then
        warn "ruamel.yaml.clib does not import: leaving out check-jsonschema (C parser)"
        CJS_C=/nonexistent
    fi
}

install_npm_peers() {
    [[ -x $AJV && -d $TOOLS/npm/node_modules/ajv-formats ]] && return 0
    if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
        apt_install nodejs npm || return 1
    fi
    log "npm install ajv-cli@$AJV_CLI_VERSION ajv-formats@$AJV_FORMATS_VERSION"
    npm install --prefix "$TOOLS/npm" --no-audit --no-fund --loglevel=error \
        "ajv-cli@$AJV_CLI_VERSION" "ajv-formats@$AJV_FORMATS_VERSION" >&2
}

if ((PEERS)); then
    install_python_peers
    install_npm_peers || warn "ajv-cli could not be installed"
fi

version_of() { # tool -> version string, or nothing
    local m=$TOOLS/npm/node_modules
    {
        case $1 in
            ringmaster) "$RM" --version | head -n1 | awk '{print $NF}' ;;
            check-jsonschema) "$CJS" --version | awk '{print $NF}' ;;
            ruamel.yaml.clib) [[ -x $CJS_C ]] && echo "$RUAMEL_CLIB_VERSION" ;;
            yamllint) "$YAMLLINT" --version | awk '{print $NF}' ;;
            ajv) node -p "require('$m/ajv-cli/package.json').version + ' (ajv ' +
                          require('$m/ajv/package.json').version + ')'" ;;
        esac
    } 2>/dev/null || true
}

# ---------------------------------------------------------------------------------------------
# Repos.
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ringmaster-bench.XXXXXX")
if ((KEEP)); then
    trap 'log "generated repos kept in $WORK"' EXIT
else
    trap 'rm -rf "$WORK"' EXIT
fi

if [[ -n $FILES ]]; then
    SIZES=("$FILES")
elif ((QUICK)); then
    SIZES=(1000)
else
    SIZES=(1000 10000)
fi
for n in "${SIZES[@]}"; do
    log "generating a $n-file repo"
    python3 "$SCRIPT_DIR/gen_repo.py" "$WORK/repo-$n" --files "$n" --seed "$SEED" \
        --expect "$WORK/expect-$n.json"
done
BIG=${SIZES[-1]}
# The pre-commit case: one file from the middle of the largest repo (gen_repo.py's layout).
ONE_IDX=$((BIG / 2))
ONE_FILE=$(printf 'config/team-%03d/svc-%05d.yaml' $((ONE_IDX / 100)) "$ONE_IDX")
[[ -f $WORK/repo-$BIG/$ONE_FILE ]] || { echo "check.sh: $ONE_FILE not generated" >&2; exit 1; }
printf '{"check": {"findings": 0, "errors": 0, "warnings": 0, "files": 2}}\n' >"$WORK/expect-one.json"

# ---------------------------------------------------------------------------------------------
# The answers, checked once before anything is timed.
# verify EXPECT_JSON ARGS...: `ringmaster ARGS... --format json` must give the expected summary.
verify() {
    local expect=$1
    shift
    local rc=0
    "$RM" "$@" --format json >"$WORK/answer.json" || rc=$?
    python3 - "$expect" "$rc" "$*" "$WORK/answer.json" <<'PY' || exit 1
import json, sys
expect_path, rc, cmd, answer = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
want = json.load(open(expect_path))["check"]
out = open(answer, encoding="utf-8", errors="replace").read()
try:
    got = json.loads(out)
except ValueError:
    sys.exit(f"check.sh: WRONG ANSWER from `ringmaster {cmd}` (exit {rc}): not JSON:\n{out[:500]}")
summary = got.get("summary", {})
have = {"findings": len(got.get("findings", [])), "errors": summary.get("errors"),
        "warnings": summary.get("warnings"), "files": summary.get("files")}
if rc != 0 or have != want:
    sys.exit(f"check.sh: WRONG ANSWER from `ringmaster {cmd}` (exit {rc}): {have}, "
             f"the generator expects {want}")
print(f"answer checked: ringmaster {cmd}: {have}", file=sys.stderr)
PY
}
# The cache cases. cache_dir N: where check keeps its cache in repo N (the git directory).
# edit_file N: the file "one file changed" rewrites; it ends with a comment line, which
# PREP_EDIT replaces by another before each run (the file's bytes, so its blob id, change).
TRASH=$WORK/cache-trash
mkdir -p "$TRASH"
cache_dir() { printf '%s/repo-%s/.git/ringmaster/cache' "$WORK" "$1"; }
edit_file() { printf 'config/team-%03d/svc-%05d.yaml' $(($1 / 3 / 100)) $(($1 / 3)); }
cat >"$WORK/empty-cache.sh" <<'SH'
# empty-cache.sh CACHE_DIR TRASH_DIR: moves the cache aside and lets the disk settle.
mv "$1" "$2/$(date +%s%N)" 2>/dev/null
sync
SH
cat >"$WORK/edit-one.sh" <<'SH'
# edit-one.sh FILE: replaces FILE's last line (a comment) with another.
sed -i '$d' "$1" && printf '# edited %s\n' "$(date +%s%N)" >>"$1"
SH
prep_empty() { printf 'sh %s %s %s' "$(q "$WORK/empty-cache.sh")" "$(q "$(cache_dir "$1")")" "$(q "$TRASH")"; }
prep_edit() { printf 'sh %s %s' "$(q "$WORK/edit-one.sh")" "$(q "$WORK/repo-$1/$(edit_file "$1")")"; }
for n in "${SIZES[@]}"; do
    dir=$WORK/repo-$n
    printf '# edited 0\n' >>"$dir/$(edit_file "$n")"
    verify "$WORK/expect-$n.json" --repo "$dir" check --no-cache
    sh -c "$(prep_empty "$n")"
    verify "$WORK/expect-$n.json" --repo "$dir" check
    sh -c "$(prep_edit "$n")"
    verify "$WORK/expect-$n.json" --repo "$dir" check
    verify "$WORK/expect-$n.json" --repo "$dir" check
    # The timed cached run must really be cached: after one edit, every file but that one
    # comes from the cache (`-v` says how many, on stderr).
    sh -c "$(prep_edit "$n")"
    files=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["check"]["files"])' "$WORK/expect-$n.json")
    # (Every file but the manifest is looked up.)
    "$RM" --repo "$dir" -v check >/dev/null 2>"$WORK/cache.err"
    grep -q "cache: $((files - 2)) of $((files - 1)) files from the cache" "$WORK/cache.err" || {
        echo "check.sh: WRONG ANSWER: after one file changed, the cache should answer for all of the $((files - 1)) files it looks up but that one:" >&2
        cat "$WORK/cache.err" >&2
        exit 1
    }
    log "answer checked: after one file changed, $((files - 2)) of $((files - 1)) files came from the cache"
done
verify "$WORK/expect-one.json" --repo "$WORK/repo-$BIG" check "$WORK/repo-$BIG/$ONE_FILE"

# ---------------------------------------------------------------------------------------------
# Measuring. Each command runs once under GNU time (peak RSS, exit code, a first wall time that
# also warms the page cache and Python's bytecode cache), then under hyperfine: --warmup 1 and
# at least 10 runs for fast commands, 5 runs for those over 1 s, 3 runs and no extra warmup
# for those over 5 s (the GNU time run was their warmup).
ROWS=$WORK/rows.tsv
: >"$ROWS"
LOAD_START=$(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo n/a)

# bench ID TOOL CASE NFILES DIR SHELL CMD [PREPARE]   (SHELL=1: run through sh, for a glob;
# PREPARE: a shell command run before every run, untimed: hyperfine --prepare)
bench() {
    local id=$1 tool=$2 case=$3 nfiles=$4 dir=$5 use_shell=$6 cmd=$7 prepare=${8:-}
    local rc=0 wall rss=""
    log "$tool: $case"
    local t0 t1
    [[ -z $prepare ]] || (cd "$dir" && sh -c "$prepare")
    t0=$(date +%s.%N)
    if ((HAVE_TIME)); then
        (cd "$dir" && /usr/bin/time -f '%M' -o "$WORK/$id.rss" sh -c "$cmd" \
            >"$WORK/$id.out" 2>"$WORK/$id.err") || rc=$?
        rss=$(tail -n1 "$WORK/$id.rss" 2>/dev/null | grep -E '^[0-9]+$' || true)
    else
        (cd "$dir" && sh -c "$cmd" >"$WORK/$id.out" 2>"$WORK/$id.err") || rc=$?
    fi
    t1=$(date +%s.%N)
    wall=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')
    if ((rc != 0)); then
        warn "$tool exited $rc on '$case'; its output:"
        head -n 20 "$WORK/$id.out" "$WORK/$id.err" >&2 || true
    fi
    local opts=()
    if awk -v w="$wall" 'BEGIN { exit !(w > 5) }'; then
        opts=(--warmup 0 --runs 3)
    elif awk -v w="$wall" 'BEGIN { exit !(w > 1) }'; then
        opts=(--warmup 1 --runs 5)
    else
        opts=(--warmup 1 --min-runs 10)
    fi
    ((use_shell)) || opts+=(--shell=none)
    [[ -z $prepare ]] || opts+=(--prepare "$prepare")
    ((rc == 0)) || opts+=(--ignore-failure)
    local json=$RESULTS_DIR/$id.json status=ok
    rm -f "$json"
    if ! (cd "$dir" && "$HYPERFINE" --style basic "${opts[@]}" --export-json "$json" \
        --command-name "$tool ($case)" "$cmd" >&2); then
        status=hyperfine-failed
    fi
    ((rc == 0)) || status="exit $rc"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$id" "$tool" "$case" "$nfiles" "$json" "${rss:-}" \
        "$status" >>"$ROWS"
}

missing() { # TOOL CASE NFILES
    printf '%s\t%s\t%s\t%s\t\t\tnot installed\n' "-" "$1" "$2" "$3" >>"$ROWS"
}

thousands() { printf '%s' "$1" | sed -e ':a' -e 's/\([0-9]\)\([0-9]\{3\}\)\($\| \)/\1 \2\3/' -e 'ta'; }

# run_peers CASE NFILES DIR ID_SUFFIX CJS_FILES AJV_DATA LINT_TARGET CJS_SHELL: the peers on one
# case. On the whole repo check-jsonschema needs the files listed (a shell glob, CJS_SHELL=1),
# ajv expands its own glob, and yamllint walks a directory.
PEERS_RUN=" ${BENCH_PEERS:-check-jsonschema check-jsonschema-c ajv yamllint} "
peer_wanted() { [[ $PEERS_RUN == *" $1 "* ]]; }
run_peers() {
    local case=$1 n=$2 dir=$3 sfx=$4 cjs_files=$5 ajv_data=$6 lint_target=$7 cjs_shell=$8
    local name bin id
    for name in check-jsonschema "check-jsonschema (C parser)"; do
        if [[ $name == check-jsonschema ]]; then bin=$CJS id=cjs; else bin=$CJS_C id=cjs-clib; fi
        if ! peer_wanted "$([[ $id == cjs ]] && echo check-jsonschema || echo check-jsonschema-c)"; then
            continue
        elif [[ -x $bin ]]; then
            bench "$id-$sfx" "$name" "$case" "$n" "$dir" "$cjs_shell" \
                "$(q "$bin") --schemafile schemas/layer.schema.json $cjs_files"
        else
            missing "$name" "$case" "$n"
        fi
    done
    if ! peer_wanted ajv; then
        :
    elif [[ -x $AJV ]]; then
        bench "ajv-$sfx" ajv "$case" "$n" "$dir" 0 \
            "$(q "$AJV") validate --spec=draft2020 -c ajv-formats -s schemas/layer.schema.json -d '$ajv_data'"
    else
        missing ajv "$case" "$n"
    fi
    if ! peer_wanted yamllint; then
        :
    elif [[ -x $YAMLLINT ]]; then
        bench "yamllint-$sfx" yamllint "$case" "$n" "$dir" 0 "$(q "$YAMLLINT") -d relaxed $lint_target"
    else
        missing yamllint "$case" "$n"
    fi
}

for n in "${SIZES[@]}"; do
    dir=$WORK/repo-$n
    case="whole repo, $(thousands "$n") files"
    rm_check="$(q "$RM") --repo $(q "$dir") check"
    bench "ringmaster-$n" "ringmaster --no-cache" "$case" "$n" "$dir" 0 "$rm_check --no-cache"
    bench "ringmaster-empty-$n" "ringmaster, empty cache" "$case" "$n" "$dir" 0 "$rm_check" \
        "$(prep_empty "$n")"
    bench "ringmaster-edit-$n" "ringmaster, cache, 1 file changed" "$case" "$n" "$dir" 0 \
        "$rm_check" "$(prep_edit "$n")"
    bench "ringmaster-warm-$n" "ringmaster, cache, nothing changed" "$case" "$n" "$dir" 0 \
        "$rm_check"
    # sh (dash) has no `**`; gen_repo.py writes config/<team>/<svc>.yaml.
    if ((PEERS)); then
        run_peers "$case" "$n" "$dir" "$n" 'config/*/*.yaml' 'config/**/*.yaml' config 1
    fi
done

dir=$WORK/repo-$BIG
case="pre-commit, 1 file of $(thousands "$BIG")"
bench "ringmaster-one" "ringmaster (cache)" "$case" 1 "$dir" 0 "$(q "$RM") --repo $(q "$dir") check $ONE_FILE"
bench "ringmaster-one-cold" "ringmaster --no-cache" "$case" 1 "$dir" 0 \
    "$(q "$RM") --repo $(q "$dir") check --no-cache $ONE_FILE"
if ((PEERS)); then
    run_peers "$case" 1 "$dir" one "$ONE_FILE" "$ONE_FILE" "$ONE_FILE" 0
fi

# ---------------------------------------------------------------------------------------------
# The table.
CPU=$(grep -m1 'model name' /proc/cpuinfo 2>/dev/null | cut -d: -f2- | sed 's/^ *//' || true)
BENCH_ROWS=$ROWS
BENCH_CPU=${CPU:-unknown}
BENCH_NPROC=$(nproc)
BENCH_DATE=$(date -u +%Y-%m-%dT%H:%MZ)
BENCH_QUICK=$QUICK
BENCH_LOAD="$LOAD_START at the start, $(cut -d' ' -f1 /proc/loadavg 2>/dev/null || echo n/a) at the end"
BENCH_SIZE_MB=$(du -sm --apparent-size "$WORK/repo-$BIG/config" | cut -f1)
BENCH_V_RINGMASTER=$(version_of ringmaster)
BENCH_V_CJS=$(version_of check-jsonschema)
BENCH_V_CLIB=$(version_of ruamel.yaml.clib)
BENCH_V_AJV=$(version_of ajv)
BENCH_V_YAMLLINT=$(version_of yamllint)
BENCH_HYPERFINE=$("$HYPERFINE" --version | awk '{print $NF}')
export BENCH_ROWS BENCH_CPU BENCH_NPROC BENCH_DATE BENCH_QUICK BENCH_LOAD BENCH_SIZE_MB \
    BENCH_V_RINGMASTER BENCH_V_CJS BENCH_V_CLIB BENCH_V_AJV BENCH_V_YAMLLINT BENCH_HYPERFINE

python3 - >"$RESULTS_MD" <<'PY'
import json, os

rows = []
with open(os.environ["BENCH_ROWS"]) as fh:
    for line in fh:
        id_, tool, case, nfiles, js, rss, status = line.rstrip("\n").split("\t")
        median = cpu = None
        if js and os.path.exists(js) and status != "hyperfine-failed":
            with open(js) as jf:
                result = json.load(jf)["results"][0]
            median = result["median"]
            cpu = result["user"] + result["system"]
        rows.append(dict(tool=tool, case=case, n=int(nfiles), median=median, cpu=cpu,
                         rss=int(rss) if rss else None, status=status))

# Ratios are against ringmaster's cold run on the same case (--no-cache).
base = {r["case"]: r["median"] for r in rows
        if r["tool"] == "ringmaster --no-cache" and r["median"]}
what = {"check-jsonschema": "schema", "check-jsonschema (C parser)": "schema", "ajv": "schema",
        "yamllint": "lint"}
versions = {"ringmaster": os.environ["BENCH_V_RINGMASTER"],
            "check-jsonschema": os.environ["BENCH_V_CJS"],
            "ajv": os.environ["BENCH_V_AJV"], "yamllint": os.environ["BENCH_V_YAMLLINT"],
            "ruamel.yaml.clib": os.environ["BENCH_V_CLIB"]}

out = ["# `ringmaster check` benchmark", "",
       f"{os.environ['BENCH_DATE']}, {os.environ['BENCH_NPROC']} cores ({os.environ['BENCH_CPU']}), "
       f"hyperfine {os.environ['BENCH_HYPERFINE']}"
       + (", `--quick`" if os.environ["BENCH_QUICK"] == "1" else "")
       + f". Synthetic repos from `benches/gen_repo.py` (~2.6 KB per file; the largest "
         f"is {os.environ['BENCH_SIZE_MB']} MB of YAML). Load average "
         f"{os.environ['BENCH_LOAD']} (other work on the machine skews the figures).", "",
       "| tool | does | case | median wall (ms) | CPU, user+sys (ms) | files/s | peak RSS (MB) "
       "| time vs ringmaster --no-cache |",
       "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |"]
for r in rows:
    does = what.get(r["tool"], "lint + schema")
    if r["status"] == "not installed":
        out.append(f"| {r['tool']} | {does} | {r['case']} | not installed | | | | |")
        continue
    ms = f"{r['median'] * 1000:,.1f}" if r["median"] else "n/a"
    cpu = f"{r['cpu'] * 1000:,.1f}" if r["cpu"] is not None else "n/a"
    fps = f"{r['n'] / r['median']:,.0f}" if r["median"] else "n/a"
    rss = f"{r['rss'] / 1024:,.1f}" if r["rss"] else "n/a"
    b = base.get(r["case"])
    ratio = "n/a"
    if b and r["median"]:
        ratio = f"{r['median'] / b:,.{1 if r['median'] >= b else 2}f}x"
    note = "" if r["status"] == "ok" else f" ({r['status']})"
    out.append(f"| {r['tool']}{note} | {does} | {r['case']} | {ms} | {cpu} | {fps} | "
               f"{rss} | {ratio} |")
out += ["", "Versions: " + ", ".join(f"{k} {v or 'n/a'}" for k, v in versions.items()) + ".",
        "Commands (run in the generated repo): `ringmaster --repo DIR check [--no-cache] [FILE]`; "
        "`check-jsonschema --schemafile schemas/layer.schema.json config/*/*.yaml` "
        "(\"C parser\": the same with `ruamel.yaml.clib` installed, which `pip install "
        "check-jsonschema` no longer pulls in since ruamel.yaml 0.19); "
        "`ajv validate --spec=draft2020 -c ajv-formats -s schemas/layer.schema.json "
        "-d 'config/**/*.yaml'`; `yamllint -d relaxed config`.",
        "ringmaster's cache cases: `check` with its cache in `.git/ringmaster/cache`, "
        "moved aside before each run (\"empty cache\": every run writes it afresh), after "
        "one file's last line changed before each run (\"1 file changed\": that file is "
        "parsed, the others come from the cache), or as the previous run left it.",
        "\"time vs ringmaster --no-cache\" is the row's median over ringmaster's cold run "
        "(`--no-cache`) on the same case. CPU is hyperfine's mean user + system time (less "
        "sensitive to other load than wall time). "
        "Peak RSS is from one separate run under `/usr/bin/time -f %M`."]
print("\n".join(out))
PY
cat "$RESULTS_MD"
log "written to $RESULTS_MD (hyperfine JSON in $RESULTS_DIR/)"
