#!/usr/bin/env bash
# Regenerates journal.jsonl (and status-*.json) in this folder with a given ringmaster
# binary: the shop example driven on the simulated clock through a freeze and an
# unfreeze, two approvals, a completed rollout, then a rollout whose dogfood error
# ratio breaches and is rolled back. The committed files were written by the release
# before the journal's events were typed (0.1.0); they must keep verifying and
# replaying, so do not regenerate them with a newer binary.
#   tests/data/journal-compat/make.sh PATH/TO/ringmaster
set -euo pipefail
RM=$1
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SHOP=$(cd "$HERE/../../../examples/shop" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
cp -R "$SHOP/." "$WORK/"
export RINGMASTER_CLOCK=simulated GITHUB_ACTOR= GITLAB_USER_LOGIN= BUILDKITE_BUILD_CREATOR_EMAIL=
git() { command git -C "$WORK" -c user.name=dev -c user.email=dev@shop.example -c commit.gpgsign=false "$@"; }
rm8() { "$RM" --repo "$WORK" "$@"; }
git init -q
git add -A
git commit -qm "shop config"

sed -i 's/max_connections: 1024/max_connections: 2048/' "$WORK/config/role/api.yaml"
git commit -qam "api: more connections"
rm8 rollout start --as alice@shop.example
rm8 rollout freeze --reason "quarterly close" --as bob@shop.example
rm8 rollout run --as alice@shop.example || test $? = 4     # frozen
rm8 rollout unfreeze --as bob@shop.example
rm8 rollout run --as alice@shop.example || test $? = 4     # single-tenant waits
ID1=$(rm8 rollout status --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
rm8 rollout approve "$ID1" --ring single-tenant --as release-managers
rm8 rollout run --as alice@shop.example || test $? = 4     # multi-tenant waits
rm8 rollout approve "$ID1" --ring multi-tenant --as release-managers
rm8 rollout run --as alice@shop.example                    # complete

sed -i 's/pool_size: 40/pool_size: 400/' "$WORK/config/role/api.yaml"
python3 - "$WORK/metrics/demo.yaml" <<'PY'
import sys
path = sys.argv[1]
text = open(path).read()
needle = 'sum(rate(http_requests_total{ring="dogfood"}[5m]))\': [[0, 0.002]]'
assert needle in text
text = text.replace(needle, needle[:-1] + ', [120, 0.09]]')
open(path, "w").write(text)
PY
git commit -qam "api: a much bigger database pool"
rm8 rollout start --as alice@shop.example
rm8 rollout run --as alice@shop.example || test $? = 1     # halted at dogfood, rolled back
ID2=$(rm8 rollout status --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
rm8 audit verify
cp "$WORK/.git/ringmaster/journal.jsonl" "$HERE/journal.jsonl"
cp "$WORK/.git/ringmaster/journal.head" "$HERE/journal.head"
rm8 rollout status "$ID1" --format json >"$HERE/status-1.json"
rm8 rollout status "$ID2" --format json >"$HERE/status-2.json"
