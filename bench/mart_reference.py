"""Reference values for Temper's MART training (Wang et al. 2020).

Transcribes `mart_loss` of the authors' code (YisenWang/MART, mart.py:
the L∞ inner maximisation, then the loss) into NumPy: the attack for a
linear model, logits = x·W + b, whose input gradient has a closed form,
from a fixed start instead of 0.001·randn (the model, images and start of
bench/trades_reference.py), and the loss on fixed logits, so
`attack::trades` and `train::loss` can be checked against them:

    python bench/mart_reference.py
"""

import numpy as np
from scipy.special import log_softmax, softmax

# The linear model, images, labels and start of the TRADES check.
from trades_reference import B, K, START, W, X, Y


def inner(x_natural, y, start, epsilon, step_size, steps):
    x_adv = x_natural + start
    onehot = np.eye(K)[y]
    for _ in range(steps):
        # ∇ of F.cross_entropy(model(x_adv), y): (softmax − onehot)·Wᵀ / n.
        grad = (softmax(x_adv @ W + B, axis=1) - onehot) @ W.T / len(y)
        x_adv = x_adv + step_size * np.sign(grad)
        x_adv = np.minimum(np.maximum(x_adv, x_natural - epsilon), x_natural + epsilon)
        x_adv = np.clip(x_adv, 0.0, 1.0)
    return np.clip(x_adv, 0.0, 1.0)


def mart_loss(logits, logits_adv, y, beta):
    n = len(y)
    adv_probs = softmax(logits_adv, axis=1)
    tmp1 = np.argsort(adv_probs, axis=1, kind="stable")[:, -2:]
    new_y = np.where(tmp1[:, -1] == y, tmp1[:, -2], tmp1[:, -1])
    ce = -log_softmax(logits_adv, axis=1)[np.arange(n), y].mean()
    nll = -np.log(1.0001 - adv_probs[np.arange(n), new_y] + 1e-12).mean()
    nat_probs = softmax(logits, axis=1)
    true_probs = nat_probs[np.arange(n), y]
    # nn.KLDivLoss(reduction='none')(log(adv_probs + 1e-12), nat_probs)
    kl = nat_probs * (log_softmax(logits, axis=1) - np.log(adv_probs + 1e-12))
    robust = (kl.sum(1) * (1.0000001 - true_probs)).sum() / n
    return ce + nll + beta * robust


x_adv = inner(X, Y, START, 0.1, 0.03, 5)
print(f"linf x_adv: [{', '.join(f'{v:.8f}' for v in x_adv.ravel())}]")

CLEAN = np.array([[2.0, -1.0, 0.5], [0.0, 0.0, 0.0], [40.0, 0.0, -40.0], [0.2, 1.5, -0.3]])
ADV = np.array([[1.0, 0.3, -2.0], [3.0, -3.0, 1.0], [0.0, 1.0, -60.0], [0.1, 0.4, 0.3]])
LABELS = np.array([0, 2, 1, 1])
for beta in (6.0, 1.0, 0.0):
    print(f"logits loss (beta {beta}): {float(mart_loss(CLEAN, ADV, LABELS, beta))!r}")
