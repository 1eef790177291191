# shellcheck shell=bash
# Sourced by the benchmark scripts: what they all need the same way.

# ringmaster_bin SCRIPT: prints the path of the ringmaster binary to time. RINGMASTER_BIN when
# set (made absolute; it must be executable, or SCRIPT says so and this returns 2), otherwise a
# release build of this checkout (`cargo build --release --locked`, in CARGO_TARGET_DIR when set).
ringmaster_bin() {
    local script=$1 root bin
    if [[ -n ${RINGMASTER_BIN:-} ]]; then
        bin=$(command -v "$RINGMASTER_BIN" || true)
        if [[ -z $bin || ! -x $bin ]]; then
            echo "$script: RINGMASTER_BIN=$RINGMASTER_BIN is not executable" >&2
            return 2
        fi
        bin=$(cd "$(dirname "$bin")" && pwd)/$(basename "$bin")
        printf '\033[1m==>\033[0m using RINGMASTER_BIN=%s\n' "$bin" >&2
    else
        root=$(git -C "$(dirname "${BASH_SOURCE[0]}")" rev-parse --show-toplevel)
        printf '\033[1m==>\033[0m cargo build --release --locked\n' >&2
        (cd "$root" && cargo build --release --locked >&2) || return 1
        bin=${CARGO_TARGET_DIR:-$root/target}/release/ringmaster
    fi
    printf '%s\n' "$bin"
}
