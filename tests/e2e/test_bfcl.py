"""tally run / score on BFCL: the oracle over every single-turn category in both
tool modes, crafted replay answers for each error type (prompt text and native
tool calls), a single category (partial aggregates), multi-turn (not scored),
and bad settings."""
import json
import os

from tallytest import check, cleanup, done, read_jsonl, results, tally, tmpdir

base = tmpdir()

# Entries no answer can pass under BFCL's rules (possible answers with no
# acceptable value, parameters the doc lacks, Java ArrayList<any> elements).
UNPASSABLE = {"simple_java_36", "simple_java_65", "live_simple_106-63-0", "live_simple_112-68-0",
              "live_multiple_862-181-3", "live_multiple_964-207-0"}
COUNTS = {"simple_python": 400, "simple_java": 100, "simple_javascript": 50, "multiple": 200,
          "parallel": 200, "parallel_multiple": 200, "non_live_irrelevance": 240, "live_simple": 258,
          "live_multiple": 1053, "live_parallel": 16, "live_parallel_multiple": 24,
          "live_irrelevance": 884, "live_relevance": 16}

for mode in ("prompt", "native"):
    d = os.path.join(base, "oracle-" + mode)
    st, out, err = tally("run", "--task", "bfcl", "--model", "oracle", "--tool-mode", mode, "--out", d,
                         check=0)
    r = results(d)
    check(r["items"] == 3641 and r["samples"] == 3641, "%s: 3641 items" % mode)
    check(r["outcomes"] == {"correct": 3635, "wrong": 6}, "%s: outcomes %s" % (mode, r["outcomes"]))
    sc = read_jsonl(os.path.join(d, "scores.jsonl"))
    wrong = {s["id"] for s in sc if s["outcome"] != "correct"}
    check(wrong == UNPASSABLE, "%s: the oracle fails %s" % (mode, sorted(wrong)))
    for name, n in COUNTS.items():
        m = r["metrics"][name]
        unp = sum(1 for i in UNPASSABLE if i.startswith(name + "_"))
        check(m["n"] == n and abs(m["value"] - (n - unp) / n) < 1e-12,
              "%s: %s = %s over %s" % (mode, name, m["value"], m["n"]))
    for agg in ("non_live", "live", "irrelevance", "overall_ast", "decode_failure_rate"):
        check(agg in r["metrics"], "%s: aggregate %s" % (mode, agg))
    check(r["metrics"]["decode_failure_rate"]["value"] == 0, "%s: nothing fails to decode" % mode)
    check(r["metrics"]["irrelevance"]["value"] == 1.0, "%s: irrelevance 100%%" % mode)
    simple = (1 + 0.98 + 1) / 3
    check(abs(r["metrics"]["non_live"]["value"] - (simple + 3) / 4) < 1e-12, "%s: non_live" % mode)
    check(abs(r["metrics"]["live"]["value"] - (1351 - 4) / 1351) < 1e-12, "%s: live is count-weighted" % mode)
    info = r["info"]["bfcl"]
    check(info["tool_mode"] == mode and info["underscore_to_dot"] == (mode == "native"), "%s: info" % mode)
    check("incomplete" not in info, "%s: every aggregate complete" % mode)
    man = json.load(open(os.path.join(d, "manifest.json")))
    check(man["settings"]["tool_mode"] == mode, "%s: manifest records the tool mode" % mode)
    for s in sc:
        check(s["category"] and "error_type" in s, "%s: record fields of %s" % (mode, s["id"]))
    samples = {s["id"]: s for s in read_jsonl(os.path.join(d, "samples.jsonl"))}
    if mode == "native":
        tc = samples["simple_python_1"]["tool_calls"]
        check(tc[0]["name"] == "math_factorial", "native: dots become underscores in tool names")
        check("tool_calls" not in samples["irrelevance_0"] or not samples["irrelevance_0"]["tool_calls"],
              "native: no call for irrelevance")
    else:
        check(samples["simple_python_0"]["completion"].startswith("[calculate_triangle_area(base=10"),
              "prompt: the oracle answers in Python call syntax")
    # re-scoring the stored completions gives the same verdicts
    before = json.dumps(r["metrics"], sort_keys=True)
    tally("score", d, check=0)
    check(json.dumps(results(d)["metrics"], sort_keys=True) == before, "%s: tally score agrees" % mode)

