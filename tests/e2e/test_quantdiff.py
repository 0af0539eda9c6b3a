"""tally quantdiff through the binary: a fixture against itself (KL exactly 0), F32 against
Q4_0 (KL > 0, figures printed), the records and the results consistent with each other,
--text windows, --all-positions, determinism across thread counts, the run directory read
by tally compare and tally report, and the failure exits (different vocabularies, a MoE
file, a truncated file, usage errors, a directory holding another run)."""
import json
import math
import os
import shutil

from tallytest import check, cleanup, done, read_jsonl, results, tally, tmpdir

FIX = os.environ.get("TALLY_FIXTURES", "../shared/fixtures")
MODELS = os.path.join(FIX, "models")
F32 = os.path.join(MODELS, "tiny-granite.f32.gguf")
Q4 = os.path.join(MODELS, "tiny-granite.q4_0.gguf")
Q8 = os.path.join(MODELS, "tiny-granite.q8_0.gguf")
LING_F32 = os.path.join(MODELS, "tiny-ling.f32.gguf")
LING_Q4 = os.path.join(MODELS, "tiny-ling.q4_0.gguf")
GPT2_VOCAB = os.path.join(FIX, "tokenizer", "ggml-vocab-gpt-2.gguf")
METRICS = ["kl_mean", "kl_median", "kl_p99", "kl_max", "top1_agreement", "ppl_base", "ppl_quant",
           "ppl_ratio", "greedy_identical"]

base = tmpdir()
cache = os.path.join(base, "cache")


def qd(*args, check_status=0):
    return tally("quantdiff", *args, "--threads", "2", "--cache-dir", cache, check=check_status)


def consistent(d, what):
    """The records, the results and the manifest of a run directory agree."""
    r = results(d)
    recs = read_jsonl(os.path.join(d, "scores.jsonl"))
    m = r["metrics"]
    check(r["task"] == "quantdiff", "%s: task %s" % (what, r["task"]))
    check(list(m) == METRICS, "%s: metrics %s" % (what, list(m)))
    for name in METRICS:
        v = m[name]
        check(set(v) >= {"value", "n", "stderr", "ci95", "unit"}, "%s %s: %s" % (what, name, v))
    check(m["kl_mean"]["unit"] == "nats" and m["top1_agreement"]["unit"] == "fraction", what)
    tokens = sum(x["tokens"] for x in recs)
    check(r["tokens"] == tokens and m["kl_mean"]["n"] == tokens, "%s: %d tokens" % (what, tokens))
    check(r["items"] == len(recs) and m["greedy_identical"]["n"] == len(recs), what)
    kl = sum(x["kl_mean"] * x["tokens"] for x in recs) / tokens
    check(abs(kl - m["kl_mean"]["value"]) <= 1e-9 * (1 + kl), "%s: kl_mean %r vs records %r"
          % (what, m["kl_mean"]["value"], kl))
    agree = sum(x["top1_agreement"] * x["tokens"] for x in recs) / tokens
    check(abs(agree - m["top1_agreement"]["value"]) < 1e-9, what)
    nb = sum(x["nll_base"] * x["tokens"] for x in recs) / tokens
    nq = sum(x["nll_quant"] * x["tokens"] for x in recs) / tokens
    check(abs(math.exp(nb) - m["ppl_base"]["value"]) <= 1e-9 * m["ppl_base"]["value"], what)
    check(abs(math.exp(nq) - m["ppl_quant"]["value"]) <= 1e-9 * m["ppl_quant"]["value"], what)
    check(abs(math.exp(nq - nb) - m["ppl_ratio"]["value"]) <= 1e-9 * m["ppl_ratio"]["value"], what)
    check(m["kl_max"]["value"] == max(x["kl_max"] for x in recs) or
          abs(m["kl_max"]["value"] - max(x["kl_max"] for x in recs)) < 1e-6, what)
    check(m["kl_median"]["value"] <= m["kl_p99"]["value"] <= m["kl_max"]["value"] + 1e-9, what)
    for name in ("kl_mean", "top1_agreement", "ppl_base", "ppl_quant", "ppl_ratio"):
        lo, hi = m[name]["ci95"]
        check(lo <= m[name]["value"] <= hi, "%s %s: %r outside %r" % (what, name, m[name]["value"], [lo, hi]))
    h = r["kl_histogram"]
    check(len(h["edges"]) == len(h["counts"]) + 1 and h["log_scale"] is True, "%s: %s" % (what, h))
    check(all(a < b for a, b in zip(h["edges"], h["edges"][1:])), "%s: edges increase" % what)
    check(sum(h["counts"]) == tokens, "%s: histogram counts %s" % (what, sum(h["counts"])))
    for x in recs:
        check(x["sample"] == 0 and x["outcome"] in ("correct", "wrong"), x)
        check((x["first_divergence"] is None) == (x["outcome"] == "correct"), x)
        check((x["reason"] is None) == (x["outcome"] == "correct"), x)
        if x["first_divergence"] is not None:
            check(0 <= x["first_divergence"] < x["tokens"], x)
            check(x["top1_agreement"] < 1, x)
        check(0 <= x["kl_mean"] <= x["kl_max"] + 1e-12, x)
    ident = sum(x["outcome"] == "correct" for x in recs) / len(recs)
    check(m["greedy_identical"]["value"] == ident, what)
    check(r["info"]["quantdiff"]["items_diverged"] == len(recs) - sum(x["outcome"] == "correct" for x in recs), what)
    man = json.load(open(os.path.join(d, "manifest.json"), encoding="utf-8"))
    check(man["task"] == "quantdiff" and "finished" in man, "%s: manifest" % what)
    return r, recs, man


