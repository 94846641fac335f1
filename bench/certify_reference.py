"""Reference values for randomized smoothing's statistics (Cohen et al. 2019).

Writes pipeline/tests/fixtures/clopper_pearson.rs.in, normal_quantile.rs.in
and binomial_test.rs.in, which `make test` replays
(pipeline/src/certify/bounds.rs). The lower bound is computed exactly as the
paper's code (locuslab/smoothing, core.py) does:
proportion_confint(k, n, alpha=2 * alpha, method="beta")[0]; PREDICT's
test is its binom_test(count1, count1 + count2, p=0.5), which SciPy now
calls binomtest(...).pvalue.

    python3 -m venv /tmp/refvenv
    /tmp/refvenv/bin/pip install scipy==1.14.1 statsmodels==0.14.4
    /tmp/refvenv/bin/python bench/certify_reference.py
"""

import pathlib

import scipy
import statsmodels
from scipy.stats import binomtest, norm
from statsmodels.stats.proportion import proportion_confint

root = pathlib.Path(__file__).resolve().parent.parent / "pipeline" / "tests" / "fixtures"

cases = []
for n in (10, 100, 1000, 10_000, 100_000):
    for share in (0.01, 0.3, 0.5, 0.62, 0.9, 0.99, 0.999):
        k = max(1, min(n - 1, round(share * n)))
        for alpha in (0.001, 0.01, 0.05):
            cases.append((k, n, alpha))
cases += [(1, 1, 0.001), (100, 100, 0.001), (1000, 1000, 0.01), (99_999, 100_000, 0.001)]

rows = []
for k, n, alpha in sorted(set(cases)):
    low = proportion_confint(k, n, alpha=2 * alpha, method="beta")[0]
    rows.append(f"    ({k}, {n}, {alpha!r}, {float(low)!r}),")
head = f"// scipy {scipy.__version__}, statsmodels {statsmodels.__version__}: bench/certify_reference.py\n"
(root / "clopper_pearson.rs.in").write_text(head + "[\n" + "\n".join(rows) + "\n]\n")

ps = [1e-15, 1e-9, 1e-4, 0.001, 0.01, 0.02425, 0.1, 0.25, 0.4, 0.5, 0.5000001, 0.6, 0.75, 0.9,
      0.97575, 0.99, 0.999, 0.9999, 1 - 1e-9, 0.5 + 1e-12, 0.841344746]
rows = [f"    ({p!r}, {float(norm.ppf(p))!r})," for p in ps]
(root / "normal_quantile.rs.in").write_text(head + "[\n" + "\n".join(rows) + "\n]\n")

tests = [(0, 1), (1, 1), (1, 2), (2, 2), (5, 10), (6, 10), (9, 10), (10, 10), (3, 10)]
for n in (25, 100, 999, 1000, 10_000, 100_000):
    for share in (0.5, 0.51, 0.55, 0.6, 0.75, 0.9, 0.99, 1.0, 0.45):
        tests.append((round(share * n), n))
rows = [f"    ({k}, {n}, {float(binomtest(k, n, 0.5).pvalue)!r})," for k, n in sorted(set(tests))]
(root / "binomial_test.rs.in").write_text(head + "[\n" + "\n".join(rows) + "\n]\n")
print(len(cases), "bounds,", len(ps), "quantiles,", len(rows), "binomial tests")
