"""The native engine's speed: `tally bench` on random-weight models that `tally
synth-model` writes (PERF.md). Prints figures; asserts nothing about time.

    python3 tests/bench_engine.py [--preset granite-small|granite-1b] [--types q8_0,q4_0]
                                  [--threads 1,2] [--batch 16] [--reps 3] [--dir DIR] [--keep]

meson registers it as the benchmark 'engine' (granite-small, a ~170 M parameter granite:
quick); PERF.md's figures are for --preset granite-1b (about 1 GB in Q8_0; written under
--dir, the system's temporary directory by default, and removed unless --keep). Every
line comes from one `tally bench` run, which measures the memory bandwidth itself: compare
the ratios in a line (decode / ceiling), not absolute figures from different runs, on a
shared machine.
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

BIN = os.environ.get("TALLY_BIN", "build/harness/tally")
FIX = os.environ.get("TALLY_FIXTURES", "../shared/fixtures")


def tally(*args):
    p = subprocess.run([BIN] + [str(a) for a in args], capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("tally %s: exit %d\n%s" % (" ".join(map(str, args)), p.returncode, p.stderr))
    return p.stdout


def load():
    try:
        with open("/proc/loadavg") as f:
            return f.read().split()[0]
    except OSError:
        return "?"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="granite-small")
    ap.add_argument("--types", default="q8_0,q4_0")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--prompt", type=int, default=128)
    ap.add_argument("--gen", type=int, default=64)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--keep", action="store_true")
    a = ap.parse_args()
    vocab = os.path.join(FIX, "tokenizer", "ggml-vocab-gpt-2.gguf")
    d = a.dir or tempfile.mkdtemp(prefix="tally-bench-")
    os.makedirs(d, exist_ok=True)
    print("tally bench on %s (random weights, GPT-2 vocabulary); load average at start %s"
          % (a.preset, load()))
    print("%-22s %4s %5s %10s %10s %9s %9s %9s %8s" % (
        "model", "thr", "batch", "pp t/s", "tg t/s", "bw GB/s", "ceil t/s", "tg/ceil", "load"))
    try:
        for ty in a.types.split(","):
            path = os.path.join(d, "%s.%s.gguf" % (a.preset, ty))
            if not os.path.exists(path):
                tally("synth-model", "--preset", a.preset, "--type", ty, "--out", path,
                      "--vocab", vocab, "--quiet")
            runs = [(int(t), 1) for t in a.threads.split(",")]
            if a.batch > 1:
                runs.append((int(a.threads.split(",")[-1]), a.batch))
            for threads, batch in runs:
                j = json.loads(tally("bench", path, "--threads", threads, "--batch", batch,
                                     "--prompt", a.prompt, "--gen", a.gen, "--reps", a.reps,
                                     "--json"))
                print("%-22s %4d %5d %10.1f %10.1f %9.1f %9.1f %9.2f %8s" % (
                    os.path.basename(path), threads, batch, j["prefill_tps"], j["decode_tps"],
                    j["bandwidth_read_gbs"], j["decode_ceiling_tps"],
                    j["decode_fraction_of_ceiling"], load()), flush=True)
    finally:
        if not a.keep and not a.dir:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
