#!/usr/bin/env python3
"""Benchmark ringmaster's SLO gates against a local Prometheus (driven by benches/gates.sh).

(a) Gate evaluation overhead: 50 gates across 3 rings (threshold and burn-rate gates, 2 to 4
    queries each) against a Prometheus scraping a small exporter every second.
      - `gates check` of all three rings: ringmaster's CPU (user+sys, from getrusage of the
        child) and wall time, next to Prometheus's own answer time for the same queries
        (all sent at once from this script);
      - the soak loop's cost per interval: `rollout run` of a ring holding all 50 gates with
        a soak of 1 round and of N rounds; (CPU(N) - CPU(1)) / (N - 1) is ringmaster's CPU per
        evaluation round, process start and repo loading excluded.
(b) `gates backtest` over 30 days at a 1-minute step (43 201 steps) of synthetic history
    written with `promtool tsdb create-blocks-from openmetrics` (one scrape a minute, an
    incident on day 20): wall time, and that the incident is found.

Prints a markdown table (medians) to stdout.
"""

import argparse
import concurrent.futures
import http.server
import json
import os
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

RINGS = ["dogfood", "single-tenant", "multi-tenant"]
ROUTES = 12  # label values of `route`: one threshold gate per route and ring


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def log(msg):
    print(f"==> {msg}", file=sys.stderr, flush=True)


