"""tally run / score on IFEval with the replay backend: a replay file over all
541 prompts (named by key, by key as text and by exact prompt; "response" and
"completion"), crafted answers with known verdicts, a line whose prompt is
no IFEval prompt (reported, the run goes on), reasoning blocks, compat
against fixed scoring, re-scoring giving the same verdicts, and the oracle's
refusal."""
import json
import os

from tallytest import check, cleanup, done, read_jsonl, results, tally, tmpdir, DATA

base = tmpdir()
items = read_jsonl(os.path.join(DATA, "ifeval", "input_data.jsonl"))
check(len(items) == 541, "541 prompts in the dataset")
by_key = {str(it["key"]): it for it in items}


def only(ids):
    """Items whose instruction list is exactly `ids`."""
    return [it for it in items if it["instruction_id_list"] == ids]


# Known answers for items with a single instruction (found by id, not by key).
crafted = {}
nc = only(["punctuation:no_comma"])
check(len(nc) >= 3, "items with only no_comma")
crafted[str(nc[0]["key"])] = ("Plain words and no commas at all.", "correct", "correct")
crafted[str(nc[1]["key"])] = ("First line, with a comma\nthe rest has none", "wrong", "correct")
# the comma sits in the reasoning block, which is removed before checking
crafted[str(nc[2]["key"])] = ("<think>Hmm, commas, commas.</think>\n\nNone here.", "correct", "correct")
qt = only(["startend:quotation"])
crafted[str(qt[0]["key"])] = ("Sure! Here it is:\n\"Quoted answer\"", "wrong", "correct")
crafted[str(qt[1]["key"])] = ("<think>I will quote it\n", "no_answer", "no_answer")  # unclosed block
lang = [it for it in only(["language:response_language"]) if it["kwargs"][0]["language"] == "hi"]
check(len(lang) >= 1, "an item asking for Hindi")
crafted[str(lang[0]["key"])] = ("नमस्ते! आज मैं आपको दिल्ली के बारे में बताना चाहता हूँ। यह भारत की राजधानी है।",
                                "correct", "correct")
lang2 = [it for it in only(["language:response_language"]) if str(it["key"]) not in crafted]
crafted[str(lang2[0]["key"])] = ("12345 !!! 678", "correct", "correct")  # no letters: compat follows

generic = ("Sure! Here is my answer.\n\nThe city council met on Tuesday to discuss the new "
           "budget. Many people enjoy walking in the park on a sunny afternoon.\n\n"
           "Rivers carry water from the mountains down to the sea.")

rp = os.path.join(base, "replay.jsonl")
with open(rp, "w", encoding="utf-8") as f:
    for i, it in enumerate(items):
        key = str(it["key"])
        text = crafted[key][0] if key in crafted else generic
        if i % 3 == 0:
            line = {"key": it["key"], "response": text}          # key as a number
        elif i % 3 == 1:
            line = {"key": key, "completion": text}               # key as text
        else:
            line = {"prompt": it["prompt"], "response": text}     # the exact prompt
        f.write(json.dumps(line, ensure_ascii=False) + "\n")
    # a prompt that is no IFEval prompt: reported, not silently dropped
    f.write(json.dumps({"prompt": "Write a haiku about tally.", "response": "x"}) + "\n")

d = os.path.join(base, "full")
st, out, err = tally("run", "--task", "ifeval", "--backend", "replay", "--model", rp, "--out", d, check=0)
check(":%d: prompt" % (len(items) + 1) in err and "matched no item" in err,
      "the unmatched prompt line is reported: " + err[-500:])
r = results(d)
check(r["items"] == 541 and r["samples"] == 541, "541 items scored")
m = r["metrics"]
for name in ("prompt_strict", "prompt_loose", "inst_strict", "inst_loose"):
    check(name in m, "metric " + name)
check(list(m)[:4] == ["prompt_strict", "prompt_loose", "inst_strict", "inst_loose"], "headline order")
check(m["prompt_strict"]["n"] == 541 and m["inst_strict"]["n"] == 834, "n: 541 prompts, 834 instructions")
ids = sorted({i for it in items for i in it["instruction_id_list"]})
check(len(ids) == 25, "25 instruction ids")
for i in ids:
    for kind in ("strict", "loose"):
        check("inst_%s/%s" % (kind, i) in m, "per-instruction metric inst_%s/%s" % (kind, i))
for c in sorted({i.split(":")[0] for i in ids}):
    check("category_strict/" + c in m and "category_loose/" + c in m, "per-category metric " + c)
n_nc = sum(it["instruction_id_list"].count("punctuation:no_comma") for it in items)
check(m["inst_strict/punctuation:no_comma"]["n"] == n_nc, "no_comma n = %d" % n_nc)
for x in m.values():
    check(0.0 <= x["value"] <= 1.0 and x["ci95"][0] - 1e-9 <= x["value"] <= x["ci95"][1] + 1e-9,
          "value inside its CI: %s" % x)
