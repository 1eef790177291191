"""Checks ringmaster's answer against the generator's (gen_repo.py --expect) before a benchmark
times it, so that a fast wrong answer is never a result.

    check_answer.py BENCH KIND EXPECT_JSON EXIT_CODE COMMAND ANSWER_FILE

KIND is `diff` (the JSON summary's counts), `check` (no findings, the file count) or `render`
(`render --all`'s JSON lines: one per class, in name order). Says what differs and exits 1 on a
wrong answer; prints what it checked on stderr otherwise.
"""
import json
import sys

bench, kind, expect_path, rc, cmd, answer = sys.argv[1:7]
rc = int(rc)
expect = json.load(open(expect_path))
out = open(answer, encoding="utf-8", errors="replace").read()


def wrong(have, want):
    sys.exit(f"{bench}: WRONG ANSWER from `ringmaster {cmd}` (exit {rc}): {have}, "
             f"the generator expects {want}")


if kind == "render":
    want = expect["render"]["classes"]
    try:
        lines = [json.loads(line) for line in out.splitlines()]
    except ValueError:
        sys.exit(f"{bench}: WRONG ANSWER from `ringmaster {cmd}`: a line is not JSON")
    have = [line.get("class") for line in lines]
    if rc != 0 or have != want or not all(isinstance(l.get("config"), dict) for l in lines):
        wrong(f"{len(have)} lines", f"{len(want)} classes in name order")
    have = f"{len(have)} classes"
else:
    try:
        got = json.loads(out)
    except ValueError:
        sys.exit(f"{bench}: WRONG ANSWER from `ringmaster {cmd}` (exit {rc}): not JSON:\n{out[:500]}")
    if kind == "diff":
        want = expect["diff"]
        have = {k: got.get("summary", {}).get(k) for k in want}
        ok = rc == 0 and have == want and not got.get("errors")
    else:
        want = expect["check"]
        summary = got.get("summary", {})
        have = {"findings": len(got.get("findings", [])), "errors": summary.get("errors"),
                "warnings": summary.get("warnings"), "files": summary.get("files")}
        ok = rc == 0 and have == want
    if not ok:
        wrong(have, want)
print(f"answer checked: ringmaster {cmd}: {have}", file=sys.stderr)
