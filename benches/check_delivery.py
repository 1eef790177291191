"""Checks what a delivery of one ring wrote before the benchmark times it, so that a fast,
wrong delivery is never a result.

    check_delivery.py dir OUT_DIR RING REVISION EXPECT_JSON RENDER_ALL RINGMASTER REPO
    check_delivery.py etcd URL,PREFIX RING REVISION EXPECT_JSON RENDER_ALL RINGMASTER REPO

The target must hold the ring at REVISION (`OUT_DIR/RING/REVISION`, or the etcd key
`PREFIX/rings/RING/revision`) and exactly one entry per class of the ring (gen_repo.py
--expect's `deliver.classes`: `OUT_DIR/RING/<class>.yaml`, or `PREFIX/rings/RING/classes/<class>`),
each holding that class's effective config: read back as YAML it equals the class's line of
RENDER_ALL (the output of `ringmaster render --all`), and for the first, middle and last class
its bytes are exactly what `ringmaster --repo REPO render --class <class>` prints.

Says what differs and exits 1 on a wrong delivery; prints what it checked on stderr otherwise.
Needs PyYAML (Debian: python3-yaml); its C loader when there is one.
"""
import base64
import json
import subprocess
import sys
import urllib.request
from pathlib import Path

try:
    import yaml
except ImportError:
    sys.exit("check_delivery.py: PyYAML is missing (apt-get install python3-yaml)")

Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
kind, where, ring, revision, expect_path, render_all, rm, repo = sys.argv[1:9]
want = json.load(open(expect_path))["deliver"]


def wrong(message):
    sys.exit(f"check_delivery.py: WRONG DELIVERY to {kind} {where}, ring {ring}: {message}")


if want["ring"] != ring:
    wrong(f"the generator put the classes in ring {want['ring']}")
want_classes = want["classes"]


def etcd_range(url, start, end):
    """Every (key, value) in [start, end), a page of 1000 at a time."""
    while True:
        body = json.dumps({"key": base64.b64encode(start).decode(),
                           "range_end": base64.b64encode(end).decode(), "limit": 1000})
        req = urllib.request.Request(f"{url}/v3/kv/range", data=body.encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as answer:
            page = json.load(answer)
        kvs = page.get("kvs", [])
        for kv in kvs:
            yield base64.b64decode(kv["key"]), base64.b64decode(kv.get("value", ""))
        if not page.get("more") or not kvs:
            return
        start = base64.b64decode(kvs[-1]["key"]) + b"\0"


if kind == "dir":
    ring_dir = Path(where) / ring
    try:
        held = (ring_dir / "REVISION").read_text().strip()
    except OSError as e:
        wrong(f"no REVISION file ({e})")
    names = sorted(p.name[:-len(".yaml")] for p in ring_dir.glob("*.yaml"))

    def entry(name):
        return (ring_dir / f"{name}.yaml").read_bytes()
elif kind == "etcd":
    url, _, prefix = where.partition(",")
    prefix = prefix.rstrip("/")
    base = f"{prefix}/rings/{ring}/".encode()
    held = dict(etcd_range(url, base + b"revision", base + b"revision\0")).get(base + b"revision")
    held = held.decode().strip() if held is not None else None
    classes = base + b"classes/"
    end = classes[:-1] + bytes([classes[-1] + 1])
    values = {k[len(classes):].decode(): v for k, v in etcd_range(url, classes, end)}
    names = sorted(values)

    def entry(name):
        return values[name]
else:
    sys.exit(f"check_delivery.py: unknown target kind {kind}")

if held != revision:
    wrong(f"the ring holds {held!r}, not {revision}")
if names != want_classes:
    missing = sorted(set(want_classes) - set(names))[:5]
    extra = sorted(set(names) - set(want_classes))[:5]
    wrong(f"{len(names)} entries, the generator expects {len(want_classes)} "
          f"(missing e.g. {missing}, unexpected e.g. {extra})")

checked = 0
with open(render_all, encoding="utf-8") as fh:
    for line in fh:
        rendered = json.loads(line)
        name = rendered["class"]
        if name not in want_classes:
            continue
        if yaml.load(entry(name), Loader=Loader) != rendered["config"]:
            wrong(f"class {name}'s entry is not its effective config (`render --all`)")
        checked += 1
if checked != len(want_classes):
    wrong(f"`render --all` gave {checked} of the ring's {len(want_classes)} classes")
for name in {want_classes[0], want_classes[len(want_classes) // 2], want_classes[-1]}:
    printed = subprocess.run([rm, "--repo", repo, "render", "--class", name],
                             check=True, capture_output=True).stdout
    if entry(name) != printed:
        wrong(f"class {name}'s entry differs from `ringmaster render --class {name}`")
print(f"delivery checked: {kind} holds ring {ring} at {revision[:10]}, {len(names)} classes, "
      "each its effective config", file=sys.stderr)
