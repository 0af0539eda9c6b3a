"""The native engine through the tally binary: tally run on GSM8K (raw and chat style,
resume), tally generate against the golden greedy tokens, tally logits against the
golden logits, tally bench --json, tally synth-model, and the failure exits."""
import hashlib
import json
import math
import os

from tallytest import check, cleanup, done, read_jsonl, results, tally, tmpdir

FIX = os.environ.get("TALLY_FIXTURES", "../shared/fixtures")
MODELS = os.path.join(FIX, "models")
Q8 = os.path.join(MODELS, "tiny-granite.q8_0.gguf")
F32 = os.path.join(MODELS, "tiny-granite.f32.gguf")
LING = os.path.join(MODELS, "tiny-ling.q4_0.gguf")


def golden(name):
    with open(os.path.join(MODELS, name + ".golden.json"), encoding="utf-8") as f:
        return json.load(f)


base = tmpdir()
cache = os.path.join(base, "cache")

# tally run: GSM8K chain-of-thought on the tiny model (raw: the fixture has no chat
# template); a longer context than the model's 256 for the 8-shot prompts
d = os.path.join(base, "raw")
run = ["run", "--task", "gsm8k_cot", "--backend", "native", "--model", Q8, "--limit", "5",
       "--out", d, "--threads", "2", "--batch", "3", "--max-tokens", "24", "--cache-dir", cache]
st, out, err = tally(*run, check=0)
samples = read_jsonl(os.path.join(d, "samples.jsonl"))
check(len(samples) == 5, "5 samples: %d" % len(samples))
for s in samples:
    check("error" not in s, "no error: %s" % s.get("error"))
    check(s["finish_reason"] in ("stop", "length"), s["finish_reason"])
    check(0 < s["completion_tokens"] <= 24, "completion tokens %s" % s["completion_tokens"])
    check(s["prompt_tokens"] > 500, "an 8-shot prompt: %s tokens" % s["prompt_tokens"])
    check(s["prompt"].startswith("Q: "), "raw prompt: %r" % s["prompt"][:40])
    check(s["prompt_sha256"] == hashlib.sha256(s["prompt"].encode()).hexdigest(), "prompt sha256")
    check(len(s["prompt_token_ids"]) == s["prompt_tokens"], "prompt token ids")
r = results(d)
check(r["samples"] == 5 and sum(r["outcomes"].values()) == 5, "results: %s" % r)
man = json.load(open(os.path.join(d, "manifest.json")))
rn = man["runner"]
check(rn["backend"] == "native" and rn["architecture"] == "granite", rn)
check(rn["sha256"] == hashlib.sha256(open(Q8, "rb").read()).hexdigest(), "manifest sha256")
check(rn["parameters"] == 1832960 and rn["tensor_types"] == {"F32": 9, "Q8_0": 29}, rn)
check(rn["batch"] == 3 and rn["threads"] == 2, rn)
check(man["settings"]["prompt_style"] == "raw", man["settings"])
check(os.path.exists(os.path.join(cache, "model-sha256.tsv")), "the sha256 is cached")
# resume: nothing left to do, the same samples
st, out, err = tally(*run, check=0)
check(read_jsonl(os.path.join(d, "samples.jsonl")) == samples, "resume keeps the samples")
# zero-shot prompts (short) decoded 4 at a time and one at a time: the same greedy text
comp = []
for batch in ("4", "1"):
    d2 = os.path.join(base, "zs" + batch)
    tally("run", "--task", "gsm8k_cot_zeroshot", "--backend", "native", "--model", Q8, "--limit",
          "6", "--out", d2, "--threads", "2", "--batch", batch, "--max-tokens", "32",
          "--cache-dir", cache, check=0)
    comp.append([s["completion"] for s in read_jsonl(os.path.join(d2, "samples.jsonl"))])
check(len(comp[0]) == 6 and comp[0] == comp[1], "batch 4 and batch 1 give the same completions")

