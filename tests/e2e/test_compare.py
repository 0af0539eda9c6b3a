"""tally compare and tally diff on run directories with known item-level
outcomes (replay files over GSM8K with crafted answers): the table's numbers,
intervals and p-values against values computed here independently (Wilson
by its formula, McNemar's exact test with math.comb), every output format
parsed back, the gates' exit codes, references, and diff's explanation."""
import csv
import io
import json
import math
import os
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

from tallytest import check, cleanup, done, read_jsonl, results, tally, tmpdir, DATA

base = tmpdir()
N = 100
test = read_jsonl(os.path.join(DATA, "gsm8k", "test.jsonl"))[:300]
final = [t["answer"].split("####")[-1].strip() for t in test]

# Each run is a rule item -> "strict" (both filters right), "flex" (only
# flexible-extract right: no "The answer is"), or "wrong".
def rule_a(i):
    return "wrong" if i % 4 == 0 else ("flex" if i % 10 == 3 else "strict")

def rule_b(i):  # gains i % 16 == 0, loses i % 3 == 1: a significant drop
    if i % 16 == 0:
        return "strict"
    if i % 3 == 1:
        return "wrong"
    return rule_a(i)

def rule_c(i):  # A with two flips each way: not significant
    if i in (4, 8):
        return "strict"
    if i in (1, 2):
        return "wrong"
    return rule_a(i)

def completion(i, kind):
    if kind == "strict":
        return "Step by step. The answer is %s." % final[i]
    if kind == "flex":
        return "So we get %s" % final[i]
    return "The answer is 99999."

def make_run(name, rule, extra=(), ids=None, samples=None):
    path = os.path.join(base, name + ".jsonl")
    with open(path, "w") as f:
        for i in (ids if ids is not None else range(N)):
            if samples:
                for s in range(samples):
                    f.write(json.dumps({"id": str(i), "sample": s,
                                        "completion": completion(i, rule(i, s))}) + "\n")
            else:
                f.write(json.dumps({"id": str(i), "completion": completion(i, rule(i))}) + "\n")
    d = os.path.join(base, name)
    args = ["run", "--task", "gsm8k_cot", "--model", path, "--out", d, "--quiet"]
    args += ["--ids", ",".join(str(i) for i in ids)] if ids is not None else ["--limit", N]
    if samples:
        args += ["--samples", samples, "--temperature", "0.5"]
    tally(*args, *extra, check=0)
    return d

A = make_run("A", rule_a)
B = make_run("B", rule_b)
C = make_run("C", rule_c)

def wilson(k, n, z=1.959963984540054):
    p = k / n
    d = 1 + z * z / n
    c = (p + z * z / (2 * n)) / d
    h = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / d
    return max(0.0, c - h), min(1.0, c + h)

def mcnemar(b, c):
    n = b + c
    if n == 0:
        return 1.0
    return min(1.0, 2 * sum(math.comb(n, i) for i in range(min(b, c) + 1)) / 2 ** n)

def correct(kind, metric):
    return kind == "strict" or (kind == "flex" and metric == "flexible_extract")

def expect(rule_x, rule_y, metric, ids=range(N)):
    fl = {"both": 0, "only_a": 0, "only_b": 0, "neither": 0}
    only_a, only_b = [], []
    for i in ids:
        x, y = correct(rule_x(i), metric), correct(rule_y(i), metric)
        key = "both" if x and y else "only_a" if x else "only_b" if y else "neither"
        fl[key] += 1
        if key == "only_a":
            only_a.append(str(i))
        if key == "only_b":
            only_b.append(str(i))
    return fl, only_a, only_b

def compare(*args, code=0):
    return tally("compare", *args, check=code)

