"""tally run / score on GSM8K: the oracle over every item, a crafted replay
file with known answers, selection, resume, refusal of other settings, shard
merging, and bad input (each a clear message and the right exit status)."""
import json
import os

from tallytest import (check, cleanup, done, fail, metric, read_jsonl, results, tally, tmpdir,
                       DATA)

base = tmpdir()

# The oracle answers every item in the variant's convention: 100% under both filters.
for task in ("gsm8k", "gsm8k_cot", "gsm8k_cot_zeroshot", "gsm8k_cot_llama"):
    d = os.path.join(base, task)
    st, out, err = tally("run", "--task", task, "--model", "oracle", "--out", d, check=0)
    r = results(d)
    check(r["items"] == 1319 and r["samples"] == 1319, "%s: 1319 items" % task)
    for m in ("strict_match", "flexible_extract"):
        check(r["metrics"][m]["value"] == 1.0, "%s %s = %s" % (task, m, r["metrics"][m]["value"]))
    check(len(read_jsonl(os.path.join(d, "samples.jsonl"))) == 1319, "%s: 1319 sample lines" % task)
    check(len(read_jsonl(os.path.join(d, "scores.jsonl"))) == 1319, "%s: 1319 score lines" % task)
    check("strict_match" in out and "100.00" in out, "%s: the table is printed" % task)
    man = json.load(open(os.path.join(d, "manifest.json")))
    for k in ("tally_version", "task", "dataset", "runner", "settings", "host", "created"):
        check(k in man, "manifest has %s" % k)
    check(man["dataset"]["sha256"] == "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14",
          "manifest dataset sha256")

# A crafted replay file: known right, wrong and unparseable answers (gsm8k_cot, items 0..5).
test = read_jsonl(os.path.join(DATA, "gsm8k", "test.jsonl"))
final = [t["answer"].split("####")[-1].strip() for t in test[:6]]
rows = [
    {"id": "0", "completion": "Thinking. The answer is %s." % final[0]},           # both right
    {"id": "1", "completion": "So the result is %s" % final[1]},                   # strict none, flex right
    {"id": "2", "completion": "The answer is 99999."},                             # both wrong
    {"id": "3", "completion": "I do not know."},                                   # both unparseable
    {"id": "4", "completion": "The answer is %s.\nQ: next question 123" % final[4]},  # cut at Q:, both right
    {"id": "5", "completion": "The answer is %s" % final[5]},                      # strict takes one digit less
]
rp = os.path.join(base, "replay.jsonl")
with open(rp, "w") as f:
    for r in rows:
        f.write(json.dumps(r) + "\n")
d = os.path.join(base, "crafted")
tally("run", "--task", "gsm8k_cot", "--model", rp, "--ids", "0,1,2,3,4,5", "--out", d, check=0)
sc = {s["id"]: s for s in read_jsonl(os.path.join(d, "scores.jsonl"))}
strict = sum(s["metrics"]["strict_match"] == "correct" for s in sc.values())
flex = sum(s["metrics"]["flexible_extract"] == "correct" for s in sc.values())
check(strict == 2, "crafted: strict-match correct = %d, expected 2" % strict)
check(flex == 4, "crafted: flexible-extract correct = %d, expected 4" % flex)
check(sc["3"]["outcome"] == "no_answer", "crafted: item 3 no_answer")
check(sc["2"]["outcome"] == "wrong", "crafted: item 2 wrong")
check(sc["1"]["outcome"] == "no_answer", "crafted: item 1 has no strict answer")
r = results(d)
check(abs(r["metrics"]["strict_match"]["value"] - 2 / 6) < 1e-12, "crafted strict value")
check(abs(r["metrics"]["flexible_extract"]["value"] - 4 / 6) < 1e-12, "crafted flexible value")
check(r["outcomes"] == {"correct": 2, "wrong": 2, "no_answer": 2}, "crafted outcomes %s" % r["outcomes"])
samples = {s["id"]: s for s in read_jsonl(os.path.join(d, "samples.jsonl"))}
check(samples["4"]["completion"] == "The answer is %s.\n" % final[4], "completion cut at the stop string")
# --model RUN_DIR re-serves another run's completions: the same verdicts
d2 = os.path.join(base, "rerun")
tally("run", "--task", "gsm8k_cot", "--model", d, "--backend", "replay", "--ids", "0,1,2,3,4,5", "--out", d2, check=0)
check(results(d2)["metrics"] == results(d)["metrics"], "replaying a run directory gives the same metrics")
check([s["completion"] for s in read_jsonl(os.path.join(d2, "samples.jsonl"))] ==
      [s["completion"] for s in read_jsonl(os.path.join(d, "samples.jsonl"))], "same completions")
