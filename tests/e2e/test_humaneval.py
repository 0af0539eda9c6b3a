"""tally run / score on HumanEval and EvalPlus: the oracle (raw and chat) at
100%, empty completions at 0, pass@k from several samples per problem, a
replay file of hostile completions (contained, never passing, nothing left
behind), EvalPlus Mini with its expected-output cache, and bad settings.
The full HumanEval+ and MBPP+ oracles are in test_evalplus_full.py (slow)."""
import gzip
import json
import os
import subprocess
import time

from tallytest import check, cleanup, done, read_jsonl, results, tally, tmpdir, DATA

base = tmpdir()
cache = os.path.join(base, "cache")


def scores(d):
    return {(s["id"], s["sample"]): s for s in read_jsonl(os.path.join(d, "scores.jsonl"))}


# The oracle: every canonical solution passes, in the raw and the chat style.
d = os.path.join(base, "oracle")
t0 = time.time()
st, out, err = tally("run", "--task", "humaneval", "--model", "oracle", "--out", d, "--jobs", "2",
                     check=0)
elapsed = time.time() - t0
r = results(d)
check(r["items"] == 164 and r["samples"] == 164, "humaneval: 164 items")
check(r["metrics"]["pass@1"]["value"] == 1.0, "oracle pass@1 = %s" % r["metrics"]["pass@1"]["value"])
check(r["outcomes"] == {"correct": 164}, "oracle outcomes %s" % r["outcomes"])
check("pass@10" not in r["metrics"], "no pass@10 with one sample")
check("pass@1" in out and "100.00" in out, "the table is printed")
info = r["info"]
check("seccomp" in info.get("sandbox", ""), "info records the isolation level: %s" % info)
check(info.get("python", "").startswith("3."), "info records the Python version")
man = json.load(open(os.path.join(d, "manifest.json")))
check(man["dataset"]["sha256"] == "b796127e635a67f93fb35c04f4cb03cf06f38c8072ee7cee8833d7bee06979ef",
      "manifest dataset sha256")
check(man["scoring"]["jobs"] == 2 and man["scoring"]["exec_timeout_s"] == 3.0, "manifest scoring settings")
sc = scores(d)
s0 = sc[("HumanEval/0", 0)]
for k in ("result", "cpu_ms", "peak_rss_kb", "signal", "problem_n", "problem_passed"):
    check(k in s0, "scores.jsonl has %s" % k)
check(s0["result"] == "passed" and s0["signal"] is None and s0["cpu_ms"] > 0, "record %s" % s0)
print("humaneval oracle: %.1f s" % elapsed)

# tally score re-scores the stored completions to the same numbers.
st, out, err = tally("score", d, check=0)
check(results(d)["metrics"]["pass@1"]["value"] == 1.0, "re-scored pass@1")

d = os.path.join(base, "oracle-chat")
tally("run", "--task", "humaneval", "--model", "oracle", "--prompt-style", "chat", "--limit", "20",
      "--out", d, check=0)
check(results(d)["metrics"]["pass@1"]["value"] == 1.0, "chat oracle pass@1")
samples = read_jsonl(os.path.join(d, "samples.jsonl"))
check(len(samples) == 20, "20 chat samples")

# Empty completions pass nothing.
rp = os.path.join(base, "empty.jsonl")
with open(rp, "w") as f:
    for i in range(20):
        f.write(json.dumps({"id": "HumanEval/%d" % i, "completion": ""}) + "\n")
d = os.path.join(base, "empty")
tally("run", "--task", "humaneval", "--model", rp, "--limit", "20", "--out", d, check=0)
r = results(d)
check(r["metrics"]["pass@1"]["value"] == 0.0, "empty completions: pass@1 = 0")
check(r["outcomes"] == {"no_answer": 20}, "empty completions are no_answer: %s" % r["outcomes"])

# pass@k: 10 samples each of three problems with 3, 0 and 10 correct.
with gzip.open(os.path.join(DATA, "humaneval", "HumanEval.jsonl.gz"), "rt") as f:
    probs = [json.loads(l) for l in f]
rp = os.path.join(base, "passk.jsonl")
right = {0: 3, 1: 0, 2: 10}
with open(rp, "w") as f:
    for i, c in right.items():
        for s in range(10):
            comp = probs[i]["canonical_solution"] if s < c else "    return None\n"
            f.write(json.dumps({"id": "HumanEval/%d" % i, "sample": s, "completion": comp}) + "\n")
d = os.path.join(base, "passk")
tally("run", "--task", "humaneval", "--model", rp, "--ids", "HumanEval/0,HumanEval/1,HumanEval/2",
      "--samples", "10", "--out", d, check=0)
r = results(d)
check(abs(r["metrics"]["pass@1"]["value"] - (0.3 + 0 + 1) / 3) < 1e-9, "pass@1 %s" % r["metrics"]["pass@1"])
check(abs(r["metrics"]["pass@10"]["value"] - (1 + 0 + 1) / 3) < 1e-9, "pass@10 %s" % r["metrics"]["pass@10"])
check(r["metrics"]["pass@1"]["n"] == 3, "pass@k is a mean over problems")
check("pass@100" not in r["metrics"], "no pass@100 with 10 samples")
sc = scores(d)
check(sc[("HumanEval/0", 5)]["problem_passed"] == 3 and sc[("HumanEval/0", 5)]["problem_n"] == 10,
      "per-problem pass counts in scores.jsonl")

# Hostile completions of HumanEval/0: contained, none passes, nothing left.
sentinel = "/tmp/tally-e2e-sentinel-%d" % os.getpid()
with open(sentinel, "w") as f:
    f.write("sentinel\n")
