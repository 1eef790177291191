#!/usr/bin/env python3
"""Generate a synthetic source tree for the `flags stale --code` benchmark.

    gen_code.py OUT_DIR [--files N] [--flags F] [--seed S] [--vendor-files V]
                [--undefined U] [--repo DIR] [--expect FILE] [--git]

Writes N source files (default 100 000) of 1-4 KB each, in five languages (.rs, .go, .py,
.ts, .java), under ``OUT_DIR/pkg-XX/mod-Y/part-Z/`` (100 files per leaf directory). The
defined flags are ``flag-0001`` … ``flag-F`` (default 500), split three ways:

* about 70 %, **referenced**: each named in a few files through the default reference
  pattern's call forms (``flag("…")``, ``is_enabled('…')``, ``isEnabled("…")``,
  ``feature_enabled("…")``, ``variation("…", ctx, false)``, ``Flags.get("…")``), and a
  few times in a comment;
* about 10 %, **vendor-only**: named only under ``OUT_DIR/vendor/`` (V files, default 1 000),
  which the tree's ``.gitignore`` ignores. A scanner that reads ignored files reports these as
  referenced: the benchmark's check that ignore rules are honoured;
* the rest, **unreferenced**: named nowhere as a whole word, but present as near misses
  (``flag-0042-v2``, ``flag-0042_old``, ``preflag-0042`` in comments), so that a scanner
  without word boundaries reports them as referenced.

U names (default 20, ``undefined-001`` …) are read through the call forms but defined by no
flag file. About a third of all files mention the word "flag" in ordinary code
(``flag_count``, "feature flag"), as real code does, so a reference regex cannot skip
files cheaply.

``--repo DIR`` also writes a ringmaster config repo there (a git repository with one commit):
a manifest with three host classes and rings, and ``flags/flag-XXXX.yaml`` for every
defined flag (a few expired, a few uniform). ``--expect FILE`` writes the names of each group
as JSON, to check a scanner's answer against. ``--git`` makes OUT_DIR a git repository with
one commit of the files .gitignore leaves (for ``git grep``).

Python 3.8+, standard library only. Deterministic given the arguments (commit ids too).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
from pathlib import Path

EXTS = [".rs", ".go", ".py", ".ts", ".java"]

WORDS = ["order", "user", "cart", "invoice", "event", "session", "token", "report", "image",
         "price", "stock", "email", "webhook", "audit", "ledger", "quote", "tenant", "region",
         "payment", "refund", "search", "index", "cache", "queue", "retry", "batch", "limit",
         "config", "metric", "client", "server", "request", "response", "handler", "state"]
VERBS = ["load", "store", "fetch", "update", "render", "parse", "validate", "compute", "build",
         "send", "apply", "merge", "resolve", "check", "encode", "decode", "flush", "close"]

# Per language: (comment prefix, call forms with {n} for the flag name, filler line templates).
# Filler templates use {v} (verb), {w} / {x} (words), {i} (a number).
LANGS = {
    ".rs": ("//", ['flag("{n}")', 'feature_enabled("{n}")', "flags.is_enabled('{n}')"], [
        "fn {v}_{w}(ctx: &Context, {x}: &{W}) -> Result<{W}, Error> {{",
        "    let {w}_{x} = ctx.{v}(&{x}).await?;",
        "    if {w}_{x}.len() > {i} {{ return Err(Error::Limit({i})); }}",
        "    for item in {x}.items.iter().filter(|i| i.{w}_id != 0) {{",
        "        total += item.{w}_{i} as u64;",
        "    }}",
        "    Ok({W}::new({w}_{x}, {i}))",
        "}}",
        "#[derive(Debug, Clone, PartialEq)]",
        "pub struct {W}{X} {{ pub {w}: String, pub {x}_count: u32 }}",
        "    let flag_{w} = matches!({x}.kind, Kind::{W});",
        "use crate::{w}::{{{W}, {X}Store}};",
    ]),
    ".go": ("//", ['client.variation("{n}", ctx, false)', 'flags.isEnabled("{n}")'], [
        "func ({w} *{W}) {V}{X}(ctx context.Context, {x} *{X}) (*{W}, error) {{",
        "\t{w}{i}, err := {w}.store.{V}(ctx, {x}.ID)",
        "\tif err != nil {{ return nil, fmt.Errorf(\"{v} {x}: %w\", err) }}",
        "\tfor _, item := range {x}.Items {{ total += item.{W}{i} }}",
        "\treturn &{W}{{ID: {x}.ID, Count: {i}}}, nil",
        "}}",
        "type {W}{X} struct {{ {W} string `json:\"{w}\"`; Count int }}",
        "\tflagSet := map[string]bool{{\"{w}\": true}}",
        "var err{W}{X} = errors.New(\"{w}: {x} not found\")",
    ]),
    ".py": ("#", ["is_enabled('{n}')", 'feature_enabled("{n}")', 'flag("{n}")'], [
        "def {v}_{w}(self, {x}, limit={i}):",
        "    {w}_{x} = self.{x}_store.{v}({x}.id)",
        "    if len({w}_{x}) > limit:",
        "        raise {W}Error(f\"{v}: too many {x} ({{len({w}_{x})}})\")",
        "    return [{W}(item) for item in {w}_{x} if item.{x}_id]",
        "class {W}{X}(Base{W}):",
        "    flag_{w} = {i}",
        "from .{w} import {W}, {X}Store",
    ]),
    ".ts": ("//", ['isEnabled("{n}")', 'Flags.get("{n}")', "flags.isEnabled('{n}')"], [
        "export async function {v}{W}(ctx: Context, {x}: {X}): Promise<{W}> {{",
        "  const {w}{i} = await ctx.{x}Store.{v}({x}.id);",
        "  if ({w}{i}.length > {i}) throw new {W}Error(`{v}: ${{{x}.id}}`);",
        "  return {w}{i}.filter((item) => item.{x}Id !== 0).map(to{W});",
        "}}",
        "export interface {W}{X} {{ {w}: string; {x}Count: number; }}",
        "  const flagged{W} = {x}.tags.includes(\"{w}\");",
        "import {{ {W}, {X}Store }} from \"./{w}\";",
    ]),
    ".java": ("//", ['Flags.get("{n}")', 'client.isEnabled("{n}")',
                     'featureClient.variation("{n}", user, false)'], [
        "    public {W} {v}{X}(Context ctx, {X} {x}) throws {W}Exception {{",
        "        List<{W}> {w}{i} = this.{x}Store.{v}({x}.getId());",
        "        if ({w}{i}.size() > {i}) {{ throw new {W}Exception(\"{v} {x}\"); }}",
        "        return {w}{i}.stream().filter(i -> i.get{X}Id() != 0).findFirst().orElseThrow();",
        "    }}",
        "public final class {W}{X} implements {W}Source {{",
        "    private final boolean flag{W} = {i} > 0;",
        "import com.example.{w}.{W}{X};",
    ]),
}

HEADERS = {".rs": "use std::collections::HashMap;", ".go": "package service",
           ".py": "import logging", ".ts": 'import { Context } from "../context";',
           ".java": "package com.example.service;"}


def filler_pool(rng: random.Random, ext: str, size: int = 400) -> list:
    """Lines of plausible code for one language, to assemble files from quickly."""
    comment, _, templates = LANGS[ext]
    pool = []
    for _ in range(size):
        w, x = rng.sample(WORDS, 2)
        v = rng.choice(VERBS)
        t = rng.choice(templates)
        pool.append(t.format(w=w, x=x, v=v, i=rng.randint(1, 999), W=w.capitalize(),
                             X=x.capitalize(), V=v.capitalize()))
    for _ in range(size // 8):
        w, x = rng.sample(WORDS, 2)
        pool.append(f"{comment} {rng.choice(VERBS)} the {w} before the {x} is {rng.choice(VERBS)}d")
    return pool


def flag_name(i: int) -> str:
    return f"flag-{i:04d}"


def make_file(rng: random.Random, ext: str, pool: list, refs: list, comments: list) -> str:
    """A file of 1-4 KB whose lines come from `pool`, with `refs` (call expressions) and
    `comments` (comment texts) inserted at random lines."""
    comment_prefix = LANGS[ext][0]
    target = rng.randint(1024, 4096)
    lines = [HEADERS[ext]]
    size = len(lines[0]) + 1
    while size < target:
        line = rng.choice(pool)
        lines.append(line)
        size += len(line) + 1
    indent = "        " if ext == ".java" else ("\t" if ext == ".go" else "    ")
    for call in refs:
        at = rng.randrange(1, len(lines) + 1)
        if ext == ".py":
            stmt = f"{indent}if {call}:"
        elif ext == ".go":
            stmt = f"{indent}if {call} {{ enabled++ }}"
        else:
            stmt = f"{indent}if ({call}) {{ enabled += 1; }}"
        lines.insert(at, stmt)
    for text in comments:
        lines.insert(rng.randrange(1, len(lines) + 1), f"{comment_prefix} {text}")
    return "\n".join(lines) + "\n"


def write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)


def git(cwd: Path, *args: str, date: str | None = None) -> None:
    env = dict(os.environ)
    env.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "TZ": "UTC"})
    if date:
        env.update({"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date})
    # No automatic gc or maintenance: with 100 000 loose objects it would start in the
    # background, and run during the benchmark.
    cmd = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid",
           "-c", "commit.gpgsign=false", "-c", "core.autocrlf=false", "-c", "gc.auto=0",
           "-c", "maintenance.auto=false", *args]
    subprocess.run(cmd, cwd=cwd, env=env, check=True, stdout=subprocess.DEVNULL)


def commit_all(cwd: Path, message: str, date: str) -> None:
    git(cwd, "init", "-q", "-b", "main")
    git(cwd, "add", "-A")
    git(cwd, "commit", "-q", "--no-verify", "-m", message, date=date)


def split_flags(rng: random.Random, n: int) -> tuple:
    names = [flag_name(i) for i in range(1, n + 1)]
    order = names[:]
    rng.shuffle(order)
    n_ref = round(n * 0.7)
    n_vendor = round(n * 0.1)
    referenced = sorted(order[:n_ref])
    vendor_only = sorted(order[n_ref:n_ref + n_vendor])
    unreferenced = sorted(order[n_ref + n_vendor:])
    return names, referenced, vendor_only, unreferenced


def gen_code(out: Path, args, rng: random.Random, groups: tuple) -> dict:
    names, referenced, vendor_only, unreferenced = groups
    undefined = [f"undefined-{i:03d}" for i in range(1, args.undefined + 1)]
    pools = {ext: filler_pool(rng, ext) for ext in EXTS}

    # Which file gets which reference: every referenced flag in 1-6 files, every undefined
    # name in 1-3, every unreferenced flag as a near miss in 1-2 (comments only, so the
    # near misses are not flag calls and do not show up as undefined either).
    n = args.files
    calls = {}
    notes = {}
    for name in referenced:
        for i in rng.sample(range(n), min(n, rng.randint(1, 6))):
            calls.setdefault(i, []).append(name)
        if rng.random() < 0.2:
            notes.setdefault(rng.randrange(n), []).append(f"TODO: remove {name} after the launch")
    for name in undefined:
        for i in rng.sample(range(n), min(n, rng.randint(1, 3))):
            calls.setdefault(i, []).append(name)
    for name in unreferenced:
        for _ in range(rng.randint(1, 2)):
            near = rng.choice([f"{name}-v2", f"{name}_old", f"pre{name}", f"{name}.legacy"])
            notes.setdefault(rng.randrange(n), []).append(f"replaced {near} last quarter")

    for i in range(n):
        ext = EXTS[i % len(EXTS)]
        forms = LANGS[ext][1]
        refs = [rng.choice(forms).format(n=name) for name in calls.get(i, [])]
        text = make_file(rng, ext, pools[ext], refs, notes.get(i, []))
        rel = f"pkg-{i // 10000:02d}/mod-{i // 1000 % 10}/part-{i // 100 % 10}/file{i:06d}{ext}"
        write(out / rel, text)

    # Ignored: vendor/ holds the only references to the vendor-only flags.
    write(out / ".gitignore", "# third-party code, not ours to clean up\nvendor/\n*.min.js\n")
    for j in range(args.vendor_files):
        ext = EXTS[j % len(EXTS)]
        forms = LANGS[ext][1]
        picks = rng.sample(vendor_only, min(len(vendor_only), 3)) if vendor_only else []
        refs = [rng.choice(forms).format(n=name) for name in picks]
        write(out / f"vendor/lib-{j // 100:02d}/v{j:05d}{ext}",
              make_file(rng, ext, pools[ext], refs, []))
    # Every vendor-only flag at least once.
    for k, name in enumerate(vendor_only):
        ext = EXTS[k % len(EXTS)]
        write(out / f"vendor/extra/x{k:05d}{ext}",
              make_file(rng, ext, pools[ext], [LANGS[ext][1][0].format(n=name)], []))

    return {"referenced": referenced, "vendor_only": vendor_only,
            "unreferenced": unreferenced, "undefined": sorted(undefined)}


MANIFEST = """\
# Generated by benches/gen_code.py: the config repo for the flags benchmark.
version: 1
hierarchy:
  - config/defaults.yaml
  - config/ring/{ring}.yaml