# ---- a file against itself: nothing differs, exactly ----
self_dir = os.path.join(base, "self")
st, out, err = qd(F32, F32, "--task", "gsm8k_cot", "--limit", "2", "--max-tokens", "24", "--out", self_dir)
r, recs, man = consistent(self_dir, "self")
m = r["metrics"]
check(m["kl_mean"]["value"] < 1e-12 and m["kl_max"]["value"] < 1e-12, "self KL: %s" % m["kl_mean"])
check(m["kl_mean"]["value"] == 0 and m["kl_p99"]["value"] == 0, "self KL is exactly 0")
check(m["top1_agreement"]["value"] == 1.0, "self agreement %s" % m["top1_agreement"])
check(m["ppl_ratio"]["value"] == 1.0 and m["ppl_ratio"]["ci95"] == [1, 1], "self ppl ratio %s" % m["ppl_ratio"])
check(m["ppl_base"]["value"] == m["ppl_quant"]["value"], "self perplexities")
check(m["greedy_identical"]["value"] == 1.0, "self greedy identical")
check(all(x["first_divergence"] is None and x["kl_max"] == 0 for x in recs), "self records")
check(r["info"]["quantdiff"]["base_greedy_mismatch"] == 0, "BASE's own answers are its greedy choices")
check(man["models"]["base"]["sha256"] == man["models"]["quant"]["sha256"], "self sha256")
check("kl_mean" in out and "ppl_ratio" in out and "0 of 2 items" in out, out)
print("quantdiff F32 vs F32:", json.dumps({k: m[k]["value"] for k in METRICS}))

# ---- F32 against Q4_0: the 8-shot GSM8K prompts, BASE's answers scored ----
q4_dir = os.path.join(base, "q4")
st, out, err = qd(F32, Q4, "--task", "gsm8k_cot", "--limit", "3", "--out", q4_dir)
r, recs, man = consistent(q4_dir, "q4")
m = r["metrics"]
check(m["kl_mean"]["value"] > 0 and m["kl_max"]["value"] > 0, "F32 vs Q4_0 KL %s" % m["kl_mean"])
check(0 < m["kl_mean"]["ci95"][0], "the KL interval excludes 0: %s" % m["kl_mean"])
check(m["top1_agreement"]["value"] < 1, "agreement %s" % m["top1_agreement"])
check(m["ppl_quant"]["value"] != m["ppl_base"]["value"], "perplexities differ")
check(len(recs) == 3 and all(x["tokens"] == x["answer_tokens"] for x in recs), "answer tokens scored")
check(r["info"]["quantdiff"]["base_greedy_mismatch"] == 0, "BASE's answers are its greedy choices")
check(man["models"]["quant"]["tensor_types"] == {"F32": 9, "Q4_0": 29}, man["models"]["quant"])
check(man["models"]["base"]["tensor_types"] == {"F32": 38}, man["models"]["base"])
check(man["source"]["task"] == "gsm8k_cot" and man["dataset"]["sha256"], man["source"])
check(man["settings"]["max_tokens"] == 64 and man["settings"]["prompt_style"] == "raw", man["settings"])
samples = read_jsonl(os.path.join(q4_dir, "samples.jsonl"))
check([s["id"] for s in samples] == [x["id"] for x in recs], "samples.jsonl has BASE's answers")
for s, x in zip(samples, recs):
    check(s["completion_tokens"] == x["answer_tokens"] and s["prompt_tokens"] == x["prompt_tokens"], s)
    check(s["finish_reason"] in ("stop", "length"), s)