# Crafted answers, prompt mode: each line a known verdict on a real item.
rows = [
    ("simple_python_0", "[calculate_triangle_area(base=10, height=5)]", "correct", None),
    ("simple_python_1", "[math.factorial(number=5.0)]", "wrong", "type_error:simple"),
    ("simple_python_2", "[math.hypot(x=4)]", "wrong", "simple_function_checker:missing_required"),
    ("simple_python_3", "[algebra.quadratic_roots(a=1, b=-3, c=2, d=0)]", "wrong",
     "simple_function_checker:unexpected_param"),
    ("simple_python_4", "[solve(a=2, b=6, c=5)]", "wrong", "simple_function_checker:wrong_func_name"),
    ("simple_python_5", "Sure! Here it is: solve_quadratic(a=3, b=-11, c=-4)", "parse_error",
     "ast_decoder:decoder_failed"),
    ("simple_python_0", "[calculate_triangle_area(10, 5)]", "wrong", "simple_function_checker:missing_required"),
    ("parallel_0", "[spotify.play(artist='Maroon 5', duration=15), spotify.play(artist='Taylor Swift', "
                   "duration=20)]", "correct", None),
    ("parallel_0", "[spotify.play(artist='Maroon 5', duration=15)]", "wrong",
     "parallel_function_checker_no_order:wrong_count"),
    ("irrelevance_0", "None of the functions can be used.", "correct", None),
    ("irrelevance_1", "[determine_body_mass_index(weight=70, height=1.75)]", "wrong",
     "irrelevance_error:decoder_success"),
]
# one replay line per id: answers for an id already used go to a second run
def run_rows(name, rows, mode, extra=()):
    rp = os.path.join(base, name + ".jsonl")
    with open(rp, "w") as f:
        for r in rows:
            f.write(json.dumps(r) + "\n")
    d = os.path.join(base, name)
    ids = ",".join(r["id"] for r in rows)
    tally("run", "--task", "bfcl", "--model", rp, "--tool-mode", mode, "--ids", ids, "--out", d, *extra,
          check=0)
    return {s["id"]: s for s in read_jsonl(os.path.join(d, "scores.jsonl"))}, d

seen, first, second = set(), [], []
for r in rows:
    (second if r[0] in seen else first).append(r)
    seen.add(r[0])
for name, group in (("crafted1", first), ("crafted2", second)):
    sc, d = run_rows(name, [{"id": i, "completion": t} for i, t, _, _ in group], "prompt")
    for i, t, outcome, et in group:
        s = sc[i]
        check(s["outcome"] == outcome and s["error_type"] == et,
              "prompt %s %r: %s %s, expected %s %s" % (i, t, s["outcome"], s["error_type"], outcome, et))
    if name == "crafted1":
        r = results(d)
        check("incomplete" in r["info"]["bfcl"], "some categories only: aggregates incomplete")
        check("overall_ast" not in r["metrics"], "no overall_ast from a partial run")
s = sc["simple_python_0"]
check("positional" in s["reason"], "positional arguments are named in the reason: %s" % s["reason"])

# Crafted answers, native mode: tool calls with arguments as JSON text or objects.
def call(name, args):
    return {"name": name, "arguments": args if isinstance(args, str) else json.dumps(args)}
nrows = [
    ({"id": "simple_python_0", "tool_calls": [call("calculate_triangle_area", {"base": 10, "height": 5})]},
     "correct", None),
    ({"id": "simple_python_1", "tool_calls": [{"name": "math_factorial", "arguments": {"number": 5}}]},
     "correct", None),
    ({"id": "simple_python_2", "tool_calls": [call("math_hypot", '{"x": 4, "y": 5')]}, "parse_error",
     "ast_decoder:decoder_failed"),
    ({"id": "simple_python_3", "completion": "The roots are 1 and 2."}, "parse_error",
     "ast_decoder:decoder_failed"),
    ({"id": "simple_python_4", "tool_calls": [call("solve_quadratic_equation", "[2, 6, 5]")]}, "parse_error",
     "ast_decoder:decoder_wrong_output_format"),
    ({"id": "simple_java_1", "tool_calls": [call("SQLCompletionAnalyzer_makeProposalsFromObject",
                                                {"object": "Customers", "useShortName": True,
                                                 "params": "new HashMap<>()"})]}, "wrong", "type_error:java"),
    ({"id": "irrelevance_0", "tool_calls": [call("calculate_area_under_curve", {})]}, "wrong",
     "irrelevance_error:decoder_success"),
    ({"id": "live_relevance_0-0-0", "completion": "I will not call anything."}, "wrong",
     "relevance_error:decoder_failed"),
]
sc, d = run_rows("native", [r for r, _, _ in nrows], "native")
for r, outcome, et in nrows:
    s = sc[r["id"]]
    check(s["outcome"] == outcome and s["error_type"] == et,
          "native %s: %s %s, expected %s %s (%s)" % (r["id"], s["outcome"], s["error_type"], outcome, et,
                                                     s.get("reason")))