host_classes:
  api-dogfood: { role: api, region: us-east, ring: dogfood }
  api-acme: { role: api, region: eu-west, ring: single-tenant, tenant: acme }
  api-shared: { role: api, region: eu-west, ring: multi-tenant }
flags: flags/
rings: rings/
"""


def gen_repo(repo: Path, rng: random.Random, names: list) -> None:
    write(repo / "ringmaster.yaml", MANIFEST)
    write(repo / "config/defaults.yaml", "service:\n  name: bench\n  port: 8080\n")
    for order, ring in enumerate(["dogfood", "single-tenant", "multi-tenant"], start=1):
        write(repo / f"config/ring/{ring}.yaml", "service:\n  port: 8080\n")
        write(repo / f"rings/{ring}.yaml",
              f"name: {ring}\norder: {order}\nsoak: 10m\ninterval: 30s\n")
    teams = ["payments", "search", "identity", "platform", "growth", "checkout"]
    for name in names:
        roll = rng.random()
        # A few expired, a few the same everywhere (uniform), most on in dogfood only.
        expires = "2026-01-31" if roll < 0.05 else f"2027-{rng.randint(1, 12):02d}-28"
        lines = [f"name: {name}", f"owner: team-{rng.choice(teams)}",
                 f"description: Synthetic flag {name}", "type: bool", "default: false",
                 f'expires: "{expires}"']
        if roll >= 0.15:
            lines += ["rings:", "  dogfood: true"]
            if roll > 0.8:
                lines += ["tenants:", "  acme: true"]
        write(repo / f"flags/{name}.yaml", "\n".join(lines) + "\n")
    commit_all(repo, "bench config repo", "2026-06-01T00:00:00Z")


def main(argv: list | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Generate a synthetic source tree that references feature flags.")
    ap.add_argument("out_dir", type=Path, help="output directory (must not exist, or be empty)")
    ap.add_argument("--files", type=int, default=100_000, help="source files (default 100 000)")
    ap.add_argument("--flags", type=int, default=500, help="defined flags (default 500)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--vendor-files", type=int, default=1000,
                    help="files under the git-ignored vendor/ (default 1 000)")
    ap.add_argument("--undefined", type=int, default=20,
                    help="names read in code that no flag file defines (default 20)")
    ap.add_argument("--repo", type=Path, help="also write a ringmaster config repo here")
    ap.add_argument("--expect", type=Path, help="write the expected groups of names as JSON")
    ap.add_argument("--git", action="store_true",
                    help="make OUT_DIR a git repository with one commit")
    args = ap.parse_args(argv)
    if args.files < 1 or args.flags < 1 or args.flags > 9999 or args.vendor_files < 0 \
            or args.undefined < 0:
        ap.error("--files and --flags (at most 9999) must be positive; the others not negative")
    for d in [args.out_dir] + ([args.repo] if args.repo else []):
        if d.exists() and any(d.iterdir()):
            ap.error(f"{d} exists and is not empty")

    rng = random.Random(args.seed)
    groups = split_flags(rng, args.flags)
    expect = gen_code(args.out_dir, args, rng, groups)
    if args.git:
        commit_all(args.out_dir, "bench code tree", "2026-06-01T00:00:00Z")
    if args.repo:
        gen_repo(args.repo, rng, groups[0])
    if args.expect:
        args.expect.parent.mkdir(parents=True, exist_ok=True)
        args.expect.write_text(json.dumps(expect, indent=1) + "\n")
    counts = ", ".join(f"{len(v)} {k}" for k, v in expect.items())
    print(f"gen_code.py: {args.files} files in {args.out_dir} ({counts})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
