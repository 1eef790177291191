#!/usr/bin/env bash
# Benchmark shared mode's etcd delivery at fleet scale.
#
#   benches/etcd.sh [--classes N] [--keep]
#
# Generates a config repo of N host classes (default 5 000; benches/gen_repo.py's five-level
# hierarchy, ~200 leaves per class) all in one ring, `multi-tenant`, whose state and deliveries
# live in a local etcd started on free loopback ports with etcd's default limits
# (--max-txn-ops 128, --max-request-bytes 1.5 MiB). Then:
#
#   1. rolls the revision out (`rollout start` + `rollout run` on the simulated clock): the
#      ring does not fit one transaction, so ringmaster writes the classes in chunks and the
#      revision key last; reports time, bytes, transactions (ringmaster's own figures) and
#      etcd's database size before and after;
#   2. verifies the split delivery: N class keys, the revision key on HEAD, a sample of
#      classes equal to `ringmaster render --class`, and a watcher on the revision key that
#      saw exactly one event;
#   3. commits a second revision and tries to deliver it in ONE transaction (limits lifted on
#      ringmaster's side only): etcd refuses it, which shows why the split exists; then
#      delivers it split, and three more revisions: the delivery time is the median of five.
#
# The markdown table goes to stdout and target/bench-etcd.md.
#
# Options:
#   --classes N  host classes in the ring (default 5000)
#   --keep       keep the generated repo and etcd data dir (their path is printed)
# Environment:
#   RINGMASTER_BIN   a prebuilt ringmaster binary; otherwise `cargo build --release --locked`
set -euo pipefail

CLASSES=5000
KEEP=""
while [ $# -gt 0 ]; do
  case "$1" in
    --classes) CLASSES="$2"; shift 2 ;;
    --keep) KEEP=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; exit 0 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
done

cd "$(dirname "$0")/.."
ROOT=$(pwd)
command -v etcd >/dev/null || { echo "etcd is missing: apt-get install etcd-server" >&2; exit 3; }
command -v etcdctl >/dev/null || { echo "etcdctl is missing: apt-get install etcd-client" >&2; exit 3; }
# shellcheck source=benches/lib.sh
source benches/lib.sh
RINGMASTER_BIN=$(ringmaster_bin etcd.sh)

