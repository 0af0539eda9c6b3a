"""tally tokenize: ids against the fixtures' llama.cpp goldens (BOS per the
model's add_bos_token), special-token parsing, pieces, --file, and the usage
and failure exits."""
import json
import os

from tallytest import check, cleanup, done, tally, tmpdir

FIX = os.environ.get("TALLY_FIXTURES", "../shared/fixtures")
MODELS = os.path.join(FIX, "models")


def ids_of(out):
    return json.loads(out.splitlines()[0])


# the golden prompts of a BOS-adding model (tiny-ling) and one that adds none (tiny-granite)
for model in ("tiny-ling.q4_0", "tiny-granite.q8_0", "tiny-granitehybrid.f32"):
    gguf = os.path.join(MODELS, model + ".gguf")
    with open(os.path.join(MODELS, model + ".golden.json"), encoding="utf-8") as f:
        golden = json.load(f)
    for p in golden["prompts"]:
        st, out, err = tally("tokenize", "--model", gguf, "--", p["text"], check=0)
        check(ids_of(out) == p["tokens"], "%s %r: %s != %s" % (model, p["text"], out, p["tokens"]))

ling = os.path.join(MODELS, "tiny-ling.f32.gguf")
# BOS only with add_special (the default)
st, out, err = tally("tokenize", "--model", ling, "--no-add-special", "Hello world", check=0)
check(ids_of(out) == [39, 695, 78, 995], out)
# --text as tally logits takes it: the same ids; text given twice is a usage error
st, out, err = tally("tokenize", "--model", ling, "--no-add-special", "--text", "Hello world", check=0)
check(ids_of(out) == [39, 695, 78, 995], out)
tally("tokenize", "--model", ling, "--text", "Hello", "world", check=2)
# special-token text: one id with --special, plain text without
st, out, err = tally("tokenize", "--model", ling, "--no-add-special", "--special", "<|endoftext|>", check=0)
check(ids_of(out) == [1006], out)
st, out, err = tally("tokenize", "--model", ling, "--no-add-special", "<|endoftext|>", check=0)
check(len(ids_of(out)) > 1 and 1006 not in ids_of(out), out)
# pieces: strings, and byte arrays for partial UTF-8 characters
st, out, err = tally("tokenize", "--model", ling, "--pieces", "Hello \u00e9", check=0)
lines = out.splitlines()
check(len(lines) == 2, out)
pieces = json.loads(lines[1])
check(pieces[0] == "<|endoftext|>" and pieces[1] == "H", out)
joined = b"".join(bytes(p) if isinstance(p, list) else p.encode() for p in pieces[1:])
check(joined == "Hello \u00e9".encode(), out)

# a vocabulary-only GGUF and llama.cpp's own expectations, text from a file
base = tmpdir()
vocab = os.path.join(FIX, "tokenizer", "ggml-vocab-refact.gguf")
inp = open(vocab + ".inp", encoding="utf-8").read().split("\n__ggml_vocab_test__\n")[:-1]
outs = open(vocab + ".out", encoding="utf-8").read().split("\n")
for i in (9, 20, 30, len(inp) - 1):
    path = os.path.join(base, "text%d" % i)
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write(inp[i])
    st, out, err = tally("tokenize", "--model", vocab, "--file", path, check=0)
    want = [int(x) for x in outs[i].split()]
    check(ids_of(out) == want, "refact case %d: %s != %s" % (i, out, want))

# usage errors exit 2, failures 1 with the file named
tally("tokenize", "x", check=2)
tally("tokenize", "--model", ling, check=2)
tally("tokenize", "--model", ling, "a", "b", check=2)
tally("tokenize", "--model", ling, "--file", os.path.join(base, "text9"), "x", check=2)
tally("tokenize", "--model", ling, "--bogus", "x", check=2)
st, out, err = tally("tokenize", "--model", os.path.join(base, "nope.gguf"), "x", check=1)
check("nope.gguf" in err, err)
bad = os.path.join(base, "bad.gguf")
with open(ling, "rb") as f:
    head = f.read(1000)
with open(bad, "wb") as f:
    f.write(head)
st, out, err = tally("tokenize", "--model", bad, "x", check=1)
check("bad.gguf: byte " in err, err)
st, out, err = tally("tokenize", "--model", ling, "--pre", "nosuch", "x", check=1)
check("nosuch" in err, err)
st, out, err = tally("tokenize", "--model", ling, "--file", os.path.join(base, "none.txt"), check=1)
check("none.txt" in err, err)
st, out, err = tally("help", "tokenize", check=0)
check("--special" in out and "--pieces" in out, out)

cleanup(base)
done()