# a replay file missing items is an error naming them
st, out, err = tally("run", "--task", "gsm8k_cot", "--model", rp, "--limit", "8",
                     "--out", os.path.join(base, "missing"), check=1)
check("no completion for 2 items: 6, 7" in err, "missing ids named: " + err)

# Selection: --limit, --ids @FILE, --shard
d = os.path.join(base, "limit")
tally("run", "--task", "gsm8k_cot", "--model", "oracle", "--limit", "7", "--out", d, check=0)
check(results(d)["items"] == 7, "--limit 7")
idf = os.path.join(base, "ids.txt")
open(idf, "w").write("10\n12, 14\n")
d = os.path.join(base, "idsfile")
tally("run", "--task", "gsm8k_cot", "--model", "oracle", "--ids", "@" + idf, "--out", d, check=0)
check(sorted(s["id"] for s in read_jsonl(os.path.join(d, "samples.jsonl"))) == ["10", "12", "14"], "--ids @FILE")
shards = []
for i in range(3):
    d = os.path.join(base, "shard%d" % i)
    tally("run", "--task", "gsm8k_cot", "--model", rp if False else "oracle", "--limit", "50",
          "--shard", "%d/3" % i, "--out", d, check=0)
    shards.append(d)
counts = [results(d)["items"] for d in shards]
check(counts == [17, 17, 16], "shard sizes %s" % counts)
ids = set()
for d in shards:
    for s in read_jsonl(os.path.join(d, "samples.jsonl")):
        check(s["id"] not in ids, "shards overlap at %s" % s["id"])
        ids.add(s["id"])
check(ids == set(str(i) for i in range(50)), "shards cover the first 50 items")
merged = os.path.join(base, "merged")
tally("score", *shards, "--out", merged, check=0)
check(results(merged)["items"] == 50 and metric(merged, "strict_match") == 1.0, "merged shards")
check(len(read_jsonl(os.path.join(merged, "samples.jsonl"))) == 50, "merged samples")
tally("score", shards[0], shards[1], check=2)  # several directories need --out

# Resume: a finished run asks nothing; other settings are refused, naming the setting.
d = os.path.join(base, "gsm8k_cot")
before = open(os.path.join(d, "samples.jsonl")).read()
tally("run", "--task", "gsm8k_cot", "--model", "oracle", "--out", d, "--quiet", check=0)
check(open(os.path.join(d, "samples.jsonl")).read() == before, "resume of a finished run adds nothing")
st, out, err = tally("run", "--task", "gsm8k_cot", "--model", "oracle", "--out", d, "--temperature", "0.7", check=1)
check('setting "temperature" is 0.7 here but 0' in err, "refusal names the setting: " + err)
st, out, err = tally("run", "--task", "gsm8k", "--model", "oracle", "--out", d, check=1)
check("the task is" in err, "refusal of another task: " + err)
# tally score re-scores to the same results
r1 = results(d)
tally("score", d, "--quiet", check=0)
r2 = results(d)
check(r1["metrics"] == r2["metrics"], "re-score gives the same metrics")
# a multi-task run writes one directory per task
d = os.path.join(base, "multi")
tally("run", "--task", "gsm8k_cot,gsm8k_cot_zeroshot", "--model", "oracle", "--limit", "3", "--out", d, check=0)
check(os.path.exists(os.path.join(d, "gsm8k_cot", "results.json")) and
      os.path.exists(os.path.join(d, "gsm8k_cot_zeroshot", "results.json")), "one directory per task")
