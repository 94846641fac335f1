"""Reference values for Temper's adversarial weight perturbation (AWP, Wu et
al. 2020).

Transcribes one training step of the authors' code (csdongxian/AWP,
utils_awp.py and AT_AWP/train_cifar10.py) into NumPy for a two-layer
ReLU network, logits = relu(x·W1 + b1)·W2 + b2, whose weight gradients
have a closed form:

1. `calc_awp`: a proxy copy takes one SGD step (lr 0.1) on the negated
   training loss, and `diff_in_weights` keeps, for every weight of two or
   more dimensions (W1, W2; not the biases), ‖w‖ / (‖Δ‖ + 1e-20) · Δ.
2. `perturb`: w += γ·diff.
3. The training loss at the perturbed weights, one SGD step (lr 0.1).
4. `restore`: w −= γ·diff.

It prints the perturbation and the weights after the step, so
`train::awp` can be checked against them:

    python bench/awp_reference.py
"""

import numpy as np
from scipy.special import softmax

N, D, H, K = 3, 4, 3, 3
i = np.arange(N)[:, None]
X = 0.5 + 0.5 * np.sin(1.3 * i + 0.7 * np.arange(D)[None, :] + 0.2)
Y = np.array([0, 2, 1])
W1 = 0.8 * np.sin(1.0 + 3.0 * np.arange(D)[:, None] + 7.0 * np.arange(H)[None, :])
B1 = 0.1 * np.cos(np.arange(H))
W2 = 0.6 * np.cos(0.5 + 2.0 * np.arange(H)[:, None] + 5.0 * np.arange(K)[None, :])
B2 = 0.05 * np.sin(np.arange(K))
LR, GAMMA, EPS = 0.1, 0.01, 1e-20


def gradients(w1, b1, w2, b2):
    """Mean cross-entropy and its gradients with respect to every weight."""
    pre = X @ w1 + b1
    h = np.maximum(pre, 0.0)
    p = softmax(h @ w2 + b2, axis=1)
    onehot = np.eye(K)[Y]
    loss = -np.mean(np.log(p[np.arange(N), Y]))
    dlogits = (p - onehot) / N
    dh = (dlogits @ w2.T) * (pre > 0)
    return loss, (X.T @ dh, dh.sum(0), h.T @ dlogits, dlogits.sum(0))


def awp_step(weights):
    w1, b1, w2, b2 = weights
    # calc_awp: the proxy ascends the loss by one SGD step on its negation.
    _, grads = gradients(*weights)
    proxy = [w + LR * g for w, g in zip(weights, grads)]
    diff = {}
    for k in (0, 2):  # the two-dimensional weights
        delta = proxy[k] - weights[k]
        diff[k] = np.linalg.norm(weights[k]) / (np.linalg.norm(delta) + EPS) * delta
    perturbed = [w + GAMMA * diff[k] if k in diff else w for k, w in enumerate(weights)]
    loss, grads = gradients(*perturbed)
    stepped = [w - LR * g for w, g in zip(perturbed, grads)]
    restored = [w - GAMMA * diff[k] if k in diff else w for k, w in enumerate(stepped)]
    return diff, loss, restored


def show(name, values):
    flat = ", ".join(repr(float(v)) for v in np.ravel(values))
    print(f"{name} = [{flat}]")


if __name__ == "__main__":
    diff, loss, restored = awp_step([W1, B1, W2, B2])
    show("shift W1 (γ·diff)", GAMMA * diff[0])
    show("shift W2 (γ·diff)", GAMMA * diff[2])
    print(f"loss at the perturbed weights = {loss!r}")
    for name, w in zip(["W1", "b1", "W2", "b2"], restored):
        show(f"{name} after the step", w)
