"""tally report: one self-contained HTML page. It opens in headless Chromium
without console errors; Chromium's DOM holds the SVG plots, non-empty; a
screenshot shows the bars in the plots' colours. PNGs for badges; the KL
histogram of a quantdiff run directory; and without gnuplot a clear note and
a page without plots, not a crash."""
import json
import os
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser

from tallytest import check, cleanup, done, read_jsonl, tally, tmpdir, DATA

base = tmpdir()
N = 60
test = read_jsonl(os.path.join(DATA, "gsm8k", "test.jsonl"))[:N]
final = [t["answer"].split("####")[-1].strip() for t in test]

def replay(name, ok):
    path = os.path.join(base, name + ".jsonl")
    with open(path, "w") as f:
        for i in range(N):
            ans = final[i] if ok(i) else "99999"
            f.write(json.dumps({"id": str(i), "completion": "Thinking <b>&amp;</b>. The answer is %s." % ans}) + "\n")
    return path

def write_json(path, obj):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        json.dump(obj, f)

def metric(v, n):
    return {"value": v, "n": n, "stderr": 0.02, "ci95": [max(0, v - 0.05), min(1, v + 0.05)]}

# Two runs, each a directory of tasks: GSM8K for real, and an IFEval-shaped
# task (results only) with instruction groups; B also holds a quantdiff run.
runs = {}
for name, ok, shift in (("A", lambda i: i % 3 != 0, 0.0), ("B", lambda i: i % 4 != 0, 0.04)):
    d = os.path.join(base, name)
    tally("run", "--task", "gsm8k_cot", "--model", replay(name, ok), "--limit", N,
          "--out", os.path.join(d, "gsm8k_cot"), "--quiet", check=0)
    m = {"prompt_strict": metric(0.70 + shift, 541), "inst_strict": metric(0.78 + shift, 834)}
    for cat, v in (("punctuation", 0.9), ("keywords", 0.8), ("length_constraints", 0.6), ("detectable_format", 0.75)):
        m["category_strict/" + cat] = metric(v - shift, 100)
    write_json(os.path.join(d, "ifeval_like", "results.json"),
               {"task": "ifeval_like", "items": 541, "samples": 541, "metrics": m, "outcomes": {}})
    write_json(os.path.join(d, "ifeval_like", "manifest.json"),
               {"task": "ifeval_like", "runner": {"backend": "openai", "model": "model-" + name},
                "settings": {"temperature": 0}})
    runs[name] = d
edges = [10 ** (e / 2) for e in range(-12, 1)]  # 1e-6 .. 1 nats, log-spaced
counts = [5, 40, 220, 900, 2400, 3100, 1800, 700, 150, 30, 6, 1]
write_json(os.path.join(runs["B"], "quantdiff", "results.json"),
           {"task": "quantdiff", "metrics": {"kl_mean": {"value": 0.0123, "n": 9352, "stderr": 0.0004,
                                                         "ci95": [0.0115, 0.0131]}},
            "kl_histogram": {"edges": edges, "counts": counts, "log_scale": True}})

out = os.path.join(base, "report.html")
pngs = os.path.join(base, "png")
st, so, se = tally("report", runs["A"], runs["B"], "--out", out, "--png-dir", pngs,
                   "--title", "A vs B", check=0)
html = open(out, encoding="utf-8").read()

class Dom(HTMLParser):
    """Counts elements, and the drawing elements inside each <svg>."""
    def __init__(self):
        super().__init__()
        self.tags, self.svgs, self.depth, self.urls = [], [], 0, []
    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if tag == "svg":
            self.svgs.append(0)
            self.depth += 1
        elif self.depth and tag in ("path", "rect", "polygon", "line", "text"):
            self.svgs[-1] += 1
        for k, v in attrs:
            if k in ("src", "href") and v and ("://" in v or v.startswith("//")):
                self.urls.append(v)
    def handle_endtag(self, tag):
        if tag == "svg":
            self.depth -= 1

dom = Dom()
dom.feed(html)
# the overview, ifeval_like's categories, and the KL histogram
check(len(dom.svgs) == 3, "3 plots inline, got %d" % len(dom.svgs))
check(all(n > 20 for n in dom.svgs), "every plot draws something: %s" % dom.svgs)
check("script" not in dom.tags and not dom.urls, "nothing to run, nothing fetched: %s" % dom.urls)
check("KL divergence per token" in html and "ifeval_like: category_strict" in html, "plot captions")
check("Items the runs disagree on" in html and "Thinking &lt;b&gt;&amp;amp;&lt;/b&gt;" in html,
      "disagreements with both completions, escaped")
check('<tr class="diff"><td><code>runner.model</code>' in html, "manifests side by side, differences marked")
check(html.count("<svg") == 3 and "id='p1-" in html and "id='p3-" in html, "ids made unique per plot")
files = sorted(os.listdir(pngs))
check(len(files) == 3, "3 PNGs: %s" % files)
for f in files:
    data = open(os.path.join(pngs, f), "rb").read()
    w, h = struct.unpack(">II", data[16:24])
    check(data[:8] == b"\x89PNG\r\n\x1a\n" and w >= 400 and h >= 300, "%s is a PNG (%dx%d)" % (f, w, h))

