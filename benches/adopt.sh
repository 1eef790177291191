#!/usr/bin/env bash
# Benchmark imported repos (issue 15's targets):
#
#   benches/adopt.sh [--nodes N]
#
# Generates (benches/gen_adopt.py) a Hiera repo and an Ansible repo of N nodes (default
# 1 000), imports each (`ringmaster import hiera|ansible`), commits the manifest, then times
#   render --all          every class rendered           target: under 1 s
#   diff (one file)       one role's data file edited    target: under 100 ms
# with hyperfine, next to the real tools in the same run: `ansible-inventory --list` (every
# host's variables, the nearest peer of `render --all`) and one `puppet lookup` of one node
# (Puppet has no "every node" command; N of them take N times that).
#
# Each answer is checked before it is timed: `render --all` prints N classes, and the diff
# names exactly the classes of the edited role. A wrong answer stops with exit 1.
#
# Environment: RINGMASTER_BIN (a prebuilt binary; otherwise cargo build --release --locked).
# Needs hyperfine, puppet and ansible-core (apt-get installs them when missing).
set -euo pipefail

log() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=benches/lib.sh
source "$SCRIPT_DIR/lib.sh"
NODES=1000
while (($#)); do
    case $1 in
        --nodes) NODES=${2:?--nodes needs a number}; shift ;;
        *) echo "adopt.sh: unknown argument: $1 (usage: adopt.sh [--nodes N])" >&2; exit 2 ;;
    esac
    shift
done
[[ $NODES =~ ^[1-9][0-9]*$ ]] || { echo "adopt.sh: --nodes takes a positive number" >&2; exit 2; }

as_root() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo -n "$@"; fi; }
missing=()
command -v hyperfine >/dev/null || missing+=(hyperfine)
command -v puppet >/dev/null || missing+=(puppet)
command -v ansible-inventory >/dev/null || missing+=(ansible-core)
if ((${#missing[@]})); then
    log "apt-get install ${missing[*]}"
    as_root apt-get update -qq >&2
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >&2
fi

RM=$(ringmaster_bin adopt.sh)

WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
export HOME=$WORK ANSIBLE_LOCAL_TEMP=$WORK/ansible-tmp
fail() { echo "adopt.sh: $*" >&2; exit 1; }

commit() { git -C "$1" add -A && git -C "$1" -c user.name=bench -c user.email=bench@example.com commit -qm "$2"; }

# $1 repo, $2 the file to edit, $3 the classes it reaches (a grep -c pattern over class names)
bench_repo() {
    local repo=$1 edit=$2 expect_changed=$3 peer=$4
    local classes
    classes=$("$RM" --repo "$repo" render --all | wc -l)
    [[ $classes == "$NODES" ]] || fail "render --all printed $classes classes, not $NODES"
    # A key no other layer sets: every class of the role changes, no other class does.
    printf 'bench_marker: 1\n' >>"$repo/$edit"
    local changed
    changed=$("$RM" --repo "$repo" diff --format json | python3 -c 'import json,sys; print(json.load(sys.stdin)["summary"]["classes_changed"])')
    [[ $changed == "$expect_changed" ]] || fail "diff after editing $edit changed $changed classes, not $expect_changed"
    log "$repo: render --all ($NODES classes), diff after editing $edit ($changed classes), $peer"
    hyperfine --style basic -N --warmup 2 --runs 20 --export-json "$repo.json" \
        -n "render --all" "$RM --repo $repo render --all" \
        -n "diff (one file)" "$RM --repo $repo diff --format json" \
        -n "$peer" "$5" >&2
    python3 - "$repo.json" <<'EOF'
import json, sys
for r in json.load(open(sys.argv[1]))["results"]:
    print(f"  {r['command']:<32} median {r['median'] * 1000:9.1f} ms")
EOF
}

log "generating a Hiera repo and an Ansible repo of $NODES nodes"
python3 "$SCRIPT_DIR/gen_adopt.py" hiera "$WORK/hiera" --nodes "$NODES"
python3 "$SCRIPT_DIR/gen_adopt.py" ansible "$WORK/ansible" --nodes "$NODES"
(cd "$WORK/hiera" && "$RM" import hiera --nodes nodes.yaml >/dev/null) && commit "$WORK/hiera" import
(cd "$WORK/ansible" && "$RM" import ansible --inventory inventory/hosts.ini >/dev/null) && commit "$WORK/ansible" import

# One node's facts, for puppet lookup.
printf 'role: role03\ndc: us_east\nos:\n  family: RedHat\n' >"$WORK/facts.yaml"
echo "Hiera ($NODES nodes)"
bench_repo "$WORK/hiera" data/role/role03.yaml $(((NODES + 11 - 3) / 12)) "puppet lookup (1 node)" \
    "puppet lookup --hiera_config $WORK/hiera/hiera.yaml --node node00003.example.com --facts $WORK/facts.yaml --confdir $WORK/pc --vardir $WORK/pv --codedir $WORK/pd profile::app::settings"
echo "Ansible ($NODES hosts)"
bench_repo "$WORK/ansible" inventory/group_vars/role03.yml $(((NODES + 11 - 3) / 12)) "ansible-inventory --list" \
    "ansible-inventory -i $WORK/ansible/inventory/hosts.ini --list"
