"""kill -9 at random moments of a run, then run again: exactly one record per
item, no duplicates, the same results as an uninterrupted run."""
import json
import os
import random
import signal
import subprocess
import time

from tallytest import BIN, DATA, check, cleanup, done, read_jsonl, results, tally, tmpdir

base = tmpdir()
rng = random.Random(20261122)
env = dict(os.environ, TALLY_DATA=DATA)

# With a small delay per answer, generation spans most of the run, so kills land
# mid-generation; without it they land in loading, scoring and writing too.
SLOW = ["--replay-delay-ms", "0.1"]


# the uninterrupted reference, and how long a whole run takes here
ref = os.path.join(base, "ref")
t0 = time.time()
tally("run", "--task", "gsm8k_cot", "--model", "oracle", "--out", ref, "--quiet", check=0)
fast_span = max(time.time() - t0, 0.02)
t0 = time.time()
tally("run", "--task", "gsm8k_cot", "--model", "oracle", "--out", os.path.join(base, "slowref"), "--quiet",
      *SLOW, check=0)
span = max(time.time() - t0, 0.05)
ref_results = results(ref)


def killed_run(d, delay, slow=True):
    p = subprocess.Popen([BIN, "run", "--task", "gsm8k_cot", "--model", "oracle", "--out", d, "--quiet"]
                         + (SLOW if slow else []),
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(delay)
    p.send_signal(signal.SIGKILL)
    p.wait()


def verify(d, label):
    lines = open(os.path.join(d, "samples.jsonl"), encoding="utf-8").read().split("\n")
    check(lines[-1] == "", "%s: samples.jsonl ends with a newline" % label)
    recs = [json.loads(l) for l in lines if l]
    keys = [(r["id"], r["sample"]) for r in recs]
    check(len(recs) == 1319, "%s: %d records, expected 1319" % (label, len(recs)))
    check(len(set(keys)) == len(keys), "%s: duplicate records" % label)
    r = results(d)
    check(r["metrics"] == ref_results["metrics"] and r["outcomes"] == ref_results["outcomes"],
          "%s: results differ from the uninterrupted run" % label)
    check(len(read_jsonl(os.path.join(d, "scores.jsonl"))) == 1319, "%s: scores.jsonl" % label)


def landed(d):
    """Where the kill landed: before any sample, mid-generation, or after it."""
    p = os.path.join(d, "samples.jsonl")
    n = open(p, encoding="utf-8", errors="replace").read().count("\n") if os.path.exists(p) else 0
    if n == 0:
        return "before"
    return "mid" if n < 1319 else "after"


# At least 20 trials in fresh directories, each killed once at a random moment
# of the run. The delay adapts to the machine's load: a kill that lands before
# the first sample lengthens the next delays, one that lands after the last
# shortens them, until at least 8 kills have landed mid-generation (every 4th
# trial runs at full speed, so loading, scoring and writing get kills too).
where = {"before": 0, "mid": 0, "after": 0}
scale = 1.0
trial = 0
while trial < 20 or (where["mid"] < 8 and trial < 80):
    d = os.path.join(base, "fresh%d" % trial)
    slow = trial % 4 != 3
    killed_run(d, rng.uniform(0, (span if slow else fast_span) * 1.1 * scale), slow)
    w = landed(d)
    where[w] += 1
    if slow:
        scale = scale * 1.25 if w == "before" else scale / 1.25 if w == "after" else scale
    tally("run", "--task", "gsm8k_cot", "--model", "oracle", "--out", d, "--quiet", check=0)
    verify(d, "trial %d" % trial)
    trial += 1
print("%d trials; kills landed: %d before the first sample, %d mid-generation, %d after it"
      % (trial, where["before"], where["mid"], where["after"]))
check(where["mid"] >= 8, "too few kills landed mid-generation: %s" % where)

# one directory killed 20 times in a row (every resume killed too), then finished
d = os.path.join(base, "again")
for trial in range(20):
    killed_run(d, rng.uniform(0, span * 1.2))
tally("run", "--task", "gsm8k_cot", "--model", "oracle", "--out", d, "--quiet", check=0)
verify(d, "repeated kills")

# a torn last line written by hand (a crash mid-write) is redone, never duplicated
d = os.path.join(base, "torn")
tally("run", "--task", "gsm8k_cot", "--model", "oracle", "--out", d, "--quiet", check=0)
p = os.path.join(d, "samples.jsonl")
data = open(p, encoding="utf-8").read()
cut = data.rstrip("\n").rfind("\n") + 1
open(p, "w", encoding="utf-8").write(data[:cut + 25])
st, out, err = tally("run", "--task", "gsm8k_cot", "--model", "oracle", "--out", d, check=0)
check("torn" in err, "the torn line is reported: " + err)
verify(d, "torn line")

cleanup(base)
done()