print("quantdiff F32 vs Q4_0 (gsm8k_cot, 3 items):",
      json.dumps({k: [m[k]["value"], m[k]["ci95"]] for k in METRICS}))
print(out)

# the same answers from tally run: quantdiff's BASE answers are what a score run gets
run_dir = os.path.join(base, "run-f32")
tally("run", "--task", "gsm8k_cot", "--model", F32, "--limit", "3", "--max-tokens", "64", "--prompt-style",
      "raw", "--threads", "2", "--out", run_dir, "--quiet", "--cache-dir", cache, check=0)
run_samples = {s["id"]: s for s in read_jsonl(os.path.join(run_dir, "samples.jsonl"))}
check(all(run_samples[s["id"]]["completion"] == s["completion"] for s in samples),
      "quantdiff's BASE answers are tally run's")
check(all(run_samples[s["id"]]["prompt_sha256"] == s["prompt_sha256"] for s in samples), "the same prompts")
check(all(run_samples[s["id"]]["completion_tokens"] == s["completion_tokens"] for s in samples), "token counts")

# Q8_0 drifts less than Q4_0 on the same answers
q8_dir = os.path.join(base, "q8")
qd(F32, Q8, "--task", "gsm8k_cot", "--limit", "3", "--out", q8_dir)
r8, _, _ = consistent(q8_dir, "q8")
check(0 < r8["metrics"]["kl_mean"]["value"] < m["kl_mean"]["value"],
      "Q8_0 %r < Q4_0 %r" % (r8["metrics"]["kl_mean"]["value"], m["kl_mean"]["value"]))
print("quantdiff F32 vs Q8_0: kl_mean %.6g, top1_agreement %.4f" %
      (r8["metrics"]["kl_mean"]["value"], r8["metrics"]["top1_agreement"]["value"]))

# ---- determinism: another thread count, a batch, the same numbers ----
d1 = os.path.join(base, "t1")
tally("quantdiff", F32, Q4, "--task", "gsm8k_cot_zeroshot", "--limit", "3", "--max-tokens", "16",
      "--threads", "1", "--out", d1, "--cache-dir", cache, check=0)
d2 = os.path.join(base, "t2")
tally("quantdiff", F32, Q4, "--task", "gsm8k_cot_zeroshot", "--limit", "3", "--max-tokens", "16",
      "--threads", "2", "--batch", "3", "--out", d2, "--cache-dir", cache, check=0)
check(read_jsonl(os.path.join(d1, "scores.jsonl")) == read_jsonl(os.path.join(d2, "scores.jsonl")),
      "threads and batch do not change the figures")

# ---- every position ----
ap = os.path.join(base, "allpos")
qd(F32, Q4, "--task", "gsm8k_cot_zeroshot", "--limit", "2", "--max-tokens", "8", "--all-positions", "--out", ap)
r, recs, man = consistent(ap, "all-positions")
check(all(x["tokens"] == x["prompt_tokens"] + x["answer_tokens"] - 1 for x in recs), recs)
check(man["settings"]["all_positions"] is True, man["settings"])

# ---- --text: windows of --ctx tokens ----
text = os.path.join(base, "text.txt")
with open(os.path.join(os.environ.get("TALLY_DATA", "../shared/datasets"), "gsm8k", "test.jsonl"),
          encoding="utf-8") as f:
    body = f.read(4000)
with open(text, "w", encoding="utf-8") as f:
    f.write(body)
