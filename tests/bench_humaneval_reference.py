#!/usr/bin/env python3
"""reference_executor.py: a stand-in for openai/human-eval's unsandboxed
evaluator, to time tally's sandbox against it on the same machine.

Written for tally's benchmark from the behaviour SCORING.md 1.3 describes
(not from the original source): a pool of worker threads, each sample run in
a forked multiprocessing.Process that execs the program in a fresh dict under
a wall-clock timer, results collected through a Manager list. Reads the
programs as a JSON list on stdin; prints "<seconds> <passed> <total>".
"""
import io
import json
import multiprocessing
import os
import signal
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor


class TimeoutException(Exception):
    pass


def _alarm(signum, frame):
    raise TimeoutException("Timed out!")


def _child(program, timeout, out):
    with tempfile.TemporaryDirectory() as d:
        os.chdir(d)
        sys.stdout = sys.stderr = io.StringIO()
        _run(program, timeout, out)


def _run(program, timeout, out):
    signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, timeout)
    try:
        exec(program, {})
        out.append("passed")
    except TimeoutException:
        out.append("timed out")
    except BaseException as e:
        out.append("failed: %s" % e)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def check(program, timeout):
    with multiprocessing.Manager() as m:
        out = m.list()
        p = multiprocessing.Process(target=_child, args=(program, timeout, out))
        p.start()
        p.join(timeout=timeout + 1)
        if p.is_alive():
            p.kill()
        return out[0] if out else "timed out"


def main():
    programs = json.load(sys.stdin)
    workers = int(sys.argv[1]) if len(sys.argv) > 1 else 2
    timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 3.0
    t0 = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as ex:
        results = list(ex.map(lambda p: check(p, timeout), programs))
    dt = time.perf_counter() - t0
    print("%.3f %d %d" % (dt, sum(r == "passed" for r in results), len(results)))


if __name__ == "__main__":
    multiprocessing.set_start_method("fork")
    main()
