#!/usr/bin/python3
"""Regenerates the expected values of the IFEval tokenizer golden files.

The expectations come from the Python libraries the IFEval reference uses,
run as black boxes: nltk's Punkt sentence splitter with the real English
tables of ../../../../shared/datasets/ifeval/punkt_tab/english (loaded into
PunktParameters by hand, so any nltk >= 3.6.6 works; Debian 12's python3-nltk
is 3.8) and its word_tokenize pipeline, and langdetect 1.0.9
(python3-langdetect) with DetectorFactory.seed = 0 and the profiles loaded in
file-name order, which is what tally's port does.

    /usr/bin/python3 tests/data/ifeval/gen_golden.py [TEXTS.jsonl LANG_TEXTS.jsonl]

Without arguments the texts are taken from the golden files themselves.
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TABLES = os.path.join(HERE, "..", "..", "..", "..", "shared", "datasets", "ifeval", "punkt_tab", "english")


def punkt():
    from nltk.tokenize.punkt import PunktParameters, PunktSentenceTokenizer
    from nltk.tokenize.destructive import NLTKWordTokenizer

    def lines(name):
        with open(os.path.join(TABLES, name), encoding="utf-8") as f:
            return f.read().split("\n")

    p = PunktParameters()
    p.abbrev_types = set(lines("abbrev_types.txt"))
    p.collocations = set(tuple(l.split("\t")) for l in lines("collocations.tab"))
    p.sent_starters = set(lines("sent_starters.txt"))
    for l in lines("ortho_context.tab"):
        k, v = l.split("\t")
        p.ortho_context[k] = int(v)
    return PunktSentenceTokenizer(p), NLTKWordTokenizer()


def detector():
    from langdetect.detector_factory import DetectorFactory, PROFILES_DIRECTORY
    from langdetect.utils.lang_profile import LangProfile

    f = DetectorFactory()
    f.seed = 0
    names = sorted(os.listdir(PROFILES_DIRECTORY))
    for i, nm in enumerate(names):
        with open(os.path.join(PROFILES_DIRECTORY, nm), encoding="utf-8") as fh:
            f.add_profile(LangProfile(**json.load(fh)), i, len(names))
    return f


def texts_of(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(l)["text"] if l.lstrip().startswith("{") else json.loads(l) for l in f if l.strip()]


def write(path, rows):
    with open(path, "w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")


def main():
    if len(sys.argv) == 3:
        texts, lang_texts = texts_of(sys.argv[1]), texts_of(sys.argv[2])
    else:
        texts, lang_texts = texts_of(os.path.join(HERE, "punkt.jsonl")), texts_of(os.path.join(HERE, "langdetect.jsonl"))
    sent, word = punkt()
    prow, wrow = [], []
    for t in texts:
        ss = sent.tokenize(t)
        toks = [w for s in ss for w in word.tokenize(s)]
        prow.append({"text": t, "sentences": ss})
        wrow.append({"text": t, "tokens": toks, "upper": sum(1 for w in toks if w.isupper())})
    write(os.path.join(HERE, "punkt.jsonl"), prow)
    write(os.path.join(HERE, "wordtok.jsonl"), wrow)

    from langdetect.lang_detect_exception import LangDetectException
    f = detector()
    lrow = []
    for t in lang_texts:
        d = f.create()
        d.append(t)
        try:
            ps = d.get_probabilities()
            lrow.append({"text": t, "lang": ps[0].lang if ps else "unknown", "prob": ps[0].prob if ps else 0.0})
        except LangDetectException:
            lrow.append({"text": t, "lang": None, "prob": 0.0})
    write(os.path.join(HERE, "langdetect.jsonl"), lrow)


if __name__ == "__main__":
    main()
