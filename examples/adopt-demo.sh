#!/usr/bin/env bash
# "Adopting an existing repo" (README), run on the bundled fixtures: a Hiera repo, an Ansible
# inventory and a Helm chart, each copied into a throw-away git repo, imported, checked,
# rendered and compared with the real tool when it is installed (puppet, ansible-inventory),
# then changed the way a pull request would and diffed.
#
#   examples/adopt-demo.sh [hiera|ansible|helm]...   (default: all three)
#
# Environment: RINGMASTER_BIN (a prebuilt binary; otherwise cargo build --release --locked).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/.." && pwd)
FIXTURES=$ROOT/tests/data/import
RM=${RINGMASTER_BIN:-}
if [[ -z $RM ]]; then
    (cd "$ROOT" && cargo build --release --locked -q)
    RM=$ROOT/target/release/ringmaster
fi
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ringmaster-adopt.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
say() { printf '\n\033[1m$ %s\033[0m\n' "$*"; }
run() { say "$*"; "$@"; }
repo() {
    mkdir -p "$WORK/$1"
    cp -R "$2/." "$WORK/$1/"
    cd "$WORK/$1"
    git init -q
}
commit() { git add -A && git -c user.name=dev -c user.email=dev@example.com -c commit.gpgsign=false commit -qm "$1"; }
# Compares two JSON documents key by key; prints the keys that differ.
same_json() {
    python3 - "$1" "$2" <<'EOF'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
bad = [k for k in sorted(set(a) | set(b)) if a.get(k, "<absent>") != b.get(k, "<absent>")]
for k in bad:
    print(f"  {k}: real tool {json.dumps(a.get(k, '<absent>'))}, ringmaster {json.dumps(b.get(k, '<absent>'))}")
print(f"  {len(set(a) | set(b))} keys, {len(bad)} differ")
sys.exit(1 if bad else 0)
EOF
}

hiera() {
    repo hiera "$FIXTURES/hiera/full"
    commit "Hiera data"
    run "$RM" import hiera --nodes nodes.yaml
    run "$RM" check
    run "$RM" render --class db01 --format json
    if command -v puppet >/dev/null; then
        say "puppet apply: lookup() of every key of db01, against ringmaster's render"
        local keys
        keys=$("$RM" render --class db01 --format json | python3 -c 'import json,sys; print(json.dumps(sorted(json.load(sys.stdin))))')
        mkdir -p "$WORK/puppet/vd/facts.d"
        printf '{"role": "db", "os": {"family": "Debian", "release": {"major": "12"}}}\n' >"$WORK/puppet/vd/facts.d/node.json"
        puppet apply --certname db01 --hiera_config "$PWD/hiera.yaml" --vardir "$WORK/puppet/vd" \
            --confdir "$WORK/puppet/cd" --codedir "$WORK/puppet/code" -e "notice(inline_template('RINGMASTER<%= require \"json\"; JSON.generate($keys.map{|k| [k, scope.call_function(\"lookup\", [k])]}.to_h) %>'))" 2>/dev/null |
            sed -n 's/.*RINGMASTER\(.*\)\x1b\[0m$/\1/p; s/.*RINGMASTER\(.*\)$/\1/p' | head -1 >"$WORK/puppet.json"
        "$RM" render --class db01 --format json >"$WORK/ringmaster.json"
        same_json "$WORK/puppet.json" "$WORK/ringmaster.json"
    fi
    say "a pull request: a new level in hiera.yaml"
    commit "adopt ringmaster"
    sed -i 's|^hierarchy:|hierarchy:\n  - name: "Per datacenter (new)"\n    path: "dc/%{facts.dc}-override.yaml"|' hiera.yaml
    mkdir -p data/dc && printf 'ntp::servers: [ntp.west.example.com]\n' >data/dc/west-override.yaml
    run "$RM" diff
}

ansible() {
    repo ansible "$FIXTURES/ansible/nested"
    commit "Ansible inventory"
    run "$RM" import ansible --inventory inventory/hosts.ini
    run "$RM" check
    run "$RM" render --class web01 --provenance
    if command -v ansible-inventory >/dev/null; then
        say "ansible-inventory --host web01, against ringmaster's render"
        HOME=$WORK ANSIBLE_LOCAL_TEMP=$WORK/ansible-tmp ansible-inventory -i inventory/hosts.ini --host web01 2>/dev/null >"$WORK/ansible.json"
        "$RM" render --class web01 --format json >"$WORK/ringmaster.json"
        same_json "$WORK/ansible.json" "$WORK/ringmaster.json"
    fi
    say "a pull request: web01 moves from [web] to [db] in the inventory"
    commit "adopt ringmaster"
    python3 - <<'EOF'
import re
p = "inventory/hosts.ini"
s = open(p).read()
s = re.sub(r"^web01\b.*\n", "", s, count=1, flags=re.M)
s = s.replace("[db]\n", "[db]\nweb01\n", 1)
open(p, "w").write(s)
EOF
    run "$RM" diff --class web01
}

helm() {
    repo helm "$FIXTURES/helm"
    commit "web chart"
    run "$RM" import helm --chart web --values envs/common.yaml --class prod=envs/prod.yaml --class staging
    run "$RM" check
    run "$RM" render --class prod --format json
    say "a pull request: staging gets three replicas"
    commit "adopt ringmaster"
    printf 'replicaCount: 3\n' >>envs/common.yaml
    run "$RM" diff
}

for tool in "${@:-hiera ansible helm}"; do
    for t in $tool; do
        case $t in
            hiera | ansible | helm) "$t" ;;
            *) echo "adopt-demo.sh: unknown tool: $t (hiera, ansible or helm)" >&2; exit 2 ;;
        esac
    done
done