check(m["prompt_loose"]["value"] >= m["prompt_strict"]["value"], "loose >= strict")
check("inst_strict" in out and "prompt_strict" in out, "the table is printed")

scores = {s["id"]: s for s in read_jsonl(os.path.join(d, "scores.jsonl"))}
check(len(scores) == 541, "541 score lines")
for key, s in scores.items():
    it = by_key[key]
    check(s["instructions"] == it["instruction_id_list"], "%s: instruction ids in order" % key)
    check(len(s["strict"]) == len(s["loose"]) == len(it["instruction_id_list"]), "%s: verdict arrays" % key)
    check(all(isinstance(v, bool) for v in s["strict"] + s["loose"]), "%s: booleans" % key)
    check(all(l or not st for st, l in zip(s["strict"], s["loose"])), "%s: strict implies loose" % key)
    check((s["outcome"] == "correct") == all(s["strict"]), "%s: outcome is prompt-level strict" % key)
    check(s["metrics"]["prompt_strict"] == s["outcome"], "%s: metrics.prompt_strict" % key)
for key, (text, o_strict, o_loose) in crafted.items():
    s = scores[key]
    check(s["outcome"] == o_strict and s["metrics"]["prompt_loose"] == o_loose,
          "crafted %s (%s): %s/%s, expected %s/%s (%s)" % (key, by_key[key]["instruction_id_list"][0],
                                                         s["outcome"], s["metrics"]["prompt_loose"],
                                                         o_strict, o_loose, s.get("reason")))
check(scores[str(nc[2]["key"])].get("think") == "removed", "think block marked removed")
check(scores[str(qt[1]["key"])].get("think") == "unclosed", "unclosed think block marked")
check("startend:quotation" in (scores[str(qt[0]["key"])]["reason"] or ""), "reason names the instruction")

man = json.load(open(os.path.join(d, "manifest.json")))
sc = man.get("scoring", {})
check(sc.get("ifeval_mode") == "compat", "manifest: compat mode")
check("ifeval_think" in sc, "manifest: think rule recorded")
check(isinstance(sc.get("ifeval_langdetect"), dict) and sc["ifeval_langdetect"].get("seed") == 0,
      "manifest: langdetect seed")
check(str(sc.get("ifeval_punkt_tables", "")).endswith("punkt_tab/english"), "manifest: Punkt tables")

# tally score re-scores the stored answers: the same verdicts, line for line
before = open(os.path.join(d, "scores.jsonl")).read()
tally("score", d, check=0)
check(open(os.path.join(d, "scores.jsonl")).read() == before, "re-scoring is deterministic")
check(results(d)["metrics"] == m, "same metrics after re-scoring")

# fixed mode: the no-letters answer no longer counts as Hindi/any language
d2 = os.path.join(base, "fixed")
tally("run", "--task", "ifeval", "--model", rp, "--out", d2, "--ifeval-mode", "fixed", "--quiet", check=0)
s2 = {s["id"]: s for s in read_jsonl(os.path.join(d2, "scores.jsonl"))}
check(s2[str(lang2[0]["key"])]["outcome"] == "wrong", "fixed: no letters is not a language")
check(s2[str(lang[0]["key"])]["outcome"] == "correct", "fixed: Hindi is still Hindi")
check(json.load(open(os.path.join(d2, "manifest.json")))["scoring"]["ifeval_mode"] == "fixed",
      "manifest: fixed mode")

# a subset by --ids; missing answers for requested items are an error naming them
d3 = os.path.join(base, "subset")
keys = [str(items[0]["key"]), str(items[1]["key"])]
tally("run", "--task", "ifeval", "--model", rp, "--ids", ",".join(keys), "--out", d3, "--quiet", check=0)
check(results(d3)["items"] == 2 and results(d3)["metrics"]["prompt_strict"]["n"] == 2, "--ids subset")
one = os.path.join(base, "one.jsonl")
with open(one, "w") as f:
    f.write(json.dumps({"key": items[0]["key"], "response": "x"}) + "\n")
st, out, err = tally("run", "--task", "ifeval", "--model", one, "--limit", "2",
                     "--out", os.path.join(base, "missing"), check=1)
check("no completion for 1 item: %s" % items[1]["key"] in err, "the missing item is named: " + err)

# the oracle has nothing to serve for IFEval, and says so
st, out, err = tally("run", "--task", "ifeval", "--model", "oracle", "--limit", "2",
                     "--out", os.path.join(base, "oracle"), check=1)
check("no reference answer" in err and "ifeval" in err, "oracle refusal explains: " + err)

cleanup(base)
done()