# chat style with a named template: the rendered prompt is recorded
d = os.path.join(base, "chat")
st, out, err = tally("run", "--task", "gsm8k_cot_zeroshot", "--backend", "native", "--model",
                     Q8, "--limit", "2", "--out", d, "--threads", "2", "--max-tokens", "8",
                     "--prompt-style", "chat", "--chat-template", "granite-4.0",
                     "--cache-dir", cache, check=0)
for s in read_jsonl(os.path.join(d, "samples.jsonl")):
    check(s["prompt"].startswith("<|start_of_role|>"), "chat prompt: %r" % s["prompt"][:60])
    check(s["prompt"].endswith("<|start_of_role|>assistant<|end_of_role|>"), s["prompt"][-60:])
    check(s["prompt_sha256"] == hashlib.sha256(s["prompt"].encode()).hexdigest(), "chat sha256")
man = json.load(open(os.path.join(d, "manifest.json")))
check(man["settings"]["prompt_style"] == "chat", man["settings"])
check(man["runner"]["chat_template"]["family"] == "granite-4.0", man["runner"])
# chat style without a template: a usage error that asks for one
st, out, err = tally("run", "--task", "gsm8k_cot", "--backend", "native", "--model", Q8,
                     "--limit", "1", "--out", os.path.join(base, "nochat"), "--prompt-style",
                     "chat", check=2)
check("--chat-template" in err, err)
# an architecture the engine does not run yet
st, out, err = tally("run", "--task", "gsm8k", "--model", LING, "--limit", "1",
                     "--out", os.path.join(base, "ling"), check=1)
check("architecture bailingmoe2 is not supported by the native engine yet" in err, err)

# tally generate: greedy from the golden prompts gives the golden tokens (F32)
g = golden("tiny-granite.f32")
for p in g["prompts"][:3]:
    st, out, err = tally("generate", "--model", F32, "--prompt", p["text"], "--max-tokens", "16",
                         "--json", "--threads", "2", check=0)
    j = json.loads(out)
    want = p["greedy_tokens"]
    if 1006 in want:  # EOS ends generation
        want = want[:want.index(1006) + 1]
    check(j["tokens"] == want, "generate %r: %s != %s" % (p["text"][:20], j["tokens"], want))
    check(j["prompt_tokens"] == len(p["tokens"]), "prompt tokens")
# seeded sampling: the same seed, the same text
outs = [tally("generate", "--model", Q8, "--prompt", "Hello", "--temperature", "1.0",
              "--top-k", "50", "--seed", str(seed), "--max-tokens", "12", "--quiet", check=0)[1]
        for seed in (5, 5, 6)]
check(outs[0] == outs[1], "same seed, same text")
check(outs[0] != outs[2], "another seed, another text")
# plain output and the statistics line; chat rendering needs a known template
st, out, err = tally("generate", "--model", Q8, "--prompt", "Hi", "--max-tokens", "4", check=0)
check("tally generate:" in err and "generated" in err, err)
st, out, err = tally("generate", "--model", Q8, "--prompt", "Hi", "--chat", check=1)
check("--chat-template" in err, err)
st, out, err = tally("generate", "--model", Q8, "--prompt", "Hi", "--chat", "--chat-template",
                     "granite-4.1", "--max-tokens", "4", "--json", check=0)
check(json.loads(out)["prompt"] == "<|start_of_role|>user<|end_of_role|>Hi<|end_of_text|>\n"
      "<|start_of_role|>assistant<|end_of_role|>", out)
tally("generate", "--prompt", "x", check=2)
tally("generate", "--model", Q8, check=2)
tally("generate", "--model", Q8, "--prompt", "x", "--max-tokens", "0", check=2)

