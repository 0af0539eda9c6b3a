"""Golden values for tests/test_stats.c, computed independently of tally:
exact binomial sums with Python's integers (math.comb and fractions), Wilson
intervals in decimal arithmetic, Holm by its definition. Run it and paste
its output into test_stats.c when a case is added."""
from decimal import Decimal, getcontext
from fractions import Fraction
from math import comb

getcontext().prec = 50


def mcnemar(b, c):
    n = b + c
    if n == 0:
        return Fraction(1)
    k = min(b, c)
    tail = Fraction(sum(comb(n, i) for i in range(k + 1)), 2 ** n)
    return min(Fraction(1), 2 * tail)


def min_gap(d, alpha):
    best = None
    for k in range(d // 2 + 1):
        if mcnemar(k, d - k) <= alpha:
            best = d - 2 * k
    return best


Z = Decimal("1.959963984540054")


def wilson(k, n):
    p = Decimal(k) / n
    z2 = Z * Z
    denom = 1 + z2 / n
    centre = (p + z2 / (2 * n)) / denom
    half = Z * (p * (1 - p) / n + z2 / (4 * n * n)).sqrt() / denom
    return max(Decimal(0), centre - half), min(Decimal(1), centre + half)


def holm(ps):
    m = len(ps)
    order = sorted(range(m), key=lambda i: (ps[i], i))
    adj = [0.0] * m
    run = 0.0
    for j, i in enumerate(order):
        run = max(run, min(1.0, (m - j) * ps[i]))
        adj[i] = run
    return adj


print("/* mcnemar: {b, c, p} */")
for b, c in [(0, 0), (0, 1), (1, 1), (0, 5), (0, 6), (3, 12), (12, 3), (10, 10), (40, 13),
             (7, 25), (100, 130), (0, 60), (450, 520), (1, 1000), (2, 900), (1, 2000),
             (5000, 5210)]:
    print("{%d, %d, %.17g}," % (b, c, float(mcnemar(b, c))))
print("/* min gap at 0.05: {d, gap (0 = none)} */")
for d in [1, 5, 6, 10, 17, 53, 100, 400]:
    g = min_gap(d, Fraction(1, 20))
    print("{%d, %d}," % (d, g or 0))
print("/* wilson: {k, n, lo, hi} */")
for k, n in [(0, 10), (10, 10), (2, 6), (4, 6), (139, 164), (1128, 1319), (1, 1)]:
    lo, hi = wilson(k, n)
    print("{%d, %d, %.17g, %.17g}," % (k, n, float(lo), float(hi)))
print("/* holm */")
ps = [0.01, 0.04, 0.03, 0.005, 0.5]
print(", ".join("%.17g" % a for a in holm(ps)))
