#!/usr/bin/env bash
# Benchmark ringmaster's SLO gates against a local Prometheus.
#
#   benches/gates.sh [--quick] [--only live|backtest]
#
# (a) Gate evaluation overhead with 50 gates across 3 rings, Prometheus scraping a small
#     exporter (benches/gates_bench.py) every second: ringmaster's CPU for `gates check` of
#     the three rings, Prometheus's own answer time for the same queries, and the soak loop's
#     CPU per evaluation round (a 1-round soak against an N-round soak of a 50-gate ring).
#     Target: under 50 ms of ringmaster CPU per round beyond Prometheus's answer time.
# (b) `gates backtest` over 30 days at a 1-minute step against synthetic history written
#     with `promtool tsdb create-blocks-from openmetrics`. Target: under 10 s.
#
# Prints a markdown table of medians (5 runs; --quick: 3) to stdout and target/bench-gates.md.
# Needs prometheus and promtool (Debian's `prometheus` package; installed when missing) and
# python3. Environment: RINGMASTER_BIN, a prebuilt binary (default: cargo build --release).
# A full run takes about 2 minutes on 2 cores.
set -euo pipefail

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }
RUNS=5
ONLY=()
while (($#)); do
    case $1 in
        --quick) RUNS=3 ;;
        --only) ONLY=(--only "$2"); shift ;;
        -h | --help) usage; exit 0 ;;
        *) echo "gates.sh: unknown argument: $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"
ROOT=$(git -C "$SCRIPT_DIR" rev-parse --show-toplevel)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}

if ! command -v prometheus >/dev/null || ! command -v promtool >/dev/null; then
    sudo=()
    [[ $(id -u) == 0 ]] || sudo=(sudo -n)
    "${sudo[@]}" apt-get update -qq >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus >&2
fi

BIN=$(ringmaster_bin gates.sh)

mkdir -p "$TARGET"
python3 "$SCRIPT_DIR/gates_bench.py" --bin "$BIN" --root "$ROOT" --runs "$RUNS" "${ONLY[@]}" |
    tee "$TARGET/bench-gates.md"