td = os.path.join(base, "text")
st, out, err = qd(F32, Q4, "--text", text, "--ctx", "100", "--out", td)
r, recs, man = consistent(td, "text")
check(len(recs) >= 3 and [x["id"] for x in recs][:2] == ["w0", "w1"], [x["id"] for x in recs])
# tiny-granite adds no BOS: windows of 100 tokens, 99 predictions each but the last
check(all(x["tokens"] == 99 for x in recs[:-1]) and 1 <= recs[-1]["tokens"] <= 99, [x["tokens"] for x in recs])
check(man["dataset"]["path"] == text and man["source"]["kind"] == "text", man["source"])
check(not os.path.exists(os.path.join(td, "samples.jsonl")), "no answers in text mode")
check(r["metrics"]["kl_mean"]["value"] > 0, r["metrics"]["kl_mean"])
tdl = os.path.join(base, "text-limit")
qd(F32, Q4, "--text", text, "--ctx", "100", "--limit", "2", "--out", tdl)
check(len(read_jsonl(os.path.join(tdl, "scores.jsonl"))) == 2, "--limit 2 windows")
check(read_jsonl(os.path.join(tdl, "scores.jsonl")) == recs[:2], "the same windows")
print("quantdiff F32 vs Q4_0 (--text, %d windows): kl_mean %.6g, ppl %.4g -> %.4g" %
      (len(recs), r["metrics"]["kl_mean"]["value"], r["metrics"]["ppl_base"]["value"],
       r["metrics"]["ppl_quant"]["value"]))

# the figures of one window against KL, NLL and top-1 computed here from `tally logits --all`
# of each file (the position alignment and the math, independently of the C statistics)
short = os.path.join(base, "short.txt")
with open(short, "w", encoding="utf-8") as f:
    f.write("Question: Natalia sold clips to 48 of her friends in April, and then she sold half as many.")
sd = os.path.join(base, "short")
qd(F32, Q4, "--text", short, "--out", sd)
rec = read_jsonl(os.path.join(sd, "scores.jsonl"))[0]
lg = {}
for name, path in (("base", F32), ("quant", Q4)):
    st, out, err = tally("logits", "--model", path, "--file", short, "--all", "--threads", "2", check=0)
    lg[name] = json.loads(out)
toks = lg["base"]["tokens"]
check(lg["quant"]["tokens"] == toks and rec["tokens"] == len(toks) - 1, "%d tokens" % len(toks))


def log_softmax(row):
    mx = max(row)
    lse = mx + math.log(sum(math.exp(v - mx) for v in row))
    return [v - lse for v in row]


kls, agree, nb, nq, first = [], 0, 0.0, 0.0, None
for p in range(len(toks) - 1):
    lb, lq = log_softmax(lg["base"]["logits"][p]), log_softmax(lg["quant"]["logits"][p])
    kls.append(sum(math.exp(a) * (a - b) for a, b in zip(lb, lq)))
    ab = max(range(len(lb)), key=lambda i: (lb[i], -i))
    aq = max(range(len(lq)), key=lambda i: (lq[i], -i))
    agree += ab == aq
    if ab != aq and first is None:
        first = p
    nb -= lb[toks[p + 1]]
    nq -= lq[toks[p + 1]]
n = len(kls)
check(abs(rec["kl_mean"] - sum(kls) / n) < 1e-6, "kl_mean %r vs %r" % (rec["kl_mean"], sum(kls) / n))
check(abs(rec["kl_max"] - max(kls)) < 1e-6, "kl_max %r vs %r" % (rec["kl_max"], max(kls)))
check(abs(rec["top1_agreement"] - agree / n) < 1e-12, "agreement")
check(rec["first_divergence"] == first, "first divergence %r vs %r" % (rec["first_divergence"], first))
check(abs(rec["nll_base"] - nb / n) < 1e-6 and abs(rec["nll_quant"] - nq / n) < 1e-6, "NLLs")
print("one window checked against tally logits: %d positions, kl_mean %.6f" % (n, sum(kls) / n))

# running again into a finished directory: every record kept, nothing recomputed, the same results
before = open(os.path.join(td, "scores.jsonl"), encoding="utf-8").read()
res_before = results(td)
st, out, err = qd(F32, Q4, "--text", text, "--ctx", "100", "--out", td)
check("resuming: %d of %d windows already scored" % (len(before.splitlines()), len(before.splitlines())) in err,
      "a finished run resumes with nothing left: " + err)
check(open(os.path.join(td, "scores.jsonl"), encoding="utf-8").read() == before, "records kept as written")
check(results(td)["metrics"] == res_before["metrics"], "the same results")
# other settings into it are refused, naming what differs, and the directory is untouched
st, out, err = qd(F32, Q4, "--text", text, "--ctx", "100", "--limit", "1", "--out", td, check_status=1)
check("token source" in err and "resume with the same settings" in err, err)
st, out, err = qd(F32, Q8, "--text", text, "--ctx", "100", "--out", td, check_status=1)
check("--model" in err or "QUANT" in err, err)
check(open(os.path.join(td, "scores.jsonl"), encoding="utf-8").read() == before, "a refused run writes nothing")

