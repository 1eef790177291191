#!/usr/bin/env python3
"""Generate a Hiera or an Ansible repo of N nodes for the import benchmark.

    gen_adopt.py hiera OUT_DIR --nodes N [--seed S]
    gen_adopt.py ansible OUT_DIR --nodes N [--seed S]

hiera: ``hiera.yaml`` (Hiera 5) with five levels, most specific first:
``nodes/%{trusted.certname}.yaml``, ``role/%{facts.role}.yaml``,
``dc/%{facts.dc}.yaml``, ``os/%{facts.os.family}.yaml``, ``common.yaml``;
``data/`` with ``lookup_options`` (a deep merge, a unique merge, a regex key),
about 60 keys in common, overrides per role (12), datacenter (6), OS family (2)
and one node file per tenth node; interpolation of facts and of a lookup.
``nodes.yaml`` maps each node to its facts (role, dc, os.family).

ansible: ``inventory/hosts.ini`` with N hosts in 12 role groups, 6
datacenter groups, parent groups (``web`` of the web-ish roles, ``eu``/``us`` of
the datacenters, ``prod`` of both) three levels deep, inventory vars on
groups and hosts, ``group_vars/`` (files, a directory, an extensionless file),
and ``host_vars/`` for every tenth host.

The output directory becomes a git repository with one commit (fixed author
and dates) so that ``diff`` can compare the working tree with it.
Python 3.8+, standard library only. Deterministic given the arguments.
"""

from __future__ import annotations

import argparse
import os
import random
import subprocess

ROLES = [f"role{i:02d}" for i in range(12)]
DCS = ["eu_west", "eu_central", "eu_north", "us_east", "us_west", "us_central"]
OSES = ["Debian", "RedHat"]


def write(path: str, text: str) -> None:
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


def common_keys(rng: random.Random) -> str:
    lines = []
    for i in range(40):
        lines.append(f"profile::base::setting{i:02d}: {rng.randint(1, 1000)}")
    for i in range(10):
        lines.append(f"profile::app::name{i:02d}: \"app-{i}-%{{facts.role}}\"")
    lines.append("profile::ntp::servers: [ntp1.example.com, ntp2.example.com]")
    lines.append("profile::app::settings:\n  workers: 4\n  timeout: 30\n  tls:\n    enabled: true\n    protocols: [TLSv1.2, TLSv1.3]")
    lines.append("profile::app::motd: \"%{facts.role} in %{facts.dc} (%{lookup('profile::base::setting00')})\"")
    for i in range(8):
        lines.append(f"profile::db::pool{i}::settings:\n  size: {rng.randint(1, 50)}\n  idle: {rng.randint(1, 9)}")
    return "\n".join(lines) + "\n"


def hiera(out: str, nodes: int, rng: random.Random) -> None:
    write(
        f"{out}/hiera.yaml",
        """---
version: 5
defaults:
  datadir: data
  data_hash: yaml_data
hierarchy:
  - name: "Per node"
    path: "nodes/%{trusted.certname}.yaml"
  - name: "Per role"
    path: "role/%{facts.role}.yaml"
  - name: "Per datacenter"
    path: "dc/%{facts.dc}.yaml"
  - name: "Per OS family"
    path: "os/%{facts.os.family}.yaml"
  - name: "Common"
    path: "common.yaml"
""",
    )
    write(
        f"{out}/data/common.yaml",
        """---
lookup_options:
  profile::app::settings:
    merge: deep
  profile::ntp::servers:
    merge: unique
  "^profile::db::.*::settings$":
    merge: hash
"""
        + common_keys(rng),
    )
    for role in ROLES:
        write(
            f"{out}/data/role/{role}.yaml",
            f"profile::base::setting{rng.randint(0, 39):02d}: {rng.randint(1, 1000)}\n"
            f"profile::app::settings:\n  workers: {rng.randint(2, 32)}\n"
            f"profile::ntp::servers: [ntp-{role}.example.com]\n"
            f"profile::db::pool{rng.randint(0, 7)}::settings:\n  size: {rng.randint(50, 99)}\n",
        )
    for dc in DCS:
        write(
            f"{out}/data/dc/{dc}.yaml",
            f"profile::base::setting{rng.randint(0, 39):02d}: {rng.randint(1, 1000)}\n"
            f"profile::app::settings:\n  tls:\n    protocols: [TLSv1.3]\n"
            f"profile::ntp::servers: [ntp.{dc}.example.com, ntp1.example.com]\n",
        )
    for family in OSES:
        write(
            f"{out}/data/os/{family}.yaml",
            f"profile::base::package_manager: {'apt' if family == 'Debian' else 'dnf'}\n",
        )
    lines = []
    for n in range(nodes):
        name = f"node{n:05d}.example.com"
        role, dc, family = ROLES[n % len(ROLES)], DCS[n % len(DCS)], OSES[n % len(OSES)]
        lines.append(f"{name}:\n  role: {role}\n  dc: {dc}\n  os:\n    family: {family}")
        if n % 10 == 0:
            write(
                f"{out}/data/nodes/{name}.yaml",
                f"profile::base::setting{rng.randint(0, 39):02d}: {rng.randint(1, 1000)}\n",
            )
    write(f"{out}/nodes.yaml", "\n".join(lines) + "\n")


