# Shared by the demo scripts (sourced, not run): builds or finds ringmaster, copies
# examples/shop into a throw-away git repo ($WORK, removed on exit) and commits it.
#   RINGMASTER_BIN   a prebuilt binary; otherwise `cargo build --release --locked`.
HERE=$(cd "$(dirname "${BASH_SOURCE[1]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
RM=${RINGMASTER_BIN:-}
if [[ -z $RM ]]; then
    (cd "$ROOT" && cargo build --release --locked -q)
    RM=$ROOT/target/release/ringmaster
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ringmaster-demo.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
cp -R "$HERE/shop/." "$WORK/"
git() { command git -C "$WORK" -c user.name=dev -c user.email=dev@shop.example -c commit.gpgsign=false "$@"; }
git init -q
git add -A
git commit -qm "shop config"