tally("score", d, "--quiet", check=0)
# replaying from the parent directory of a multi-task run uses the task's subdirectory
d3 = os.path.join(base, "multi-replay")
tally("run", "--task", "gsm8k_cot_zeroshot", "--backend", "replay", "--model", d, "--limit", "3", "--out", d3, check=0)
check(metric(d3, "strict_match") == 1.0, "replay from a multi-task run directory")

# Bad input: usage errors exit 2, failures exit 1, each one line naming the cause.
st, out, err = tally("run", "--task", "gsm8k_cot", "--model", "oracle", "--out", os.path.join(base, "x"), "--frobnicate", check=2)
check('unknown option "--frobnicate"' in err, err)
st, out, err = tally("run", "--task", "gsm8k_cot", "--model", "oracle", check=2)
check("--out" in err, err)
st, out, err = tally("run", "--task", "nosuch", "--model", "oracle", "--out", os.path.join(base, "x"), check=2)
check('unknown task "nosuch"' in err, err)
st, out, err = tally("run", "--task", "gsm8k_cot", "--model", "oracle", "--limit", "abc", "--out", os.path.join(base, "x"), check=2)
check("--limit" in err, err)
st, out, err = tally("run", "--task", "gsm8k_cot", "--model", "oracle", "--shard", "3/3", "--out", os.path.join(base, "x"), check=2)
check("--shard" in err, err)
st, out, err = tally("run", "--task", "gsm8k_cot", "--model", "oracle", "--ids", "1,nope", "--out", os.path.join(base, "x"), check=2)
check('"nope"' in err, err)
st, out, err = tally("run", "--task", "gsm8k_cot", "--model", "/nonexistent.jsonl", "--out", os.path.join(base, "x"), check=1)
check("/nonexistent.jsonl" in err, err)
st, out, err = tally("frobnicate", check=2)
st, out, err = tally("quantdiff", "a", "b", check=2)
check("not built yet" in err, err)
# a missing dataset says where it looked and how to get it
st, out, err = tally("run", "--task", "gsm8k_cot", "--model", "oracle", "--out", os.path.join(base, "x"),
                     "--data-dir", os.path.join(base, "nodata"), check=1)
check("gsm8k/test.jsonl" in err and "tally datasets fetch" in err, err)
# a malformed dataset line names file:line and the field
bad = os.path.join(base, "baddata", "gsm8k")
os.makedirs(bad)
with open(os.path.join(bad, "test.jsonl"), "w") as f:
    f.write('{"question": "q", "answer": "#### 1"}\n{"question": "q", "answer": 7}\n')
st, out, err = tally("run", "--task", "gsm8k_cot_zeroshot", "--model", "oracle", "--out", os.path.join(base, "y"),
                     "--data-dir", os.path.join(base, "baddata"), check=1)
check("test.jsonl:2" in err and '"answer"' in err, err)
# a malformed replay file names file:line
with open(rp, "a") as f:
    f.write('{"id": "9", "completion": 5}\n')
st, out, err = tally("run", "--task", "gsm8k_cot", "--model", rp, "--ids", "0", "--out", os.path.join(base, "z"), check=1)
check("replay.jsonl:7" in err and "completion" in err, err)
# a malformed line in the middle of samples.jsonl is not mistaken for a crash
d = os.path.join(base, "limit")
lines = open(os.path.join(d, "samples.jsonl")).read().split("\n")
lines[2] = lines[2][:20]
open(os.path.join(d, "samples.jsonl"), "w").write("\n".join(lines))
st, out, err = tally("run", "--task", "gsm8k_cot", "--model", "oracle", "--limit", "7", "--out", d, check=1)
check("samples.jsonl:3" in err, err)

cleanup(base)
done()