def ansible(out: str, nodes: int, rng: random.Random) -> None:
    ini = []
    by_role: dict[str, list[str]] = {r: [] for r in ROLES}
    by_dc: dict[str, list[str]] = {d: [] for d in DCS}
    for n in range(nodes):
        host = f"host{n:05d}"
        by_role[ROLES[n % len(ROLES)]].append(host)
        by_dc[DCS[(n // 3) % len(DCS)]].append(host)
    for role, hosts in by_role.items():
        ini.append(f"[{role}]")
        for i, host in enumerate(hosts):
            extra = f" http_port={8000 + i % 50}" if i % 7 == 0 else ""
            ini.append(f"{host} ansible_host=10.{i // 250}.{i % 250}.{ROLES.index(role)}{extra}")
        ini.append("")
        ini.append(f"[{role}:vars]")
        ini.append(f"role_name={role}")
        ini.append(f"max_conn={rng.randint(10, 500)}")
        ini.append("")
    for dc, hosts in by_dc.items():
        ini.append(f"[{dc}]")
        ini.extend(hosts)
        ini.append("")
    ini.append("[web:children]")
    ini.extend(ROLES[:6])
    ini.append("")
    ini.append("[eu:children]")
    ini.extend(d for d in DCS if d.startswith("eu"))
    ini.append("")
    ini.append("[us:children]")
    ini.extend(d for d in DCS if d.startswith("us"))
    ini.append("")
    ini.append("[prod:children]")
    ini.append("eu")
    ini.append("us")
    ini.append("")
    ini.append("[prod:vars]")
    ini.append("env=production")
    ini.append("")
    write(f"{out}/inventory/hosts.ini", "\n".join(ini))
    settings = "\n".join(f"setting{i:02d}: {rng.randint(1, 1000)}" for i in range(40))
    write(
        f"{out}/inventory/group_vars/all.yml",
        "---\nntp_servers: [ntp1.example.com, ntp2.example.com]\n"
        "app:\n  workers: 4\n  timeout: 30\n" + settings + "\n",
    )
    for role in ROLES:
        write(
            f"{out}/inventory/group_vars/{role}.yml",
            f"setting{rng.randint(0, 39):02d}: {rng.randint(1, 1000)}\napp:\n  workers: {rng.randint(2, 32)}\n",
        )
    for dc in DCS:
        write(
            f"{out}/inventory/group_vars/{dc}/main.yml",
            f"ntp_servers: [ntp.{dc}.example.com]\n",
        )
        write(f"{out}/inventory/group_vars/{dc}/tuning.yml", f"sysctl_swappiness: {rng.randint(0, 60)}\n")
    write(f"{out}/inventory/group_vars/web", "nginx_workers: auto\n")
    write(f"{out}/inventory/group_vars/prod.yaml", "monitoring: true\nlog_level: warn\n")
    for n in range(0, nodes, 10):
        write(
            f"{out}/inventory/host_vars/host{n:05d}.yml",
            f"setting{rng.randint(0, 39):02d}: {rng.randint(1, 1000)}\n",
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("tool", choices=["hiera", "ansible"])
    parser.add_argument("out")
    parser.add_argument("--nodes", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    os.makedirs(args.out, exist_ok=True)
    (hiera if args.tool == "hiera" else ansible)(args.out, args.nodes, rng)
    env = dict(
        os.environ,
        GIT_AUTHOR_NAME="bench",
        GIT_AUTHOR_EMAIL="bench@example.com",
        GIT_COMMITTER_NAME="bench",
        GIT_COMMITTER_EMAIL="bench@example.com",
        GIT_AUTHOR_DATE="2026-01-01T00:00:00Z",
        GIT_COMMITTER_DATE="2026-01-01T00:00:00Z",
    )
    subprocess.run(["git", "init", "-q", args.out], check=True, env=env)
    subprocess.run(["git", "-C", args.out, "add", "-A"], check=True, env=env)
    subprocess.run(
        ["git", "-C", args.out, "commit", "-q", "-m", f"{args.tool}: {args.nodes} nodes"],
        check=True,
        env=env,
    )


if __name__ == "__main__":
    main()