before = os.stat(sentinel)
hostile = [
    "    import posix\n    while True:\n        try:\n            posix.fork()\n        except OSError:\n            pass\n",
    "    x = []\n    while True:\n        x.append(bytearray(1 << 24))\n",
    "    while True:\n        pass\n",
    "    import os\n    os._exit(0)\n",
    "    import sys\n    sys.exit(0)\n",
    "    import os\n    os.write(1, b'passed\\n')\n    print('passed')\n    return None\n",
    "    return open('/etc/shadow').read()\n",
    "    import posix\n    posix.unlink('%s')\n    return True\n" % sentinel,
    "    import socket\n    socket.create_connection(('127.0.0.1', 22), timeout=1)\n    return True\n",
    "    import posix\n    if posix.fork() == 0:\n        posix.setsid()\n"
    "        if posix.fork() == 0:\n            posix.execv('/bin/sleep', ['tallyhostile', '300'])\n"
    "        posix._exit(0)\n    return None\n",
    "    import os\n    while True:\n        os.write(1, b'x' * 65536)\n",
    "    import posix\n    for p in (posix.getppid(), -1):\n        try:\n            posix.kill(p, 9)\n"
    "        except OSError:\n            pass\n    return None\n",
]
rp = os.path.join(base, "hostile.jsonl")
with open(rp, "w") as f:
    for s, comp in enumerate(hostile):
        f.write(json.dumps({"id": "HumanEval/0", "sample": s, "completion": comp}) + "\n")
d = os.path.join(base, "hostile")
tally("run", "--task", "humaneval", "--model", rp, "--ids", "HumanEval/0", "--samples",
      str(len(hostile)), "--exec-timeout", "1", "--out", d, check=0)
r = results(d)
check(r["metrics"]["pass@1"]["value"] == 0.0, "hostile: nothing passes (%s)" % r["outcomes"])
check("correct" not in r["outcomes"], "hostile outcomes %s" % r["outcomes"])
sc = scores(d)
check(sc[("HumanEval/0", 2)]["outcome"] == "timeout", "infinite loop: timeout")
check(sc[("HumanEval/0", 3)]["result"] == "timed out", "os._exit: no result (reference label)")
check(sc[("HumanEval/0", 4)]["result"] == "failed: 0", "sys.exit(0): failed: 0")
check(sc[("HumanEval/0", 10)]["outcome"] == "killed" and sc[("HumanEval/0", 10)]["kill"] == "output limit",
      "output flood: killed by the output limit")
ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
check("tallyhostile" not in ps, "no daemon of the hostile set is left")
after = os.stat(sentinel)
check(open(sentinel).read() == "sentinel\n" and after.st_mtime_ns == before.st_mtime_ns,
      "a file outside the sandbox is untouched")
os.unlink(sentinel)

# EvalPlus (Mini): the oracle passes base and plus; the expected outputs are cached.
for style in ("raw", "chat"):
    d = os.path.join(base, "mini-" + style)
    t0 = time.time()
    tally("run", "--task", "humanevalplus-mini", "--model", "oracle", "--prompt-style", style,
          "--cache-dir", cache, "--out", d, check=0)
    print("humanevalplus-mini oracle (%s): %.1f s" % (style, time.time() - t0))
    r = results(d)
    for m in ("plus_pass@1", "base_pass@1"):
        check(r["metrics"][m]["value"] == 1.0, "mini %s %s = %s" % (style, m, r["metrics"][m]["value"]))
    s0 = scores(d)[("HumanEval/0", 0)]
    check(s0["base"] == "pass" and s0["plus"] == "pass", "EvalPlus verdict fields")
ev = os.path.join(cache, "evalplus")
check(os.path.isdir(ev) and any(n.endswith(".tsv") for n in os.listdir(ev)), "expected outputs cached")

# Bad settings: a clear message and exit status 1.
st, out, err = tally("run", "--task", "humaneval", "--model", "oracle", "--limit", "2", "--python",
                     "/nonexistent/python3", "--out", os.path.join(base, "badpy"))
check(st == 1 and "/nonexistent/python3" in err, "a missing interpreter is named (%d: %s)" % (st, err))

# The explicit opt-out runs without the OS sandbox and says so.
d = os.path.join(base, "unsafe")
tally("run", "--task", "humaneval", "--model", "oracle", "--limit", "3", "--unsafe-no-sandbox",
      "--out", d, check=0)
r = results(d)
check(r["info"]["sandbox"] == "none" and r["metrics"]["pass@1"]["value"] == 1.0, "unsafe run: %s" % r["info"])

# Faking the asserts with an always-equal object passes, as in the reference
# (SCORING.md 1.8.5), and the record flags it; an honest pass is not flagged.
eq = os.path.join(base, "eq.jsonl")
with open(eq, "w") as f:
    f.write(json.dumps({"id": "HumanEval/0", "completion":
                        "    class A:\n        def __eq__(self, o):\n            return True\n    return A()\n"}) + "\n")
    f.write(json.dumps({"id": "HumanEval/2", "completion": "    return number % 1.0\n"}) + "\n")
d = os.path.join(base, "eq")
tally("run", "--task", "humaneval", "--model", eq, "--ids", "HumanEval/0,HumanEval/2", "--out", d, check=0)
sc = {x["id"]: x for x in read_jsonl(os.path.join(d, "scores.jsonl"))}
check(sc["HumanEval/0"]["outcome"] == "correct" and sc["HumanEval/0"].get("suspect") == "__eq__",
      "always-equal pass is flagged: %s" % sc["HumanEval/0"])
check(sc["HumanEval/2"]["outcome"] == "correct" and "suspect" not in sc["HumanEval/2"],
      "honest pass not flagged: %s" % sc["HumanEval/2"])

cleanup(base)
done()