class Exporter(http.server.BaseHTTPRequestHandler):
    """http_requests_total{ring, route, code} at 10 requests/s per route, 0.1% failing."""

    lock = threading.Lock()
    counters = {}
    last = time.monotonic()

    def do_GET(self):  # noqa: N802 (http.server's name)
        with Exporter.lock:
            now = time.monotonic()
            dt = now - Exporter.last
            Exporter.last = now
            lines = []
            for ring in RINGS:
                for route in range(ROUTES):
                    for code, share in (("200", 0.999), ("500", 0.001)):
                        key = (ring, route, code)
                        Exporter.counters[key] = Exporter.counters.get(key, 0.0) + 10 * share * dt
                        lines.append(
                            f'http_requests_total{{ring="{ring}",route="r{route}",code="{code}"}} '
                            f"{Exporter.counters[key]}"
                        )
        body = ("\n".join(lines) + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


class Prometheus:
    def __init__(self, binary, work, name, targets=(), data=None):
        self.dir = os.path.join(work, name)
        os.makedirs(self.dir, exist_ok=True)
        config = "global:\n  scrape_interval: 1s\nscrape_configs:\n"
        for port in targets:
            config += (
                f"  - job_name: app\n    scrape_interval: 1s\n"
                f"    static_configs:\n      - targets: ['127.0.0.1:{port}']\n"
            )
        with open(os.path.join(self.dir, "prometheus.yml"), "w") as f:
            f.write(config)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(os.path.join(self.dir, "log"), "w")
        self.proc = subprocess.Popen(
            [
                binary,
                f"--config.file={self.dir}/prometheus.yml",
                f"--storage.tsdb.path={data or self.dir + '/data'}",
                "--storage.tsdb.retention.time=3650d",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--log.level=warn",
            ],
            stdout=subprocess.DEVNULL,
            stderr=self.log,
        )
        deadline = time.time() + 120
        while True:
            try:
                if urllib.request.urlopen(self.url + "/-/ready", timeout=2).status == 200:
                    return
            except OSError:
                pass
            if self.proc.poll() is not None or time.time() > deadline:
                sys.exit(f"prometheus did not start; see {self.dir}/log")
            time.sleep(0.2)

    def query(self, q):
        url = self.url + "/api/v1/query?" + urllib.parse.urlencode({"query": q})
        with urllib.request.urlopen(url, timeout=30) as r:
            return json.load(r)

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def ratio(ring, route):
    sel = f'ring="{ring}",route="r{route}"'
    return (
        f'sum(rate(http_requests_total{{{sel},code=~"5.."}}[1m])) / '
        f"sum(rate(http_requests_total{{{sel}}}[1m]))"
    )


def gates_yaml(ring, n):
    """n gates for `ring`: threshold gates per route, then burn-rate gates."""
    out = []
    for i in range(n):
        if i < ROUTES:
            out.append(f"  - name: route-{i}\n    query: '{ratio(ring, i)}'\n    max: 0.05\n")
        else:
            out.append(
                f"  - name: availability-{i}\n    burn_rate:\n      objective: 0.99{i}\n"
                f"      errors: 'sum(rate(http_requests_total{{ring=\"{ring}\",code=~\"5..\"}}[{{window}}]))'\n"
                f"      total: 'sum(rate(http_requests_total{{ring=\"{ring}\"}}[{{window}}]))'\n"
                f"      windows:\n        - {{long: {i}m, short: 30s, factor: 14.4}}\n"
            )
    return "".join(out)


def git(repo, *args):
    subprocess.run(
        ["git", "-C", repo, *args],
        check=True,
        stdout=subprocess.DEVNULL,
        env={**os.environ, "GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1"},
    )


def make_repo(path, url, rings, soak="1s", interval="1s"):
    """rings: [(name, n_gates)]"""
    os.makedirs(os.path.join(path, "rings"), exist_ok=True)
    git(path, "init", "-q", ".")
    classes = "".join(f"  c{i}: {{ring: {name}}}\n" for i, (name, _) in enumerate(rings))
    with open(os.path.join(path, "ringmaster.yaml"), "w") as f:
        f.write(
            f"version: 1\nhost_classes:\n{classes}rings: rings/\n"
            f"metrics:\n  kind: prometheus\n  url: {url}\n"
        )
    for order, (name, n) in enumerate(rings, 1):
        with open(os.path.join(path, "rings", f"{name}.yaml"), "w") as f:
            f.write(
                f"name: {name}\norder: {order}\nsoak: {soak}\ninterval: {interval}\n"
                f"gates:\n{gates_yaml(name, n)}inconclusive_limit: 3\n"
            )
    git(path, "add", "-A")
    git(path, "-c", "user.name=bench", "-c", "user.email=bench@example.com",
        "commit", "-qm", "rings")


def timed(cmd, env=None):
    """(wall s, cpu s of the child, returncode, stdout)"""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, p.returncode, p.stdout + p.stderr


def ms(x):
    return f"{x * 1000:.1f} ms"


def bench_live(args, work, rows):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Exporter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    prom = Prometheus(args.prometheus, work, "live", targets=[server.server_address[1]])
    try:
        log("waiting for scrapes")
        deadline = time.time() + 60
        while not prom.query(ratio("multi-tenant", 0))["data"]["result"]:
            if time.time() > deadline:
                sys.exit("no data from the exporter after 60 s")
            time.sleep(0.5)
        time.sleep(3)

        # 50 gates across 3 rings.
        repo = os.path.join(work, "three-rings")
        make_repo(repo, prom.url, [("dogfood", 17), ("single-tenant", 17), ("multi-tenant", 16)])
        out = subprocess.run(
            [args.bin, "--repo", repo, "gates", "check", "--format", "json"],
            capture_output=True, text=True,
        )
        report = json.loads(out.stdout)
        gates = [g for r in report["rings"] for g in r["gates"]]
        queries = set()
        for name, n in [("dogfood", 17), ("single-tenant", 17), ("multi-tenant", 16)]:
            for i in range(n):
                if i < ROUTES:
                    queries.add(ratio(name, i))
                else:
                    for w in (f"{i}m", "30s"):
                        for q in (
                            f'sum(rate(http_requests_total{{ring="{name}",code=~"5.."}}[{w}]))',
                            f'sum(rate(http_requests_total{{ring="{name}"}}[{w}]))',
                        ):
                            queries.add(q)
        healthy = sum(g["verdict"] == "healthy" for g in gates)
        log(f"gates check: {len(gates)} gates, {healthy} healthy, {len(queries)} distinct queries")
        if len(gates) != 50 or healthy != 50:
            sys.exit(f"expected 50 healthy gates: {out.stdout}{out.stderr}")

        check_wall, check_cpu, prom_wall = [], [], []
        for _ in range(args.runs):
            wall, cpu, code, text = timed([args.bin, "--repo", repo, "gates", "check"])
            if code != 0:
                sys.exit(text)
            check_wall.append(wall)
            check_cpu.append(cpu)
            start = time.perf_counter()
            with concurrent.futures.ThreadPoolExecutor(len(queries)) as pool:
                list(pool.map(prom.query, queries))
            prom_wall.append(time.perf_counter() - start)
        rows.append(("gates check, 3 rings, 50 gates (%d queries): ringmaster CPU (user+sys), whole process" % len(queries),
                     ms(statistics.median(check_cpu))))
        rows.append(("gates check: wall, whole process", ms(statistics.median(check_wall))))
        rows.append(("Prometheus answering the same queries at once (from Python)", ms(statistics.median(prom_wall))))

        # The soak loop: one ring with all 50 gates, 1 round vs N rounds.
        n = args.rounds
        per_round = []
        for run in range(args.runs):
            cpus = {}
            for rounds in (1, n):
                repo = os.path.join(work, f"soak-{run}-{rounds}")
                # One ring, 50 gates: dogfood's 17 plus single-tenant's and multi-tenant's
                # threshold and burn-rate gates under distinct names. One round a second: the
                # shortest interval a ring may have.
                make_repo(repo, prom.url, [("dogfood", 50)], soak=f"{rounds}s",
                          interval="1s")
                started = subprocess.run([args.bin, "--repo", repo, "rollout", "start"],
                                         capture_output=True, text=True)
                if started.returncode != 0:
                    sys.exit(f"rollout start failed (exit {started.returncode}):\n"
                             f"{started.stdout}{started.stderr}")
                wall, cpu, code, text = timed([args.bin, "--repo", repo, "rollout", "run"],
                                              env={**os.environ, "CI": "1"})
                if code != 0 or f"promoted after {rounds} healthy" not in text:
                    sys.exit(f"rollout run ({rounds} rounds) failed:\n{text}")
                cpus[rounds] = cpu
            per_round.append((cpus[n] - cpus[1]) / (n - 1))
        rows.append((f"soak loop: ringmaster CPU per evaluation round of 50 gates (from 1 vs {n} rounds)",
                     ms(statistics.median(per_round))))
    finally:
        prom.stop()
        server.shutdown()


def bench_backtest(args, work, rows):
    days = 30
    scrape = 60
    end = int(time.time()) // 60 * 60 - 300
    start = end - days * 86400
    incident = start + 20 * 86400 + 3600 * 14
    path = os.path.join(work, "history.om")
    log(f"writing {days} days of history (one sample a minute)")
    with open(path, "w") as f:
        for code in ("200", "500"):
            value = 0.0
            for t in range(start - 7200, end + 1, scrape):
                f.write(f'http_requests_total{{code="{code}",ring="dogfood"}} {value:.3f} {t}\n')
                bad = incident <= t < incident + 1800
                ratio_ = 0.1 if bad else 0.0001
                value += 10 * (ratio_ if code == "500" else 1 - ratio_) * scrape
        f.write("# EOF\n")
    data = os.path.join(work, "history-data")
    t = time.perf_counter()
    subprocess.run([args.promtool, "tsdb", "create-blocks-from", "openmetrics", path, data],
                   check=True, stdout=subprocess.DEVNULL)
    log(f"promtool wrote the blocks in {time.perf_counter() - t:.1f} s")
    prom = Prometheus(args.prometheus, work, "history", data=data)
    try:
        repo = os.path.join(work, "backtest")
        os.makedirs(os.path.join(repo, "rings"))
        git(repo, "init", "-q", ".")
        with open(os.path.join(repo, "ringmaster.yaml"), "w") as f:
            f.write(f"version: 1\nhost_classes:\n  a: {{ring: dogfood}}\nrings: rings/\n"
                    f"metrics:\n  kind: prometheus\n  url: {prom.url}\n")
        shutil.copy(os.path.join(args.root, "examples/shop/rings/dogfood.yaml"),
                    os.path.join(repo, "rings/dogfood.yaml"))
        git(repo, "add", "-A")
        git(repo, "-c", "user.name=b", "-c", "user.email=b@example.com", "commit", "-qm", "r")
        iso = lambda s: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(s))  # noqa: E731
        cmd = [args.bin, "--repo", repo, "gates", "backtest", "--ring", "dogfood",
               "--start", iso(start), "--end", iso(end), "--step", "1m", "--format", "json"]
        walls, cpus = [], []
        for _ in range(args.runs):
            wall, cpu, code, text = timed(cmd)
            if code != 0:
                sys.exit(text)
            walls.append(wall)
            cpus.append(cpu)
        report = json.loads(text[: text.rindex("}") + 1])
        first = report["would_halt"]["at"] if report["would_halt"] else None
        log(f"backtest: {report['steps']} steps, would halt at {first} (incident {iso(incident)})")
        if report["steps"] != days * 1440 + 1 or not first:
            sys.exit(f"unexpected backtest: {json.dumps(report)[:2000]}")
        rows.append((f"gates backtest, 30 days at 1m ({report['steps']} steps, 2 gates, 6 queries): wall",
                     f"{statistics.median(walls):.2f} s"))
        rows.append(("gates backtest: ringmaster CPU (user+sys)", f"{statistics.median(cpus):.2f} s"))
    finally:
        prom.stop()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bin", required=True)
    p.add_argument("--root", required=True)
    p.add_argument("--prometheus", default=shutil.which("prometheus"))
    p.add_argument("--promtool", default=shutil.which("promtool"))
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--rounds", type=int, default=11)
    p.add_argument("--only", choices=["live", "backtest"])
    args = p.parse_args()
    if not args.prometheus or not args.promtool:
        sys.exit("prometheus and promtool are needed (Debian package `prometheus`)")
    work = tempfile.mkdtemp(prefix="ringmaster-gates-bench-")
    rows = []
    try:
        if args.only in (None, "live"):
            bench_live(args, work, rows)
        if args.only in (None, "backtest"):
            bench_backtest(args, work, rows)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"| measure (median of {args.runs} runs) | figure |\n|---|---|")
    for name, value in rows:
        print(f"| {name} | {value} |")


if __name__ == "__main__":
    main()