# ---- the JSON model: numbers checked against independent computations ----
st, out, err = compare(A, B, "--format", "json", "--max-ids", "100")
j = json.loads(out)
check([r["label"] for r in j["runs"]] == ["A", "B"], "labels from folder names")
rows = {(r["task"], r["metric"]): r for r in j["rows"]}
check(set(rows) == {("gsm8k_cot", "strict_match"), ("gsm8k_cot", "flexible_extract")}, "rows %s" % list(rows))
for metric in ("strict_match", "flexible_extract"):
    r = rows[("gsm8k_cot", metric)]
    fl, only_a, only_b = expect(rule_a, rule_b, metric)
    ka = sum(correct(rule_a(i), metric) for i in range(N))
    kb = sum(correct(rule_b(i), metric) for i in range(N))
    check(r["test"] == "mcnemar", metric + ": McNemar")
    check(abs(r["runs"][0]["value"] - ka / N) < 1e-12 and abs(r["runs"][1]["value"] - kb / N) < 1e-12,
          metric + ": values %s" % r["runs"])
    for side, k in ((0, ka), (1, kb)):
        lo, hi = wilson(k, N)
        check(abs(r["runs"][side]["ci95"][0] - lo) < 1e-9 and abs(r["runs"][side]["ci95"][1] - hi) < 1e-9,
              metric + ": Wilson interval %s vs %s" % (r["runs"][side]["ci95"], (lo, hi)))
    check({k: r["flips"][k] for k in fl} == fl, metric + ": flips %s vs %s" % (r["flips"], fl))
    check(r["flips"]["only_a_ids"] == only_a and r["flips"]["only_b_ids"] == only_b, metric + ": flipped ids")
    p = mcnemar(fl["only_a"], fl["only_b"])
    check(abs(r["p"] - p) <= 1e-12 * max(p, 1e-300), metric + ": p %r vs %r" % (r["p"], p))
    check(abs(r["delta"] - (fl["only_b"] - fl["only_a"]) / N) < 1e-12, metric + ": delta")
    check(r["n_shared"] == N, metric + ": n_shared")
# Holm over the two declared metrics
ps = sorted([rows[("gsm8k_cot", m)]["p"] for m in ("strict_match", "flexible_extract")])
holm_min = min(1, 2 * ps[0])
check(any(abs(r["p_holm"] - holm_min) < 1e-12 for r in j["rows"]), "Holm-adjusted p")
check(j["verdict"]["status"] == 0 and not j["verdict"]["gated"], "ungated verdict")

# ---- markdown: aligned, signed, with flips and the detectable effect ----
st, out, err = compare(A, B)
lines = out.split("\n")
table = [l for l in lines if l.startswith("| ")]
check(any("strict_match" in l and "-" in l.split("|")[5] for l in table), "md: a signed delta: " + out[:800])
fl, _, _ = expect(rule_a, rule_b, "strict_match")
check("| A correct |" in out and "Only A: %d" % fl["only_a"] in out, "md: flip table")
check("cannot be told from noise" in out, "md: minimum detectable effect line")
check("<sub>Scores in %" in out, "md: legend")
widths = {len(l) for l in table[:4]}
check(len(widths) <= 2, "md: the main table's lines are padded (%s)" % widths)

