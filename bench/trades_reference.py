"""Reference values for Temper's TRADES training (Zhang et al. 2019).

Transcribes `trades_loss` of the authors' code (yaodongyu/TRADES,
trades.py: the inner maximisation under L∞ and L2, then the loss) into
NumPy for a linear model, logits = x·W + b, whose input gradient has a
closed form, from a fixed start instead of 0.001·randn, and prints the
adversarial images and the loss, so `attack::trades` and `train::loss`
can be checked against them:

    python bench/trades_reference.py
"""

import numpy as np
from scipy.special import log_softmax, softmax

N, D, K = 3, 8, 3  # images of 1×2×4 pixels, 3 classes
i = np.arange(N)[:, None]
j = np.arange(D)[None, :]
X = 0.5 + 0.5 * np.sin(1.3 * i + 0.7 * j + 0.2)
START = 0.02 * np.cos(0.9 * i + 1.7 * j)
jj = np.arange(D)[:, None]
kk = np.arange(K)[None, :]
W = 0.8 * np.sin(1.0 + 3.0 * jj + 7.0 * kk)
B = 0.1 * np.cos(np.arange(K))
Y = np.array([0, 2, 1])


def logits(x):
    return x @ W + B


def kl_gradient(x_adv, p_nat):
    # ∇ of criterion_kl(log_softmax(model(x_adv)), softmax(model(x_natural)))
    # (sum reduction): (softmax(x_adv·W + b) − p_nat)·Wᵀ, row by row.
    return (softmax(logits(x_adv), axis=1) - p_nat) @ W.T


def inner(x_natural, start, epsilon, step_size, steps, distance):
    p_nat = softmax(logits(x_natural), axis=1)
    if distance == "l_inf":
        x_adv = x_natural + start
        for _ in range(steps):
            grad = kl_gradient(x_adv, p_nat)
            x_adv = x_adv + step_size * np.sign(grad)
            x_adv = np.minimum(np.maximum(x_adv, x_natural - epsilon), x_natural + epsilon)
            x_adv = np.clip(x_adv, 0.0, 1.0)
    else:
        delta = start.copy()
        for _ in range(steps):
            # SGD on −KL with lr ε/steps·2 along the row-normalised gradient.
            grad = -kl_gradient(x_natural + delta, p_nat)
            grad = grad / np.linalg.norm(grad, axis=1, keepdims=True)
            delta = delta - epsilon / steps * 2 * grad
            delta = np.clip(delta + x_natural, 0.0, 1.0) - x_natural
            # renorm_(p=2, dim=0, maxnorm=epsilon)
            norm = np.linalg.norm(delta, axis=1, keepdims=True)
            delta = np.where(norm > epsilon, delta * epsilon / (norm + 1e-7), delta)
        x_adv = x_natural + delta
    return np.clip(x_adv, 0.0, 1.0)


def loss(x_natural, x_adv, y, beta):
    nat = logits(x_natural)
    loss_natural = -log_softmax(nat, axis=1)[np.arange(len(y)), y].mean()
    p = softmax(nat, axis=1)
    kl = (p * (np.log(p) - log_softmax(logits(x_adv), axis=1))).sum()
    return loss_natural + beta * kl / len(y)


def show(name, x_adv, beta):
    print(f"{name} x_adv: [{', '.join(f'{v:.8f}' for v in x_adv.ravel())}]")
    print(f"{name} loss (beta {beta}): {float(loss(X, x_adv, Y, beta))!r}")


if __name__ == "__main__":
    show("linf", inner(X, START, 0.1, 0.03, 5, "l_inf"), 6.0)
    show("l2", inner(X, START, 0.3, 2 * 0.3 / 5, 5, "l_2"), 1.0)

    # The loss alone on fixed logits, one row saturated (p ≈ 0 for a class).
    CLEAN = np.array([[2.0, -1.0, 0.5], [0.0, 0.0, 0.0], [40.0, 0.0, -40.0]])
    ADV = np.array([[1.0, 0.3, -2.0], [3.0, -3.0, 1.0], [0.0, 1.0, -60.0]])
    LABELS = np.array([0, 2, 1])
    for beta in (6.0, 1.0, 0.0):
        ce = -log_softmax(CLEAN, axis=1)[np.arange(3), LABELS].mean()
        p = softmax(CLEAN, axis=1)
        kl = (p * (log_softmax(CLEAN, axis=1) - log_softmax(ADV, axis=1))).sum()
        print(f"logits loss (beta {beta}): {float(ce + beta * kl / 3)!r}")