# ---- headless Chromium: no console errors, the DOM, a screenshot ----
def png_pixels(path):
    """Decodes an 8-bit RGB/RGBA PNG (no interlace): (width, height, bpp, rows)."""
    data = open(path, "rb").read()
    pos, idat = 8, b""
    while pos < len(data):
        ln, typ = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + ln]
        pos += 12 + ln
        if typ == b"IHDR":
            w, h, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif typ == b"IDAT":
            idat += body
    assert depth == 8 and ctype in (2, 6) and interlace == 0
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = w * bpp
    prev = bytearray(stride)
    rows = []
    for y in range(h):
        ft = raw[y * (stride + 1)]
        cur = bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        if ft == 1:
            for i in range(bpp, stride):
                cur[i] = (cur[i] + cur[i - bpp]) & 255
        elif ft == 2:
            cur = bytearray((a + b) & 255 for a, b in zip(cur, prev))
        elif ft == 3:
            for i in range(stride):
                left = cur[i - bpp] if i >= bpp else 0
                cur[i] = (cur[i] + ((left + prev[i]) >> 1)) & 255
        elif ft == 4:
            for i in range(stride):
                a = cur[i - bpp] if i >= bpp else 0
                b = prev[i]
                c = prev[i - bpp] if i >= bpp else 0
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                cur[i] = (cur[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(cur)
        prev = cur
    return w, h, bpp, rows

chromium = os.environ.get("CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
if not chromium:
    print("chromium is not installed (apt-get install chromium): browser checks skipped")
else:
    prof = os.path.join(base, "profile")
    shot = os.path.join(base, "shot.png")
    flags = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
             "--disable-component-update", "--disable-sync", "--no-first-run", "--user-data-dir=" + prof,
             "--force-device-scale-factor=1", "--host-resolver-rules=MAP * ~NOTFOUND"]
    url = "file://" + out
    p = subprocess.run(flags + ["--enable-logging=stderr", "--v=0", "--screenshot=" + shot,
                                "--window-size=1100,2300", url],
                       capture_output=True, text=True, timeout=180)
    console = [l for l in p.stderr.splitlines()
               if "CONSOLE" in l or "Uncaught" in l or "Failed to load resource" in l]
    check(p.returncode == 0 and os.path.exists(shot), "chromium screenshot: %d %s" % (p.returncode, p.stderr[-800:]))
    check(not console, "no console errors: %s" % console)
    d = subprocess.run(flags + ["--dump-dom", url], capture_output=True, text=True, timeout=180)
    dd = Dom()
    dd.feed(d.stdout)
    check(len(dd.svgs) == 3 and all(n > 20 for n in dd.svgs), "chromium's DOM holds 3 drawn SVGs: %s" % dd.svgs)
    if os.path.exists(shot):
        w, h, bpp, rows = png_pixels(shot)
        check((w, h) == (1100, 2300), "screenshot size %dx%d" % (w, h))
        # the series colours of the plots: #4477AA (A) and #EE6677 (B), softened by the fill's alpha
        def near(px, rgb, tol=40):
            return all(abs(px[k] - rgb[k]) <= tol for k in range(3))
        blue = red = ink = 0
        for row in rows:
            for x in range(0, w * bpp, bpp * 2):
                px = row[x:x + 3]
                if near(px, (68, 119, 170)):
                    blue += 1
                elif near(px, (238, 102, 119)):
                    red += 1
                if px[0] < 128:
                    ink += 1
        check(blue > 500 and red > 500, "the bars are on screen: %d blue, %d red samples" % (blue, red))
        check(ink > 2000, "text on the page: %d dark samples" % ink)

# ---- without gnuplot: a note, no plots, no crash ----
nobin = os.path.join(base, "nobin")
os.makedirs(nobin)
out2 = os.path.join(base, "noplots.html")
st, so, se = tally("report", runs["A"], runs["B"], "--out", out2, check=0, env={"PATH": nobin})
html2 = open(out2, encoding="utf-8").read()
check("gnuplot was not found" in se and "gnuplot-nox" in se, "stderr says why: " + se)
check("<svg" not in html2 and "No plots: gnuplot was not found" in html2 and "<table" in html2,
      "the page without plots, with a note")
st, so, se = tally("report", runs["A"], "--out", os.path.join(base, "np.html"), "--no-plots", check=0)
check("--no-plots" in open(os.path.join(base, "np.html")).read(), "--no-plots")

# ---- bad input ----
tally("report", runs["A"], check=2)  # --out is required
st, so, se = tally("report", os.path.join(base, "missing"), "--out", out2, check=1)
write_json(os.path.join(runs["B"], "quantdiff", "results.json"),
           {"task": "quantdiff", "metrics": {}, "kl_histogram": {"edges": [0, 1], "counts": [1, 2]}})
st, so, se = tally("report", runs["B"], "--out", out2, check=1)
check("kl_histogram" in se and "results.json" in se, se)
write_json(os.path.join(runs["B"], "quantdiff", "results.json"),
           {"task": "quantdiff", "metrics": {}, "kl_histogram": {"edges": [0, 2, 1], "counts": [1, 2]}})
st, so, se = tally("report", runs["B"], "--out", out2, check=1)
check("edges[2]" in se, se)

cleanup(base)
done()
