#!/usr/bin/env bash
# A whole rollout of the bundled example, with no server: copies examples/shop into a
# throw-away git repo and drives two config revisions through dogfood, single-tenant and
# multi-tenant on a simulated clock (an hour of soak takes no time) with the embedded
# metrics of examples/shop/metrics/demo.yaml:
#   1. more API connections: healthy everywhere; the release manager approves the
#      single- and multi-tenant rings; the rollout completes;
#   2. a bigger database pool whose dogfood error ratio jumps to 9% 110 s in:
#      the error-ratio gate halts dogfood and the ring is rolled back automatically.
# Prints each step and, last, the second rollout's timeline (markdown); with
# RINGMASTER_DEMO_HTML=FILE it also writes that timeline as an HTML page.
#
#   examples/rollout-demo.sh [--timeline-only]
set -euo pipefail
QUIET=0
[[ ${1:-} == --timeline-only ]] && QUIET=1
# shellcheck source=examples/demo-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/demo-lib.sh"
export RINGMASTER_CLOCK=simulated GITHUB_ACTOR= GITLAB_USER_LOGIN=
rm8() { "$RM" --repo "$WORK" "$@"; }
say() { ((QUIET)) || printf '\n\033[1m$ %s\033[0m\n' "$*" >&2; }
run() { say "ringmaster $*"; if ((QUIET)); then rm8 "$@" >/dev/null 2>&1; else rm8 "$@"; fi; }

run check

# 1. A healthy change.
sed -i 's/max_connections: 1024/max_connections: 2048/' "$WORK/config/role/api.yaml"
git commit -qam "api: more connections"
run rollout start --as alice@shop.example
run rollout run --as alice@shop.example || true          # dogfood promoted; single-tenant waits (exit 4)
ID=$(rm8 rollout status --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
run rollout approve "$ID" --ring single-tenant --as release-managers
run rollout run --as alice@shop.example || true          # single-tenant promoted; multi-tenant waits
run rollout approve "$ID" --ring multi-tenant --as release-managers
run rollout run --as alice@shop.example                  # complete
run rollout status "$ID"                                 # single-tenant's compare gate: ring vs baseline, p-value

# 2. A change that hurts dogfood: its error ratio is 9% from 110 s after the start. The gate,
#    every 30 s, sees it at 120 s; the debrief reads when it began from the metric's history.
sed -i 's/pool_size: 40/pool_size: 400/' "$WORK/config/role/api.yaml"
python3 - "$WORK/metrics/demo.yaml" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
needle = 'sum(rate(http_requests_total{ring="dogfood"}[5m]))\': [[0, 0.002]]'
text = text.replace(needle, needle[:-1] + ', [110, 0.09]]')
open(path, "w").write(text)
PY
git commit -qam "api: a much bigger database pool"
run rollout start --as alice@shop.example
run rollout run --as alice@shop.example || true          # halted at dogfood and rolled back (exit 1)
run rollout status
run audit verify
ID=$(rm8 rollout status --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
say "ringmaster rollout timeline $ID --format markdown"
rm8 rollout timeline "$ID" --format markdown
# The same timeline as one self-contained HTML page (scripts/report-screenshot.sh).
if [[ -n ${RINGMASTER_DEMO_HTML:-} ]]; then
    say "ringmaster rollout timeline $ID --format html --output $RINGMASTER_DEMO_HTML"
    rm8 rollout timeline "$ID" --format html --output "$RINGMASTER_DEMO_HTML"
fi
