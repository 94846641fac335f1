"""Reference values for Temper's MACER loss (Zhai et al. 2020).

Transcribes the loss of `macer_train` in the authors' code
(RuntianZ/macer, rs/macer.py; vendored as
jh-jeong/smoothing-consistency, code/third_party/macer.py) into NumPy
for fixed logits, and prints the quantiles `train::macer::probit` is
checked against:

    python bench/macer_reference.py
"""

import numpy as np
from scipy.special import softmax
from scipy.stats import norm


def macer_loss(logits, targets, sigma, lbd, gamma, beta):
    """`logits` is [n, k, classes] (the reference's reshape of its batch)."""
    n = logits.shape[0]
    mean = softmax(logits, axis=2).mean(1)
    classification = -np.log(mean[np.arange(n), targets] + 1e-10).sum()
    soft = softmax(logits * beta, axis=2).mean(1)
    order = np.argsort(-soft, axis=1, kind="stable")[:, :2]
    top = np.take_along_axis(soft, order, axis=1)
    right = order[:, 0] == targets
    out0, out1 = top[right, 0], top[right, 1]
    with np.errstate(divide="ignore"):
        gap = norm.ppf(out1) - norm.ppf(out0)
    keep = ~np.isnan(gap) & ~np.isinf(gap) & (np.abs(gap) <= gamma)
    robustness = (gap[keep] + gamma).sum() * sigma / 2
    return float((classification + lbd * robustness) / n), int(keep.sum())


rng = np.random.default_rng(7)
# Four rows, three copies, four classes; small logits keep β · logits from
# saturating float32 softmaxes, where the reference's icdf turns infinite.
LOGITS = rng.normal(0.0, 0.3, size=(4, 3, 4))
# Rows 0-2 lean to their target by 0.1, 0.3 and 0.6 (radii near, mid and
# far); row 3's target is its least likely class.
for row, lean in enumerate([0.1, 0.3, 0.6]):
    LOGITS[row, :, row] += lean
LOGITS = np.round(LOGITS, 3)
TARGETS = np.array([0, 1, 2, int(np.argmin(softmax(LOGITS[3], axis=1).mean(0)))])
# Rows whose smoothed top class is wrong are left out; so are those beyond γ.
for name, (sigma, lbd, gamma, beta) in {
    "defaults": (0.25, 12.0, 8.0, 16.0),
    "tight_margin": (0.5, 4.0, 0.85, 16.0),
    "soft": (0.25, 12.0, 8.0, 2.0),
    "no_radius_term": (0.25, 0.0, 8.0, 16.0),
}.items():
    value, kept = macer_loss(LOGITS, TARGETS, sigma, lbd, gamma, beta)
    print(f"{name}: {value!r} ({kept} rows in the radius term)")
print("logits [n, k, classes]:", LOGITS.tolist())
print("targets:", TARGETS.tolist())
for p in [1e-30, 1e-10, 1e-4, 0.01, 0.02425, 0.1, 0.3, 0.5, 0.7, 0.97575, 0.99, 0.9999, 0.9999999]:
    p32 = float(np.float32(p))
    print(f"ppf({p32!r}) = {norm.ppf(p32)!r}")
