"""Reference values for Temper's consistency regulariser (Jeong & Shin 2020).

Transcribes `consistency_loss(logits, lbd, eta, loss='default')` of the
authors' code (jh-jeong/smoothing-consistency, code/consistency.py) into
NumPy, with PyTorch's `kl_div` semantics (0 · log 0 = 0), and prints the
loss for fixed logits so `train::loss` can be checked against it:

    python bench/consistency_reference.py
"""

import numpy as np
from scipy.special import log_softmax, softmax, xlogy


def consistency_loss(logits, lbd, eta):
    m = len(logits)
    probs = [softmax(l, axis=1) for l in logits]
    avg = sum(probs) / m
    # F.kl_div(log_softmax(l), avg, reduction='none').sum(1)
    kl = sum((xlogy(avg, avg) - avg * log_softmax(l, axis=1)).sum(1) for l in logits) / m
    ent = (-avg * np.log(np.clip(avg, 1e-20, None))).sum(1)
    return float((lbd * kl + eta * ent).mean())


CASES = {
    "two_copies": (
        [[[2.0, -1.0, 0.5], [0.0, 0.0, 0.0]], [[1.0, 0.3, -2.0], [3.0, -3.0, 1.0]]],
        10.0,
        0.5,
    ),
    "three_copies": (
        [
            [[0.1, 0.2, 0.3, 0.4]],
            [[-1.0, 2.0, 0.0, 1.0]],
            [[4.0, -2.0, 1.0, 0.0]],
        ],
        2.0,
        1.5,
    ),
    # A class whose probability underflows in f32: the clamp and 0 · log 0.
    "saturated": (
        [[[60.0, 0.0, -60.0]], [[0.0, 1.0, -100.0]]],
        20.0,
        0.5,
    ),
}

for name, (logits, lbd, eta) in CASES.items():
    arrays = [np.asarray(l, dtype=np.float64) for l in logits]
    print(f"{name}: {consistency_loss(arrays, lbd, eta)!r}")
