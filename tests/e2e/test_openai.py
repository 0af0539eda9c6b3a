"""tally run --backend openai against the loopback fake server (tests/fake_openai.c).

kill -9 mid-run and resume: no item is asked again once it is recorded, none
is lost; samples whose retries ran out are recorded with their error and
asked again by the next run; the API key reaches the server and nothing in
the run directory; an unreachable server or a wrong model is one line before
any work; Ctrl-C stops a run whose requests are all in flight at once; the
summary line; --n-per-request, --stream and --extra-body through the CLI.
"""
import json
import os
import re
import signal
import subprocess
import time

from tallytest import BIN, DATA, check, cleanup, done, read_jsonl, tally, tmpdir

FAKE = os.environ.get("TALLY_FAKE_OPENAI", "build/tests/fake_openai")
HASH = re.compile(r"\[req ([0-9a-f]{16})\]")
env = dict(os.environ, TALLY_DATA=DATA)
env.pop("TALLY_API_KEY", None)
env.pop("OPENAI_API_KEY", None)
base = tmpdir()
n_servers = 0


class Server:
    """The fake server on an ephemeral port; it exits when we close its stdin."""

    def __init__(self, *args):
        global n_servers
        n_servers += 1
        self.log = os.path.join(base, "server%d.jsonl" % n_servers)
        self.p = subprocess.Popen([FAKE, "--log", self.log] + list(args), stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE)
        self.port = int(self.p.stdout.readline())
        self.url = "http://127.0.0.1:%d/v1" % self.port

    def requests(self):
        if not os.path.exists(self.log):
            return []
        return [r for r in read_jsonl(self.log) if r["method"] == "POST"]

    def stop(self):
        self.p.stdin.close()
        check(self.p.wait(timeout=30) == 0, "the fake server exited cleanly")


def run_args(url, d, *extra, limit=300, model="fake"):
    return ["run", "--task", "gsm8k", "--backend", "openai", "--base-url", url, "--model", model,
            "--out", d, "--limit", str(limit)] + list(extra)


