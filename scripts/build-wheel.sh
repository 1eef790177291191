#!/usr/bin/env bash
# Builds the `ringmaster-cli` wheel for this platform: the ringmaster binary in a
# py3-none-<platform> wheel (maturin `bindings = "bin"`, packaging/ringmaster/
# pyproject.toml), versioned from Cargo.toml, into target/wheels/ (or -o DIR).
#
#   scripts/build-wheel.sh              release build, tagged with the oldest manylinux
#                                       policy this machine's glibc allows (maturin picks
#                                       it: manylinux_2_34 on Debian 12)
#   scripts/build-wheel.sh --dev        dev profile: reuses target/debug (the tests)
#
# The published Linux wheels are manylinux_2_28: .github/workflows/release.yml builds
# them in the manylinux_2_28 container (maturin-action).
#
# maturin comes from PyPI into a virtualenv in the cargo target directory unless
# one is on PATH.
# maturin checks the wheel against the manylinux policy (`--auditwheel check`:
# nothing is bundled): libgit2 is vendored and TLS is rustls, so the binary links
# only libc, libm, libgcc_s and libz, all in the policy.
set -euo pipefail
cd "$(dirname "$0")/.."

profile=(--release)
out=target/wheels
while [ $# -gt 0 ]; do
  case "$1" in
    --dev) profile=(--profile dev) ;;
    -o) out=$2; shift ;;
    *) echo "usage: $0 [--dev] [-o DIR]" >&2; exit 2 ;;
  esac
  shift
done

maturin_spec="maturin>=1.7,<2"
if command -v maturin >/dev/null 2>&1; then
  maturin=(maturin)
else
  target_dir=${CARGO_TARGET_DIR:-target}
  mkdir -p "$target_dir"
  venv=$(cd "$target_dir" && pwd)/maturin-venv
  if [ ! -x "$venv/bin/maturin" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$maturin_spec"
  fi
  maturin=("$venv/bin/maturin")
fi

mkdir -p "$out"
# One wheel per version and platform in $out: drop the previous build's.
version=$(sed -n '/^\[package\]/,/^\[/s/^version = "\(.*\)"$/\1/p' Cargo.toml)
rm -f "$out"/ringmaster_cli-"$version"-*.whl
out=$(cd "$out" && pwd)
(cd packaging/ringmaster && "${maturin[@]}" build --locked "${profile[@]}" \
  --auditwheel check --out "$out")
ls "$out"/ringmaster_cli-"$version"-*.whl
