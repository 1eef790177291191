#!/usr/bin/env bash
# The whole test suite, from a fresh machine: installs what the tests need
# (Debian packages via apt-get), then runs formatting, lints and every test.
# Tests that need a real component fail, never skip, when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1; }
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
apt_updated=""
apt_install() {
  if [ -z "$apt_updated" ]; then
    $SUDO apt-get update -qq
    apt_updated=1
  fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" </dev/null
}

# The integration tests drive the real git binary to build fixture repos,
# the lock test holds the lock from another process with flock(1), and the
# bench scripts are syntax-checked with python3.
need git || apt_install git
need flock || apt_install util-linux
need python3 || apt_install python3
# The HTML report test loads the page in headless Chromium; the man page test
# renders it with groff; the pre-commit test installs pre-commit from PyPI into
# a virtualenv.
need chromium || apt_install chromium
need groff || apt_install groff-base
python3 -c 'import venv, ensurepip' 2>/dev/null || apt_install python3-venv
# The GitHub action's step scripts are run (they use jq) and shellchecked.
need jq || apt_install jq
# The hostile-input tests measure a child's peak memory with GNU time.
[ -x /usr/bin/time ] || apt_install time
need shellcheck || apt_install shellcheck
# Shared mode's tests start a real etcd, use etcdctl, and make TLS certificates
# with openssl (tests/it/etcd.rs).
need etcd || apt_install etcd-server
need etcdctl || apt_install etcd-client
need openssl || apt_install openssl
# The gate tests run a real Prometheus (the package ships promtool too).
need prometheus || apt_install prometheus
# Deploy markers are pushed to a real Pushgateway, scraped by that Prometheus.
need prometheus-pushgateway || apt_install prometheus-pushgateway
# The importers are compared with the real tools (tests/it/import_*.rs):
# Hiera through `puppet apply`, Ansible through `ansible-inventory --host`.
need puppet || apt_install puppet
# eyaml levels: Puppet fails every lookup on one without the hiera-eyaml backend.
[ -e /usr/bin/eyaml ] || apt_install hiera-eyaml
need ansible-inventory || apt_install ansible-core

echo "== scripts parse"
for script in benches/*.sh examples/*.sh scripts/*.sh .ci/run; do bash -n "$script"; done
python3 -m py_compile benches/*.py packaging/*.py

echo "== cargo fmt"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --locked --all-targets -- -D warnings
# `cargo install --locked ringmaster` keeps working beside the Python packaging: a
# clean clone of the committed tree installs with cargo. Dev profile, and this target
# directory as cargo's build directory (intermediate artifacts only: the binary the
# tests run is not replaced), so only the ringmaster crate itself is compiled again.
echo "== cargo install from a clean clone"
clone=$(mktemp -d)
trap 'rm -rf "$clone"' EXIT
git clone --quiet . "$clone/ringmaster"
CARGO_BUILD_BUILD_DIR="$PWD/target" cargo install --quiet --locked --debug \
  --path "$clone/ringmaster" --root "$clone/root"
"$clone/root/bin/ringmaster" --version
# The wheel tests (tests/it/wheel.rs) install the PyPI wheel with pip and pre-commit.
# Built here, once, with maturin (from PyPI, into a virtualenv in target/) and the
# dev profile, so no compile runs beside the timed tests (run alone, they build it).
echo "== wheel"
./scripts/build-wheel.sh --dev -o target/test-wheels
echo "== cargo test"
RINGMASTER_TEST_WHEELS=target/test-wheels cargo test --locked --all-targets