# ---- killed mid-run (SIGKILL, after k records), then the same command again: the same
# records and results as the uninterrupted run (q4_dir), nothing scored twice ----
import signal
import subprocess
import time
from tallytest import BIN
q4_args = [F32, Q4, "--task", "gsm8k_cot", "--limit", "3"]
ref_scores = open(os.path.join(q4_dir, "scores.jsonl"), encoding="utf-8").read()
for k in (0, 1, 2):
    kd = os.path.join(base, "killed%d" % k)
    p = subprocess.Popen([BIN, "quantdiff"] + q4_args + ["--out", kd, "--threads", "2", "--cache-dir", cache,
                                                          "--quiet"],
                         env=dict(os.environ), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    sp = os.path.join(kd, "scores.jsonl")
    t0 = time.time()
    while time.time() - t0 < 60 and p.poll() is None:
        n = len(open(sp, encoding="utf-8").read().splitlines()) if os.path.exists(sp) else 0
        if (k == 0 and os.path.exists(os.path.join(kd, "manifest.json"))) or (k and n >= k):
            break
        time.sleep(0.005)
    alive = p.poll() is None
    p.send_signal(signal.SIGKILL)
    p.wait()
    kept = len(open(sp, encoding="utf-8").read().splitlines()) if os.path.exists(sp) else 0
    print("quantdiff killed %s with %d records on disk" % ("mid-run" if alive else "after it ended", kept))
    if k == 2 and os.path.exists(sp):
        with open(sp, "a", encoding="utf-8") as f:  # a record cut short by the kill
            f.write('{"id":"2","sample":0,"outcome":"wr')
    st, out, err = qd(*q4_args, "--out", kd)
    if kept:
        check("resuming: %d of 3 items already scored" % kept in err, "the kept records are reused: " + err)
    got = open(sp, encoding="utf-8").read()
    check(got == ref_scores, "killed after %d records: scores.jsonl differs from the uninterrupted run's" % k)
    check(results(kd)["metrics"] == results(q4_dir)["metrics"], "killed after %d records: the same results" % k)
    check([s["completion"] for s in read_jsonl(os.path.join(kd, "samples.jsonl"))] ==
          [s["completion"] for s in read_jsonl(os.path.join(q4_dir, "samples.jsonl"))],
          "killed after %d records: the same answers, once each" % k)

# ---- tally compare and tally report read the directories ----
st, out, err = tally("compare", self_dir, q4_dir, check=0)
check("quantdiff" in out and "kl_mean" in out and "ppl_ratio" in out and "top1_agreement" in out, out)
check("greedy_identical" in out, out)
st, out, err = tally("compare", self_dir, q4_dir, "--format", "json", check=0)
rows = {row["metric"]: row for row in json.loads(out)["rows"]}
check("kl_mean" in rows, "compare json rows: %s" % list(rows))
html = os.path.join(base, "report.html")
st, out, err = tally("report", self_dir, q4_dir, "--out", html, check=0)
page = open(html, encoding="utf-8").read()
check("KL divergence per token" in page and "kl_mean" in page, "report names the histogram")
if shutil.which("gnuplot"):
    check(page.count("<svg") >= 2, "histograms drawn")
# next to score runs: the quantdiff directory sits in the quantized model's run set
sets = os.path.join(base, "sets")
os.makedirs(os.path.join(sets, "f32"))
os.makedirs(os.path.join(sets, "q4"))
shutil.copytree(run_dir, os.path.join(sets, "f32", "gsm8k_cot"))
tally("run", "--task", "gsm8k_cot", "--model", Q4, "--limit", "3", "--max-tokens", "64", "--prompt-style", "raw",
      "--threads", "2", "--out", os.path.join(sets, "q4", "gsm8k_cot"), "--quiet", "--cache-dir", cache, check=0)
shutil.copytree(q4_dir, os.path.join(sets, "q4", "quantdiff"))
st, out, err = tally("compare", os.path.join(sets, "f32"), os.path.join(sets, "q4"), check=0)
check("gsm8k_cot" in out and "strict_match" in out and "quantdiff" in out and "kl_mean" in out, out)

# ---- failures ----
# different vocabularies
st, out, err = qd(F32, GPT2_VOCAB, "--task", "gsm8k_cot", "--limit", "1", "--out", os.path.join(base, "x"),
                  check_status=1)
check("do not share a vocabulary" in err and "1007" in err and "50257" in err, err)
# the same tokens, another pre-tokenizer and BOS rule (tiny-ling's): not the same tokenizer
st, out, err = qd(F32, LING_Q4, "--task", "gsm8k_cot", "--limit", "1", "--out", os.path.join(base, "x"),
                  check_status=1)
check("do not share a tokenizer" in err, err)
# a MoE pair: the native engine cannot run it yet, and says what that costs
st, out, err = qd(LING_F32, LING_Q4, "--task", "gsm8k_cot", "--limit", "1", "--out", os.path.join(base, "x"),
                  check_status=1)
check("bailingmoe2" in err and "MoE" in err and "experts" in err, err)
# a truncated file
trunc = os.path.join(base, "trunc.gguf")
with open(Q4, "rb") as f:
    data = f.read()
with open(trunc, "wb") as f:
    f.write(data[:len(data) // 2])
st, out, err = qd(F32, trunc, "--task", "gsm8k_cot", "--limit", "1", "--out", os.path.join(base, "x"), check_status=1)
check("trunc.gguf" in err, err)
st, out, err = qd(F32, os.path.join(base, "nope.gguf"), "--text", text, "--out", os.path.join(base, "x"),
                  check_status=1)
check("nope.gguf" in err, err)
# a directory that holds another command's run
st, out, err = qd(F32, Q4, "--text", text, "--out", run_dir, check_status=2)
check("holds a run of gsm8k_cot" in err, err)
check(os.path.exists(os.path.join(run_dir, "samples.jsonl")), "the other run is left alone")
# chat prompts need a template the file does not have
st, out, err = qd(F32, Q4, "--task", "gsm8k_cot", "--prompt-style", "chat", "--limit", "1",
                  "--out", os.path.join(base, "x"), check_status=2)
check("--prompt-style chat" in err, err)
# BFCL's prompts are chat messages in any style: a template is needed, as in tally run
st, out, err = qd(F32, Q4, "--task", "bfcl", "--limit", "1", "--out", os.path.join(base, "x"), check_status=2)
check("chat messages" in err and "--chat-template" in err, err)
bd = os.path.join(base, "bfcl")
qd(F32, Q4, "--task", "bfcl", "--limit", "2", "--max-tokens", "8", "--chat-template", "granite-4.0",
   "--prompt-style", "raw", "--out", bd)
r, recs, man = consistent(bd, "bfcl")
check(man["settings"]["chat_template"] == "granite-4.0" and man["settings"]["prompt_style"] == "raw", man["settings"])
check(all(x["prompt_tokens"] > 100 for x in recs), "rendered BFCL prompts")
# usage errors: exit 2, one line naming the cause
usage = [
    ([F32], "two GGUF files"),
    ([F32, Q4, "--out", os.path.join(base, "x")], "--text FILE or --task T"),
    ([F32, Q4, "--text", text, "--task", "gsm8k_cot", "--out", os.path.join(base, "x")], "--text FILE or --task T"),
    ([F32, Q4, "--text", text], "--out"),
    ([F32, Q4, "--text", text, "--ctx", "1", "--out", os.path.join(base, "x")], "--ctx"),
    ([F32, Q4, "--text", text, "--ids", "1", "--out", os.path.join(base, "x")], "go with --task"),
    ([F32, Q4, "--task", "gsm8k_cot", "--prompt-style", "fancy", "--out", os.path.join(base, "x")], "--prompt-style"),
    ([F32, Q4, "--task", "nosuch", "--out", os.path.join(base, "x")], 'unknown task "nosuch"'),
    ([F32, Q4, "--task", "gsm8k_cot", "--max-tokens", "0", "--out", os.path.join(base, "x")], "--max-tokens"),
    ([F32, Q4, "--task", "gsm8k_cot", "--frobnicate", "--out", os.path.join(base, "x")], "--frobnicate"),
]
for args, want in usage:
    st, out, err = qd(*args, check_status=2)
    check(want in err, "%s: %s" % (args, err))

st, out, err = tally("help", "quantdiff", check=0)
check("--all-positions" in out and "KL" in out, out)

cleanup(base)
done()
