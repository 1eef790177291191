#!/usr/bin/env bash
# Shows `ringmaster diff` on the bundled example: copies examples/shop into a throw-away git
# repo, commits it, makes a typical change (more connections for every API host, a debug log
# level in eu-west, acme's tracing switched back on), and prints the effective-value diff.
#
#   examples/diff-demo.sh [--format human|json|markdown]
#
# examples/shop-diff.md is this script's markdown output, as a pull-request comment shows it.
set -euo pipefail
# shellcheck source=examples/demo-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/demo-lib.sh"
# The change under review.
sed -i 's/max_connections: 1024/max_connections: 2048/' "$WORK/config/role/api.yaml"
printf 'logging:\n  level: debug\n' >> "$WORK/config/region/eu-west.yaml"
sed -i 's/^  enabled: false/  enabled: true/' "$WORK/config/class/api-acme.yaml"
"$RM" --repo "$WORK" diff "$@"
