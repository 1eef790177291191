#!/usr/bin/env bash
# Shows `ringmaster check --base` on the bundled example: copies examples/shop into a
# throw-away git repo, commits it, then renames `database.pool_size` in the defaults (a
# dual change) and runs `check --base HEAD`.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
RM=${RINGMASTER_BIN:-}
if [[ -z $RM ]]; then
    (cd "$ROOT" && cargo build --release --locked -q)
    RM=$ROOT/target/release/ringmaster
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ringmaster-demo.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cp -R "$HERE/shop/." "$WORK/"
git -C "$WORK" init -q
git -C "$WORK" add -A
git -C "$WORK" -c user.name=demo -c user.email=demo@example.invalid commit -qm "shop config"
sed -i 's/^  pool_size: 10/  max_pool_size: 10/' "$WORK/config/defaults.yaml"
"$RM" --repo "$WORK" check --base HEAD "$@"
