"""tally datasets list/verify/fetch: fetch from a loopback HTTP mirror started
here, checksum refusal (nothing under the final name), zip members, bundled
files, an unreachable server."""
import functools
import http.server
import os
import shutil
import threading
import zipfile

from tallytest import DATA, check, cleanup, done, tally, tmpdir

base = tmpdir()

# list and verify on the shared datasets: everything present and pinned
st, out, err = tally("datasets", "list", check=0)
check("gsm8k/test.jsonl" in out and "1319" in out and "MISMATCH" not in out, out[:500])
check("gsm8k_cot" in out, "list shows the tasks")
tally("datasets", "verify", check=0)
st, out, err = tally("datasets", "verify", "gsm8k", "--data-dir", os.path.join(base, "empty"), check=1)
check("missing" in out, out)
tally("datasets", "frobnicate", check=2)
tally("datasets", "fetch", "nosuch", check=2)

# the mirror: gsm8k's upstream files, the punkt tables as nltk's zip, one corrupted file
mirror = os.path.join(base, "mirror")
os.makedirs(os.path.join(mirror, "gsm8k"))
os.makedirs(os.path.join(mirror, "ifeval"))
os.makedirs(os.path.join(mirror, "humaneval"))
for f in ("test.jsonl", "train.jsonl"):
    shutil.copy(os.path.join(DATA, "gsm8k", f), os.path.join(mirror, "gsm8k", f))
shutil.copy(os.path.join(DATA, "ifeval", "input_data.jsonl"), os.path.join(mirror, "ifeval"))
with zipfile.ZipFile(os.path.join(mirror, "ifeval", "punkt_tab.zip"), "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("punkt_tab/README", "attribution\n")
    for f in ("abbrev_types.txt", "collocations.tab", "sent_starters.txt", "ortho_context.tab"):
        z.write(os.path.join(DATA, "ifeval", "punkt_tab", "english", f), "punkt_tab/english/" + f)
good = open(os.path.join(DATA, "humaneval", "HumanEval.jsonl.gz"), "rb").read()
open(os.path.join(mirror, "humaneval", "HumanEval.jsonl.gz"), "wb").write(good[:-10] + b"corrupted!")

handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=mirror)
http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
threading.Thread(target=srv.serve_forever, daemon=True).start()
url = "http://127.0.0.1:%d" % srv.server_address[1]

dest = os.path.join(base, "data")
st, out, err = tally("datasets", "fetch", "gsm8k", "ifeval", "--mirror", url, "--data-dir", dest, check=0)
check("all verified" in out, out + err)
for rel in ("gsm8k/test.jsonl", "gsm8k/train.jsonl", "gsm8k/cot_exemplars.jsonl",
            "gsm8k/fewshot_gsm8k_5shot_seed1234.jsonl", "ifeval/input_data.jsonl",
            "ifeval/punkt_tab/english/ortho_context.tab", "ifeval/punkt_tab/english/abbrev_types.txt"):
    a = open(os.path.join(dest, rel), "rb").read()
    b = open(os.path.join(DATA, rel), "rb").read()
    check(a == b, "fetched %s is byte-identical" % rel)
tally("datasets", "verify", "gsm8k", "ifeval", "--data-dir", dest, check=0)
# a second fetch has nothing to do
st, out, err = tally("datasets", "fetch", "gsm8k", "--mirror", url, "--data-dir", dest, check=0)
check("0 files fetched" in out, out)
# and a run reads the fetched files
tally("run", "--task", "gsm8k_cot", "--model", "oracle", "--limit", "3", "--out", os.path.join(base, "run"),
      "--data-dir", dest, check=0)

# a corrupted download is refused and leaves nothing under the final name (nor a temp file)
st, out, err = tally("datasets", "fetch", "humaneval", "--mirror", url, "--data-dir", dest, check=1)
check("sha256" in err and "does not match" in err, err)
check(not os.path.exists(os.path.join(dest, "humaneval", "HumanEval.jsonl.gz")), "no file under the final name")
leftovers = [f for f in os.listdir(os.path.join(dest, "humaneval"))] if os.path.isdir(os.path.join(dest, "humaneval")) else []
check(leftovers == [], "no partial files left: %s" % leftovers)
# a file missing on the mirror: the HTTP status is named
os.remove(os.path.join(mirror, "gsm8k", "train.jsonl"))
os.remove(os.path.join(dest, "gsm8k", "train.jsonl"))
st, out, err = tally("datasets", "fetch", "gsm8k", "--mirror", url, "--data-dir", dest, check=1)
check("HTTP 404" in err, err)
srv.shutdown()
# an unreachable server
st, out, err = tally("datasets", "fetch", "gsm8k", "--mirror", "http://127.0.0.1:1", "--data-dir", dest, check=1)
check("127.0.0.1:1" in err, err)

cleanup(base)
done()
