"""Helpers for tally's end-to-end tests: run the binary, read run directories.

The tests are plain Python 3 (standard library only); meson runs each file
with TALLY_BIN (the built binary), TALLY_DATA (datasets) and TALLY_SRC set.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile

BIN = os.environ.get("TALLY_BIN", "build/harness/tally")
DATA = os.environ.get("TALLY_DATA", "../shared/datasets")
SRC = os.environ.get("TALLY_SRC", ".")

failures = []


def tally(*args, check=None, env=None, timeout=600):
    """Runs tally; returns (status, stdout, stderr)."""
    e = dict(os.environ)
    e["TALLY_DATA"] = DATA
    if env:
        e.update(env)
    p = subprocess.run([BIN] + [str(a) for a in args], capture_output=True, text=True,
                       env=e, timeout=timeout)
    if check is not None and p.returncode != check:
        fail("tally %s: exit %d, expected %d\nstdout: %s\nstderr: %s"
             % (" ".join(map(str, args)), p.returncode, check, p.stdout[-2000:], p.stderr[-2000:]))
    return p.returncode, p.stdout, p.stderr


def fail(msg):
    failures.append(msg)
    print("FAIL: " + msg, file=sys.stderr)


def check(cond, msg):
    if not cond:
        fail(msg)
    return cond


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l) for l in f if l.strip()]


def results(d):
    with open(os.path.join(d, "results.json"), encoding="utf-8") as f:
        return json.load(f)


def metric(d, name):
    return results(d)["metrics"][name]["value"]


def tmpdir():
    d = tempfile.mkdtemp(prefix="tally-e2e-")
    return d


def done():
    if failures:
        print("%d failure(s)" % len(failures), file=sys.stderr)
        sys.exit(1)
    print("ok")
    sys.exit(0)


def cleanup(d):
    shutil.rmtree(d, ignore_errors=True)
