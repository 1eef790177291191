#!/usr/bin/env bash
# Regenerates docs/rollout-report.html and docs/rollout-report.png: the HTML
# timeline of the rollout demo's halted rollout (examples/rollout-demo.sh),
# screenshotted in headless Chromium (Debian: apt-get install chromium).
#   scripts/report-screenshot.sh            # builds ringmaster (debug) first
#   RINGMASTER_BIN=path scripts/report-screenshot.sh
set -euo pipefail
cd "$(dirname "$0")/.."
if [[ -z ${RINGMASTER_BIN:-} ]]; then
    cargo build --locked -q
    export RINGMASTER_BIN=$PWD/target/debug/ringmaster
fi
CHROMIUM=$(command -v chromium || command -v chromium-browser || command -v google-chrome || true)
if [[ -z $CHROMIUM ]]; then
    echo "error: no chromium on PATH (Debian: apt-get install chromium)" >&2
    exit 2
fi
PROFILE=$(mktemp -d "${TMPDIR:-/tmp}/ringmaster-chromium.XXXXXX")
trap 'rm -rf "$PROFILE"' EXIT
RINGMASTER_DEMO_HTML=$PWD/docs/rollout-report.html examples/rollout-demo.sh --timeline-only >/dev/null
# The flags keep headless Chromium off the network (no updates, no sync, no
# QUIC probes) and let it run as root in a container.
"$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$PROFILE" --window-size=1280,1600 \
    --screenshot="$PWD/docs/rollout-report.png" "file://$PWD/docs/rollout-report.html" 2>/dev/null
echo "wrote docs/rollout-report.html and docs/rollout-report.png"
