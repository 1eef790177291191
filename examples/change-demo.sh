#!/usr/bin/env bash
# Shows `ringmaster check --base` on the bundled example: copies examples/shop into a
# throw-away git repo, commits it, then renames `database.pool_size` in the defaults (a
# dual change) and runs `check --base HEAD`.
set -euo pipefail
# shellcheck source=examples/demo-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/demo-lib.sh"
sed -i 's/^  pool_size: 10/  max_pool_size: 10/' "$WORK/config/defaults.yaml"
"$RM" --repo "$WORK" check --base HEAD "$@"