# Multi-turn: loaded and prompted, reported as not scored, never as 0.
d = os.path.join(base, "mt")
st, out, err = tally("run", "--task", "bfcl:multi_turn_base", "--model", "oracle", "--out", d, check=0)
r = results(d)
check(r["items"] == 200 and r["metrics"] == {}, "multi-turn: no metric (%s)" % r["metrics"])
check("multi_turn_base" in r["info"]["bfcl"]["not_scored"], "multi-turn: not scored, with the reason")
check(all(s.get("status") == "not_scored" for s in read_jsonl(os.path.join(d, "scores.jsonl"))),
      "multi-turn: every record says not_scored")

# Bad settings.
st, out, err = tally("run", "--task", "bfcl:simple_python", "--model", "oracle", "--tool-mode", "json",
                     "--out", os.path.join(base, "bad"))
check(st == 2 and "tool-mode" in err, "a bad --tool-mode is a usage error (%d: %s)" % (st, err.strip()))
st, out, err = tally("run", "--task", "bfcl:nonsense", "--model", "oracle", "--out", os.path.join(base, "bad2"))
check(st != 0 and "bfcl:nonsense" in err, "an unknown category is refused (%d: %s)" % (st, err.strip()))
st, out, err = tally("run", "--task", "bfcl", "--model", "oracle", "--tool-mode", "native",
                     "--out", os.path.join(base, "oracle-prompt"))
check(st != 0 and "tool_mode" in err, "a run directory made in prompt mode refuses native mode (%s)" % err.strip())

# Through the openai runner against the loopback fake server (it answers a
# request that has tools with a call of the first tool, arguments made up from
# the required parameters by type): the request carries BFCL's tools, the
# tool calls come back and are checked.
import subprocess
FAKE = os.environ.get("TALLY_FAKE_OPENAI", "build/tests/fake_openai")
if os.path.exists(FAKE):
    log = os.path.join(base, "server.jsonl")
    srv = subprocess.Popen([FAKE, "--log", log], stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    url = "http://127.0.0.1:%d/v1" % int(srv.stdout.readline())
    for mode, extra in (("native", ()), ("native", ("--stream",)), ("prompt", ())):
        d = os.path.join(base, "openai-%s%s" % (mode, "-stream" if extra else ""))
        open(log, "w").close()
        tally("run", "--task", "bfcl", "--backend", "openai", "--base-url", url, "--model", "fake",
              "--tool-mode", mode, "--ids", "simple_python_1,irrelevance_0,live_irrelevance_0-0-0",
              "--out", d, *extra, check=0)
        reqs = {}
        for r in read_jsonl(log):
            if r.get("method") == "POST":
                msgs = r["body"]["messages"]
                reqs[msgs[-1]["content"][:40]] = r["body"]
        sc = {s["id"]: s for s in read_jsonl(os.path.join(d, "scores.jsonl"))}
        if mode == "native":
            bodies = [b for b in reqs.values() if b.get("tools")]
            check(len(bodies) == 3, "%s: three requests with tools (%d)" % (d, len(bodies)))
            names = [t["function"]["name"] for b in bodies for t in b["tools"]]
            check("math_factorial" in names and all("." not in n for n in names), "%s: tool names %s" % (d, names))
            check(all(b.get("tool_choice") == "auto" for b in bodies), "%s: tool_choice auto" % d)
            check(all(t["function"]["parameters"]["type"] == "object" for b in bodies for t in b["tools"]),
                  "%s: parameters are JSON Schema objects" % d)
            # the fake calls math_factorial(number=1): a value error, not a decode failure
            s = sc["simple_python_1"]
            check(s["outcome"] == "wrong" and s["error_type"] == "value_error:others",
                  "%s: %s %s %s" % (d, s["outcome"], s["error_type"], s.get("reason")))
            check(sc["irrelevance_0"]["error_type"] == "irrelevance_error:decoder_success",
                  "%s: a call where none fits" % d)
        else:
            check(all("tools" not in b for b in reqs.values()), "prompt mode sends no tools")
            check(all(b["messages"][0]["role"] == "system" and
                      b["messages"][0]["content"].startswith("You are an expert in composing functions.")
                      for b in reqs.values()), "prompt mode: BFCL's system prompt first")
            # the fake's prose answer decodes to nothing: parse_error, and passes irrelevance
            check(sc["simple_python_1"]["outcome"] == "parse_error", "prompt: prose is a decode failure")
            check(sc["irrelevance_0"]["outcome"] == "correct", "prompt: prose passes irrelevance")
    srv.stdin.close()
    check(srv.wait(timeout=30) == 0, "the fake server exited cleanly")

cleanup(base)
done()