def complete_records(d):
    """The records of samples.jsonl whose line is whole (a kill may tear the last)."""
    p = os.path.join(d, "samples.jsonl")
    if not os.path.exists(p):
        return []
    out = []
    with open(p, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.endswith("\n"):
                break
            try:
                out.append(json.loads(line))
            except ValueError:
                pass
    return out


def hashes_of(recs):
    hs = set()
    for r in recs:
        m = HASH.search(r.get("completion") or "")
        if m and not r.get("error"):
            hs.add(m.group(1))
    return hs


def count_lines(d):
    p = os.path.join(d, "samples.jsonl")
    if not os.path.exists(p):
        return 0
    with open(p, "rb") as f:
        return f.read().count(b"\n")


# ---- kill -9 mid-run, three times, then resume to the end ----
srv = Server("--delay-ms", "20")
d = os.path.join(base, "kill")
recorded = set()  # prompt hashes answered in samples.jsonl before the current run
seen = 0          # server requests already accounted for
kills_mid = 0
for target in (60, 150, 240):
    p = subprocess.Popen([BIN] + run_args(srv.url, d, "--concurrency", "4", "--quiet"), env=env,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t0 = time.time()
    while count_lines(d) < target and p.poll() is None and time.time() - t0 < 60:
        time.sleep(0.005)
    if p.poll() is None:
        kills_mid += 1
    p.send_signal(signal.SIGKILL)
    p.wait()
    reqs = srv.requests()
    asked = [r["prompt_hash"] for r in reqs[seen:]]
    again = set(asked) & recorded
    check(not again, "kill at %d: %d items asked again after they were recorded" % (target, len(again)))
    seen = len(reqs)
    recorded |= hashes_of(complete_records(d))
check(kills_mid == 3, "all three kills landed mid-run (%d did)" % kills_mid)
check(0 < len(recorded) < 300, "some but not all items recorded before the last run: %d" % len(recorded))
tally(*run_args(srv.url, d, "--concurrency", "4", "--quiet"), check=0)
reqs = srv.requests()
again = set(r["prompt_hash"] for r in reqs[seen:]) & recorded
check(not again, "resume: %d items asked again after they were recorded" % len(again))
recs = read_jsonl(os.path.join(d, "samples.jsonl"))
keys = [(r["id"], r["sample"]) for r in recs]
check(len(recs) == 300, "after the kills: %d records, expected 300" % len(recs))
check(len(set(keys)) == len(keys), "after the kills: duplicate records")
check(all(not r.get("error") for r in recs), "after the kills: no record with an error")
final = hashes_of(recs)
asked_ever = set(r["prompt_hash"] for r in reqs)
check(len(final) == 300 and final == asked_ever,
      "every item asked was recorded once: %d recorded, %d asked" % (len(final), len(asked_ever)))
srv.stop()

# ---- retries run out: recorded with the error, asked again next run ----
faulty = Server("--fault-mod", "7", "--fault", "503")
d = os.path.join(base, "retry")
st, out, err = tally(*run_args(faulty.url, d, "--max-retries", "1", limit=120), check=0)
recs = read_jsonl(os.path.join(d, "samples.jsonl"))
failed = [r for r in recs if r.get("error")]
faulted = set(r["prompt_hash"] for r in faulty.requests() if r.get("fault"))
check(len(recs) == 120, "with faults: %d records, expected 120" % len(recs))
check(len(failed) == len(faulted) and len(failed) > 5,
      "with faults: %d failed records for %d faulted prompts" % (len(failed), len(faulted)))
check(all(r["attempts"] == 2 and r["error_kind"] == 1 and "HTTP 503" in r["error"] for r in failed),
      "failed records carry attempts, kind and the server's status")
check(re.search(r"tally run: gsm8k: 120 requests in [0-9.]+ s: [0-9.]+ req/s, [0-9]+ tok/s; "
                r"latency p50 [0-9.]+ ms, p95 [0-9.]+ ms; %d retries, %d errors" % (len(failed), len(failed)),
                err) is not None, "the summary line: " + err)
faulty.stop()
healthy = Server()
st, out, err = tally(*run_args(healthy.url, d, "--max-retries", "1", limit=120), check=0)
check("redoing" in err and "failed" in err, "the resume says it redoes the failed samples: " + err)
asked = [r["prompt_hash"] for r in healthy.requests()]
check(sorted(asked) == sorted(faulted), "the next run asked exactly the %d failed items (asked %d)"
      % (len(faulted), len(asked)))
recs = read_jsonl(os.path.join(d, "samples.jsonl"))
keys = [(r["id"], r["sample"]) for r in recs]
check(len(recs) == 120 and len(set(keys)) == 120, "after the retry run: %d records for 120 items" % len(recs))
check(not any(r.get("error") for r in recs), "after the retry run: every item answered")
healthy.stop()

# ---- the key reaches the server and nothing in the run directory ----
KEY = "sk-e2e-0123456789-secret"
keyed = Server("--key", KEY)
d = os.path.join(base, "key")
tally(*run_args(keyed.url, d, "--quiet", "--header", "X-Team: evals", limit=5),
      env={"TALLY_API_KEY": KEY}, check=0)
auths = set(r["auth"] for r in keyed.requests())
check(auths == {"Bearer " + KEY}, "the key was sent as a bearer token: %s" % auths)
check(all(r["headers"].get("X-Team") == "evals" for r in keyed.requests()), "--header reached the server")
for name in os.listdir(d):
    with open(os.path.join(d, name), encoding="utf-8", errors="replace") as f:
        check(KEY not in f.read(), "the key is not in %s" % name)
d2 = os.path.join(base, "key2")
tally(*run_args(keyed.url, d2, "--quiet", limit=3), env={"OPENAI_API_KEY": KEY}, check=0)
st, out, err = tally(*run_args(keyed.url, os.path.join(base, "nokey"), "--quiet", limit=3), check=1)
check("401" in err and KEY not in err, "no key: one line with the 401: " + err)
manifest = json.load(open(os.path.join(d, "manifest.json"), encoding="utf-8"))
rj = manifest["runner"]
check(rj.get("endpoint") == keyed.url and rj.get("served_model_id") == "fake"
      and "chat" in rj.get("request_template", {}), "the manifest records the endpoint: %s" % rj)
keyed.stop()

# ---- start-up checks: one line, before any work ----
gone = Server()
gone_url = gone.url
gone.stop()
d = os.path.join(base, "unreachable")
st, out, err = tally(*run_args(gone_url, d, limit=3), check=1)
check(err.count("\n") == 1 and "cannot reach" in err and gone_url in err, "unreachable: " + err)
check(not os.path.exists(d), "unreachable: no run directory was made")
srv = Server("--models", "fake,granite-4.1-8b")
d = os.path.join(base, "wrongmodel")
st, out, err = tally(*run_args(srv.url, d, limit=3, model="ling"), check=1)
check(err.count("\n") == 1 and "--model ling" in err and "granite-4.1-8b" in err, "wrong model: " + err)
check(not os.path.exists(d), "wrong model: no run directory was made")

# ---- n, streaming and extra body fields through the command line ----
d = os.path.join(base, "n")
before = len(srv.requests())
tally(*run_args(srv.url, d, "--samples", "4", "--temperature", "0.7", "--n-per-request", "4", "--stream",
                "--extra-body", '{"chat_template_kwargs": {"thinking": false}}', "--quiet", limit=5), check=0)
reqs = srv.requests()[before:]
check(len(reqs) == 5 and all(r["body"].get("n") == 4 and r["body"].get("stream") is True
                             and r["body"].get("chat_template_kwargs") == {"thinking": False} for r in reqs),
      "5 streamed requests with n=4 and the extra fields: %s" % [r["body"].get("n") for r in reqs])
recs = read_jsonl(os.path.join(d, "samples.jsonl"))
check(len(recs) == 20 and len(set((r["id"], r["sample"]) for r in recs)) == 20, "20 samples from 5 requests")
srv.stop()

# ---- Ctrl-C with every request in flight: stops at once, resumes ----
slow = Server("--delay-ms", "20000")
d = os.path.join(base, "ctrlc")
p = subprocess.Popen([BIN] + run_args(slow.url, d, "--concurrency", "8", limit=8), env=env,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
t0 = time.time()
while len(slow.requests()) < 8 and time.time() - t0 < 20:
    time.sleep(0.01)
p.send_signal(signal.SIGINT)
t_int = time.time()
out, err = p.communicate(timeout=60)
# the answers are 20 s away: stopping within a few seconds means the runner did not wait for them
check(time.time() - t_int < 5, "Ctrl-C took %.1f s to stop the run" % (time.time() - t_int))
check(p.returncode == 130 and "interrupted" in err, "Ctrl-C: exit %d, %s" % (p.returncode, err))
slow.stop()
fast = Server()
tally(*run_args(fast.url, d, "--quiet", limit=8), check=0)
check(len(read_jsonl(os.path.join(d, "samples.jsonl"))) == 8, "the interrupted run resumed to the end")
fast.stop()

cleanup(base)
done()