WORK=$(mktemp -d)
ETCD_PID=""
WATCH_PID=""
cleanup() {
  [ -n "$WATCH_PID" ] && kill "$WATCH_PID" 2>/dev/null || true
  [ -n "$ETCD_PID" ] && kill "$ETCD_PID" 2>/dev/null || true
  wait 2>/dev/null || true
  if [ -n "$KEEP" ]; then echo "kept: $WORK" >&2; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
CLIENT=$(free_port)
PEER=$(free_port)
URL="http://127.0.0.1:$CLIENT"
export ETCDCTL_API=3
ctl() { etcdctl --endpoints="$URL" "$@"; }

etcd --data-dir "$WORK/etcd" --name default \
  --listen-client-urls "$URL" --advertise-client-urls "$URL" \
  --listen-peer-urls "http://127.0.0.1:$PEER" --initial-advertise-peer-urls "http://127.0.0.1:$PEER" \
  --initial-cluster "default=http://127.0.0.1:$PEER" >"$WORK/etcd.log" 2>&1 &
ETCD_PID=$!
for _ in $(seq 100); do ctl endpoint health >/dev/null 2>&1 && break; sleep 0.1; done
ctl endpoint health >/dev/null 2>&1 || { echo "etcd did not start: see $WORK/etcd.log" >&2; exit 3; }

# The repo: every class in one ring, state and deliveries in etcd under /bench.
REPO="$WORK/repo"
python3 benches/gen_repo.py "$REPO" --classes "$CLASSES" -q
sed -i -E 's/ring: (dogfood|single-tenant)/ring: multi-tenant/' "$REPO/ringmaster.yaml"
cat >>"$REPO/ringmaster.yaml" <<EOF
rings: rings/
state:
  kind: etcd
  endpoints: [$URL]
  prefix: /bench
deliver:
  kind: etcd
  endpoints: [$URL]
  prefix: /bench
EOF
mkdir -p "$REPO/rings"
cat >"$REPO/rings/multi-tenant.yaml" <<EOF
name: multi-tenant
order: 1
soak: 0s
interval: 1s
gates: []
EOF
git -C "$REPO" add -A
git -C "$REPO" -c user.name=bench -c user.email=bench@example.com commit -qm "one ring of $CLASSES classes"
HEAD=$(git -C "$REPO" rev-parse HEAD)

db_size() { ctl endpoint status -w json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["Status"]["dbSize"])'; }

# A fleet agent's watch on the ring's revision key.
etcdctl --endpoints="$URL" watch /bench/rings/multi-tenant/revision >"$WORK/watch.out" 2>&1 &
WATCH_PID=$!
sleep 0.3

rm_() { "$RINGMASTER_BIN" --repo "$REPO" "$@"; }
DB_BEFORE=$(db_size)
rm_ rollout start >/dev/null
START=$(date +%s.%N)
RINGMASTER_CLOCK=simulated rm_ rollout run >"$WORK/run.out" 2>"$WORK/run.err"
END=$(date +%s.%N)
DB_AFTER=$(db_size)
DELIVERED=$(grep "delivered" "$WORK/run.err" | head -1)
echo "$DELIVERED" >&2

# Verify the split delivery.
KEYS=$(ctl get --prefix --keys-only /bench/rings/multi-tenant/classes/ | grep -c .)
[ "$KEYS" = "$CLASSES" ] || { echo "expected $CLASSES class keys, found $KEYS" >&2; exit 1; }
[ "$(ctl get --print-value-only /bench/rings/multi-tenant/revision)" = "$HEAD" ] || { echo "revision key is not HEAD" >&2; exit 1; }
SAMPLE=0
for class in $(ctl get --prefix --keys-only /bench/rings/multi-tenant/classes/ | grep . | awk 'NR % 997 == 1'); do
  name=${class##*/}
  diff <(ctl get --print-value-only "$class") <(rm_ render --class "$name"; echo) >/dev/null \
    || { echo "class $name differs from render" >&2; exit 1; }
  SAMPLE=$((SAMPLE + 1))
done
sleep 0.3
kill "$WATCH_PID" 2>/dev/null || true
wait "$WATCH_PID" 2>/dev/null || true
WATCH_PID=""
EVENTS=$(grep -c '^PUT$' "$WORK/watch.out" || true)
[ "$EVENTS" = 1 ] || { echo "the revision watcher saw $EVENTS events, not 1" >&2; exit 1; }
rm_ audit verify >/dev/null

# One transaction for the whole ring: etcd refuses it.
sed -i 's/^\(  *\)port: .*/\1port: 9443/' "$REPO/config/defaults.yaml"
git -C "$REPO" -c user.name=bench -c user.email=bench@example.com commit -qam "second revision"
rm_ rollout start >/dev/null
set +e
RINGMASTER_CLOCK=simulated RINGMASTER_ETCD_MAX_TXN_OPS=1000000 RINGMASTER_ETCD_MAX_TXN_BYTES=1000000000 \
  RINGMASTER_ETCD_RETRY_SECONDS=2 rm_ rollout run >/dev/null 2>"$WORK/one.err"
ONE_TXN_EXIT=$?
set -e
ONE_TXN_ERROR=$(grep -oE 'grpc: received message larger than max \([0-9]+ vs. [0-9]+\)|etcdserver: [a-z ]+' "$WORK/one.err" | head -1 || true)
[ "$ONE_TXN_EXIT" = 3 ] || { echo "one transaction was not refused (exit $ONE_TXN_EXIT)" >&2; cat "$WORK/one.err" >&2; exit 1; }
RINGMASTER_CLOCK=simulated rm_ rollout run >/dev/null 2>"$WORK/run2.err"
SECOND=$(grep "delivered" "$WORK/run2.err" | head -1)
# One class file changed: only that class is written (the others are unchanged).
CLASS_FILES=("$REPO"/config/class/*.yaml)
CLASS_FILE=${CLASS_FILES[0]}
sed -i 's/^\(  *\)port: .*/\1port: 9443/' "$REPO/config/defaults.yaml"
python3 - "$CLASS_FILE" <<'PY'
import re, sys
p = sys.argv[1]
s = open(p).read()
# Bump the first integer leaf the class file sets.
s = re.sub(r"(:\s+)(\d+)\b", lambda m: f"{m.group(1)}{int(m.group(2)) + 1}", s, count=1)
open(p, "w").write(s)
PY
git -C "$REPO" -c user.name=bench -c user.email=bench@example.com commit -qam "one class"
rm_ rollout start >/dev/null
RINGMASTER_CLOCK=simulated rm_ rollout run >/dev/null 2>"$WORK/one-class.err"
ONE_CLASS=$(grep "delivered" "$WORK/one-class.err" | head -1 | sed -E 's/.*\((.*)\)$/\1/')
# Three more revisions (every class changes each time), for a median over five deliveries.
ALL_MS=()
for port in 9444 9445 9446; do
  sed -i "s/^\(  *\)port: .*/\1port: $port/" "$REPO/config/defaults.yaml"
  git -C "$REPO" -c user.name=bench -c user.email=bench@example.com commit -qam "port $port"
  rm_ rollout start >/dev/null
  RINGMASTER_CLOCK=simulated rm_ rollout run >/dev/null 2>"$WORK/runN.err"
  ALL_MS+=("$(grep "delivered" "$WORK/runN.err" | head -1 | sed -E 's/.* ([0-9]+) ms\).*/\1/')")
done

figures() { sed -E 's/.*\(([0-9]+) class(es)? written, ([0-9]+) unchanged, ([0-9]+) deleted, ([0-9]+) bytes in ([0-9]+) transactions?, ([0-9]+) ms\).*/\1 \5 \6 \7/' <<<"$1"; }
read -r N BYTES TXNS MS <<<"$(figures "$DELIVERED")"
read -r _ BYTES2 TXNS2 MS2 <<<"$(figures "$SECOND")"
RUN_S=$(python3 -c "print(f'{$END - $START:.1f}')")
ALL_MS+=("$MS" "$MS2")
MEDIAN_MS=$(printf '%s\n' "${ALL_MS[@]}" | sort -n | sed -n 3p)
MB_S=$(python3 -c "print(f'{$BYTES / 1048576 / ($MEDIAN_MS / 1000):.1f}')")
OPS_FIT=$([ "$((N + 1))" -le 128 ] && echo yes || echo "no ($((N + 1)) operations > 128)")
BYTES_FIT=$([ "$BYTES" -le 1572864 ] && echo yes || echo "no ($BYTES bytes > 1 572 864)")

{
  echo "| figure | value |"
  echo "| --- | --- |"
  echo "| host classes in the ring | $N |"
  echo "| bytes written (keys + rendered configs) | $BYTES ($((BYTES / 1024)) KiB, $((BYTES / N)) per class) |"
  echo "| transactions (chunks + the revision key) | $TXNS |"
  echo "| delivery time, median of 5 (first read → revision key) | $MEDIAN_MS ms ($MB_S MiB/s; all: $(printf '%s ' "${ALL_MS[@]}")ms) |"
  echo "| \`rollout run\` wall time (render $N classes + deliver + journal) | $RUN_S s |"
  echo "| later deliveries (every class changed) | $TXNS2 transactions, $BYTES2 bytes each |"
  echo "| a revision that changes one class file | $ONE_CLASS |"
  echo "| fits one txn: ops (--max-txn-ops 128) | $OPS_FIT |"
  echo "| fits one txn: size (--max-request-bytes 1.5 MiB) | $BYTES_FIT |"
  echo "| one-transaction attempt | refused by etcd: \`$ONE_TXN_ERROR\` (ringmaster exit $ONE_TXN_EXIT) |"
  echo "| etcd db size before → after first delivery | $DB_BEFORE → $DB_AFTER bytes |"
  echo "| revision-key watcher events per delivery | $EVENTS |"
  echo "| classes compared with \`render\` | $SAMPLE (every 997th), all equal |"
} | tee "$ROOT/target/bench-etcd.md"