# ---- CSV and JUnit and HTML parse ----
st, out, err = compare(A, B, "--format", "csv")
rec = list(csv.DictReader(io.StringIO(out)))
check(len(rec) == 2 and rec[0]["metric"] == "strict_match", "csv rows")
check(abs(float(rec[0]["p"]) - rows[("gsm8k_cot", "strict_match")]["p"]) < 1e-9, "csv p")
check(abs(float(rec[0]["A value"]) - rows[("gsm8k_cot", "strict_match")]["runs"][0]["value"]) < 1e-9, "csv value")
st, out, err = compare(A, B, "--format", "junit")
root = ET.fromstring(out)
cases = root.findall(".//testcase")
check(len(cases) == 4 and root.get("failures") == "0", "junit: 2 metrics + failures + comparable, none failing")
st, out, err = compare(A, B, "--format", "html")
class P(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags = []
    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
p = P()
p.feed(out)
check("table" in p.tags and "script" not in p.tags and out.startswith("<!DOCTYPE html>"), "html parses")
outfile = os.path.join(base, "t.json")
compare(A, B, "--format", "json", "--out", outfile)
check(json.load(open(outfile))["rows"][0]["metric"] == "strict_match", "--out writes the file")

# ---- gates ----
st, out, err = compare(A, B, "--fail-if-worse", "1", code=3)
sm = rows[("gsm8k_cot", "strict_match")]
check("regression: gsm8k_cot/strict_match fell from %.2f%% (A) to %.2f%% (B)" %
      (100 * sm["runs"][0]["value"], 100 * sm["runs"][1]["value"]) in err and "p = " in err,
      "regression message names metric, scores, p: " + err)
st, out, err = compare(A, B, "--fail-if-worse", "1", "--format", "junit", code=3)
root = ET.fromstring(out)
check(len(root.findall(".//failure[@type='regression']")) >= 1, "junit failure on regression")
compare(A, B, "--fail-if-worse", "30", code=0)
compare(B, A, "--fail-if-worse", "0", code=0)  # an improvement
compare(A, C, "--fail-if-worse", "0", code=0)  # a drop that is not significant
compare(A, B, "--fail-if-worse", "1", "--alpha", "1e-9", code=0)
gates = os.path.join(base, "gates.json")
json.dump({"default": 30, "gates": {"gsm8k_cot/strict_match": 1}}, open(gates, "w"))
compare(A, B, "--gates", gates, code=3)
json.dump({"gates": {"gsm8k_cot/*": 30, "flexible_extract": 1}}, open(gates, "w"))
st, out, err = compare(A, B, "--gates", gates, code=3 if mcnemar(*[expect(rule_a, rule_b, "flexible_extract")[0][k] for k in ("only_a", "only_b")]) < 0.05 else 0)
json.dump({"gates": {"gsm8k_cot/*": None}}, open(gates, "w"))
compare(A, B, "--gates", gates, code=5)  # every gate off: nothing gated can be tested
json.dump({"gates": {"x": "1"}}, open(gates, "w"))
st, out, err = compare(A, B, "--gates", gates, code=1)
check('gate "x" is not a number' in err, err)
st, out, err = compare(A, B, C, "--fail-if-worse", "1", code=2)
check("exactly two runs" in err, err)

# instrument failures: 3 api errors and 2 truncations out of 100
rows_f = []
for i in range(N):
    r = {"id": str(i), "completion": completion(i, rule_a(i))}
    if i in (5, 6, 7):
        r["error"] = "HTTP 503: overloaded"
    if i in (9, 10):
        r["completion"] = "The answer is"
        r["finish_reason"] = "length"
    rows_f.append(r)
fp = os.path.join(base, "F.jsonl")
with open(fp, "w") as f:
    f.write("".join(json.dumps(r) + "\n" for r in rows_f))
F = os.path.join(base, "F")
tally("run", "--task", "gsm8k_cot", "--model", fp, "--limit", N, "--out", F, "--quiet", check=0)
check(results(F)["instrument_failures"] == 5, "5 instrument failures: %s" % results(F)["outcomes"])
st, out, err = compare(A, F, "--max-failures", "4", code=4)
check("5 of 100 samples failed" in err, err)
compare(A, F, "--max-failures", "5", code=0)
compare(A, F, "--max-failures", "0.04", code=4)
compare(A, F, "--max-failures", "5%", code=0)
st, out, err = compare(A, F, "--max-failures", "many", code=2)

# not comparable: other shots (defines the prompts), or no shared item
S = make_run("S", rule_a, extra=("--shots", "3"))
st, out, err = compare(A, S, "--fail-if-worse", "1", code=5)
check("not comparable" in err, err)
st, out, err = compare(A, S)
check("not comparable" in out and "settings.shots" in out, "the table says what differs: " + out[-1500:])
for fmt in ("csv", "json", "html", "junit"):
    st, out, err = compare(A, S, "--format", fmt)
    check(("false" in out) if fmt in ("csv", "json") else ("not comparable" in out), fmt + " flags it")
root = ET.fromstring(compare(A, S, "--format", "junit")[1])
check(root.find(".//testcase[@name='comparable']/skipped") is not None, "junit: skipped when ungated")
root = ET.fromstring(compare(A, S, "--format", "junit", "--fail-if-worse", "1", code=5)[1])
check(root.find(".//testcase[@name='comparable']/failure") is not None, "junit: a failure when gated")
D = make_run("D", rule_a, ids=range(200, 220))
st, out, err = compare(A, D, "--fail-if-worse", "1", code=5)
compare(A, D, "--fail-if-worse", "1", "--max-failures", "0", code=5)  # 5 before 4? F has none; still 5
st, out, err = compare(A, F, "--fail-if-worse", "1", "--max-failures", "0", code=4)

# partly shared items: the tests use the shared ones, the table says so
E = make_run("E", rule_b, ids=range(50, 150))
st, out, err = compare(A, E, "--format", "json")
j = json.loads(out)
r = j["rows"][0]
fl, _, _ = expect(rule_a, rule_b, "strict_match", ids=range(50, 100))
check(r["n_shared"] == 50 and {k: r["flips"][k] for k in fl} == fl, "shared items: %s vs %s" % (r.get("flips"), fl))
check(any("50 shared" in n for n in j["tasks"][0]["notes"]), "note on items: %s" % j["tasks"][0]["notes"])

# ---- several samples per item: the paired bootstrap through the aggregate ----
SA = make_run("SA", lambda i, s: "strict" if (i + s) % 3 else "wrong", samples=2)
SB = make_run("SB", lambda i, s: "strict" if (i + s) % 4 else "wrong", samples=2)
st, out, err = compare(SA, SB, "--format", "json")
r = json.loads(out)["rows"][0]
ma = sum(1 for i in range(N) for s in range(2) if (i + s) % 3) / (2 * N)
mb = sum(1 for i in range(N) for s in range(2) if (i + s) % 4) / (2 * N)
check(r["test"] == "bootstrap" and abs(r["delta"] - (mb - ma)) < 1e-12, "bootstrap delta %s" % r.get("delta"))
check(0 < r["p"] <= 1 and r["delta_ci95"][0] <= r["delta"] <= r["delta_ci95"][1], "bootstrap p and interval")
st, out2, err = compare(SA, SB, "--format", "json")
check(json.loads(out2)["rows"][0]["p"] == r["p"], "the bootstrap is deterministic")

# ---- the published numbers shipped in references/ load and land on their rows ----
import glob
from tallytest import SRC
for f in sorted(glob.glob(os.path.join(SRC, "references", "*.json"))):
    st, out, err = compare(A, "--reference", f, "--format", "json", code=0)
    refs = [r["references"][0] for r in json.loads(out)["rows"] if r["references"][0] is not None]
    check(st == 0 and refs, "references/%s: %s" % (os.path.basename(f), err[-300:]))

# ---- references and labels ----
ref = os.path.join(base, "ref.json")
json.dump({"name": "model card", "metrics": {"gsm8k": 92.49, "gsm8k_cot/flexible_extract": 80}}, open(ref, "w"))
st, out, err = compare(A, B, "--reference", ref, "--label", "base", "--label", "cand", "--format", "json")
j = json.loads(out)
check(j["references"] == ["model card"] and [x["label"] for x in j["runs"]] == ["base", "cand"], "reference and labels")
check(abs(j["rows"][0]["references"][0] - 0.9249) < 1e-12 and abs(j["rows"][1]["references"][0] - 0.80) < 1e-12,
      "reference values %s" % [x["references"] for x in j["rows"]])
st, out, err = compare(A, B, "--reference", ref)
check("ref: model card" in out and "92.49" in out, "md reference column")

# ---- several tasks, and directories of runs ----
M1, M2 = os.path.join(base, "M1"), os.path.join(base, "M2")
for m in (M1, M2):
    tally("run", "--task", "gsm8k_cot,gsm8k_cot_zeroshot", "--model", "oracle", "--limit", "10", "--out", m, "--quiet", check=0)
st, out, err = compare(M1, M2, "--format", "json", "--fail-if-worse", "0")
j = json.loads(out)
check([t["task"] for t in j["tasks"]] == ["gsm8k_cot", "gsm8k_cot_zeroshot"], "two tasks")
check(all(r["p"] == 1 for r in j["rows"]), "identical runs: p = 1")
st, out, err = compare(M1, A, "--format", "json")
j = json.loads(out)
check(any("missing in A" in n for t in j["tasks"] for n in t["notes"]), "a task only in one run is named")

# ---- usage and bad input ----
compare(code=2)
compare(A, B, "--format", "yaml", code=2)
compare(A, B, "--alpha", "2", code=2)
st, out, err = compare(A, os.path.join(base, "nope"), code=1)
check("nope" in err, err)
bad = os.path.join(base, "badscores")
os.makedirs(bad)
for f in ("manifest.json", "results.json"):
    open(os.path.join(bad, f), "w").write(open(os.path.join(A, f)).read())
open(os.path.join(bad, "scores.jsonl"), "w").write('{"id": "0", "sample": 0, "outcome": "maybe"}\n')
st, out, err = compare(A, bad, code=1)
check('unknown outcome "maybe"' in err and "scores.jsonl:1" in err, err)

# ---- tally diff ----
st, out, err = tally("diff", A, B, check=0)
differ = sum(1 for i in range(N) if rule_a(i) != rule_b(i))
check("answers differ on %d of %d" % (differ, N) in out, "diff counts changed answers: " + out)
check("prompt sha256 differs on 0 of %d" % N in out, "diff: same prompts")
check("`runner.model`" in out, "diff lists the model")
st, out, err = tally("diff", A, B, "--format", "json", check=0)
j = json.loads(out)
t = j["tasks"][0]
resc = {m["metric"]: m for m in t["rescore"]["metrics"]}
sa, sb = results(A)["metrics"]["strict_match"]["value"], results(B)["metrics"]["strict_match"]["value"]
check(abs(resc["strict_match"]["gap"] - (sb - sa)) < 1e-12, "diff: the gap is B - A")
check(abs(resc["strict_match"]["answers_changed"] - (sb - sa)) < 1e-12 and resc["strict_match"]["grading_changed"] == 0,
      "diff: same scoring, the answers explain it all")
st, out, err = tally("diff", A, S, check=0)
check("not comparable" in out and "settings.shots" in out and "prompt sha256 differs on %d of %d" % (N, N) in out,
      "diff: other shots change every prompt: " + out)
st, out, err = tally("diff", A, B, "--no-rescore", check=0)
check("No re-scoring: --no-rescore" in out, out)
tally("diff", A, check=2)

# ---- a task with its own aggregate (BFCL): the bootstrap recomputes it ----
BO = os.path.join(base, "BO")
tally("run", "--task", "bfcl", "--model", "oracle", "--shard", "0/8", "--out", BO, "--quiet", check=0)
bx = os.path.join(base, "bx.jsonl")
with open(bx, "w") as f:
    for k, smp in enumerate(read_jsonl(os.path.join(BO, "samples.jsonl"))):
        r = {"id": smp["id"], "completion": smp.get("completion", "")}
        if smp.get("tool_calls"):
            r["tool_calls"] = [{"name": c["name"], "arguments": c["arguments"]} for c in smp["tool_calls"]]
        if k % 3 == 0:  # a third answered with prose instead of a call
            r = {"id": smp["id"], "completion": "I would rather not."}
        f.write(json.dumps(r) + "\n")
BX = os.path.join(base, "BX")
tally("run", "--task", "bfcl", "--model", bx, "--shard", "0/8", "--out", BX, "--quiet", check=0)
st, out, err = compare(BO, BX, "--format", "json", "--bootstrap", "200")
j = json.loads(out)
rows = {r["metric"]: r for r in j["rows"]}
ro, rx = results(BO)["metrics"], results(BX)["metrics"]
for m in ("overall_ast", "non_live", "simple_python"):
    check(m in rows and rows[m]["test"] == "bootstrap", "bfcl %s tested by the bootstrap" % m)
    check(abs(rows[m]["delta"] - (rx[m]["value"] - ro[m]["value"])) < 1e-9, "bfcl %s delta" % m)
check(rows["overall_ast"]["delta"] < 0 and rows["overall_ast"]["p"] < 0.05, "bfcl: a significant drop")
check(rows["decode_failure_rate"]["lower_is_better"], "bfcl: a failure rate is better lower")
# without the dataset (another machine, a CI artifact) the aggregate reads
# each verdict's category: the same figures, no crash
nodata = os.path.join(base, "no-data")
os.makedirs(nodata, exist_ok=True)
st, out2, err = tally("compare", BO, BX, "--format", "json", "--bootstrap", "200",
                      env={"TALLY_DATA": nodata}, check=0)
check(st == 0, "compare without the dataset: exit %d %s" % (st, err[-600:]))
if st == 0:
    rows2 = {r["metric"]: r for r in json.loads(out2)["rows"]}
    check(rows2.get("overall_ast", {}).get("p") == rows["overall_ast"]["p"],
          "compare without the dataset: same bootstrap p")
st, out, err = tally("diff", BO, BX, check=0)
check("Verdicts (stored scores, `outcome`)" in out and "only BX 0" in out, "diff on bfcl: " + out[-1200:])

cleanup(base)
done()