# tally logits: tokens and logits against the goldens
for name, tol in (("tiny-granite.f32", 1e-3), ("tiny-granite.q8_0", None)):
    gg = golden(name)
    p = gg["prompts"][4]
    st, out, err = tally("logits", "--model", os.path.join(MODELS, name + ".gguf"), "--text",
                         p["text"], "--all", "--threads", "2", check=0)
    j = json.loads(out)
    check(j["tokens"] == p["tokens"], "logits tokens")
    check(len(j["logits"]) == len(p["tokens"]), "a row per position")
    d2 = sum((a - b) ** 2 for ra, rb in zip(j["logits"], p["all_logits"]) for a, b in zip(ra, rb))
    r2 = sum(b * b for rb in p["all_logits"] for b in rb)
    mx = max(abs(a - b) for ra, rb in zip(j["logits"], p["all_logits"]) for a, b in zip(ra, rb))
    nrmse = math.sqrt(d2 / r2)
    print("tally logits %s: max|d| %.3g, NRMSE %.3g" % (name, mx, nrmse))
    if tol:
        check(mx <= tol, "%s: max |d| %g" % (name, mx))
    else:
        check(nrmse <= 0.02, "%s: NRMSE %g" % (name, nrmse))
    # the last row alone is the golden's last row
    st, out, err = tally("logits", "--model", os.path.join(MODELS, name + ".gguf"), "--text",
                         p["text"], check=0)
    j1 = json.loads(out)
    check(len(j1["logits"]) == 1 and j1["logits"][0] == j["logits"][-1], "last row = --all's last")
tally("logits", "--model", F32, check=2)
st, out, err = tally("logits", "--model", os.path.join(base, "none.gguf"), "--text", "x", check=1)
check("none.gguf" in err, err)

# tally bench --json on the tiny model; unsupported architectures fail with one line
st, out, err = tally("bench", Q8, "--threads", "2", "--prompt", "32", "--gen", "8", "--reps",
                     "2", "--bw-mib", "16", "--json", check=0)
j = json.loads(out)
for k in ("prefill_tps", "decode_tps", "bandwidth_read_gbs", "decode_fraction_of_ceiling",
          "peak_rss_bytes"):
    check(k in j and j[k] > 0, "bench %s: %s" % (k, j.get(k)))
check(len(j["decode_runs"]) == 2 and j["batch"] == 1, out)
st, out, err = tally("bench", Q8, "--batch", "4", "--prompt", "16", "--gen", "4", "--reps",
                     "1", "--bw-mib", "16", check=0)
check("prefill" in out and "decode" in out and "of the ceiling" in out, out)
st, out, err = tally("bench", LING, check=1)
check(err.strip().endswith("architecture bailingmoe2 is not supported by the native engine yet"), err)
tally("bench", check=2)
tally("bench", Q8, "--batch", "0", check=2)

# tally synth-model: a tiny preset with the fixture's vocabulary loads and generates
syn = os.path.join(base, "tiny.q4_0.gguf")
st, out, err = tally("synth-model", "--preset", "tiny", "--type", "q4_0", "--out", syn,
                     "--vocab", F32, check=0)
check(os.path.exists(syn), "synth-model wrote the file")
st, out, err = tally("generate", "--model", syn, "--prompt", "Hello", "--max-tokens", "6",
                     "--json", check=0)
check(json.loads(out)["completion_tokens"] >= 1, out)
st, out, err = tally("bench", syn, "--prompt", "16", "--gen", "4", "--reps", "1", "--bw-mib",
                     "16", "--json", check=0)
check(json.loads(out)["params"] > 1000000, out)
tally("synth-model", "--preset", "nope", "--out", syn, "--vocab", F32, check=2)
tally("synth-model", "--preset", "tiny", "--type", "q5_1", "--out", syn, "--vocab", F32, check=2)
tally("synth-model", "--preset", "tiny", "--out", os.path.join(base, "x.gguf"), "--vocab",
      os.path.join(base, "none.gguf"), check=1)

cleanup(base)
done()
