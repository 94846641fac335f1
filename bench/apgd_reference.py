"""Writes pipeline/tests/fixtures/apgd_reference.json: runs of the reference
Auto-PGD and its targeted version APGD-T (Croce & Hein 2020;
`attack_single_run` as torchattacks 3.5.1 packages fra31/auto-attack's) on
a fixed small tanh network, for `attack::apgd`'s test to replay to the same
numbers.

The start is the reference's own draw (`torch.rand`/`torch.randn` from a
fixed generator), recorded as the offset from the clean image, so Temper
replays the search from the very same point. Run it through
bench/apgd_reference.sh, which makes the venv.
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torchattacks.attacks.apgd import APGD
from torchattacks.attacks.apgdt import APGDT

D, HIDDEN, CLASSES, ROWS, STEPS = 12, 16, 4, 10, 20
# (norm, loss, ε, target rank): APGD-T aims at the class the clean image
# ranks 2nd, 3rd, ... (one `attack_single_run` per target).
CASES = [
    ("Linf", "ce", 0.06, None),
    ("Linf", "dlr", 0.06, None),
    ("L2", "ce", 0.25, None),
    ("L2", "dlr", 0.25, None),
    ("Linf", "dlr-targeted", 0.06, 2),
    ("Linf", "dlr-targeted", 0.06, 3),
]
# No L2 APGD-T: torchattacks 3.5.1's APGDT steps every row of an L2 batch
# by the first row's step size (`step_size[0]`), where fra31/auto-attack's
# (whose targeted attack shares its untargeted `attack_single_run`) steps
# each row by its own; the L2 untargeted cases cover that code.


def network(rng: np.random.RandomState) -> nn.Sequential:
    net = nn.Sequential(nn.Flatten(), nn.Linear(D, HIDDEN), nn.Tanh(), nn.Linear(HIDDEN, CLASSES))
    with torch.no_grad():
        for layer, scale in [(net[1], 2.0), (net[3], 1.5)]:
            layer.weight.copy_(torch.tensor(rng.normal(0, scale, layer.weight.shape), dtype=torch.float32))
            layer.bias.copy_(torch.tensor(rng.normal(0, 0.3, layer.bias.shape), dtype=torch.float32))
    return net.eval()


def floats(t: torch.Tensor) -> list[float]:
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def main() -> None:
    torch.set_num_threads(1)
    rng = np.random.RandomState(7)
    net = network(rng)
    x = torch.tensor(rng.uniform(0.1, 0.9, (ROWS, 1, 3, 4)), dtype=torch.float32)
    # The network's own labels: every row starts correctly classified.
    y = net(x).argmax(1)
    cases = []
    for norm, loss, eps, rank in CASES:
        if rank is None:
            atk = APGD(net, norm=norm, eps=eps, steps=STEPS, n_restarts=1, seed=0, loss=loss)
        else:
            atk = APGDT(net, norm=norm, eps=eps, steps=STEPS, n_restarts=1, seed=0, n_classes=CLASSES)
            atk.target_class = rank
        draws = []
        real_rand, real_randn = torch.rand, torch.randn
        gen = torch.Generator().manual_seed(11)

        def rand(*shape, **kw):
            draws.append(real_rand(*shape, generator=gen))
            return draws[-1]

        def randn(*shape, **kw):
            draws.append(real_randn(*shape, generator=gen))
            return draws[-1]

        torch.rand, torch.randn = rand, randn
        try:
            x_best, acc, loss_best, x_best_adv = atk.attack_single_run(x.clone(), y.clone())
        finally:
            torch.rand, torch.randn = real_rand, real_randn
        (draw,) = draws
        # The reference's start, as it computes it (before the clamp).
        if norm == "Linf":
            t = 2 * draw - 1
            offset = eps * t / t.reshape(ROWS, -1).abs().max(1)[0].reshape(-1, 1, 1, 1)
        else:
            offset = eps * draw / ((draw**2).sum(dim=(1, 2, 3), keepdim=True).sqrt() + 1e-12)
        out = torch.where(acc.reshape(-1, 1, 1, 1), x_best, x_best_adv)
        cases.append(
            {
                "norm": norm,
                "loss": loss,
                "epsilon": eps,
                "steps": STEPS,
                "target_rank": rank,
                "offset": floats(offset),
                "robust": [bool(a) for a in acc.tolist()],
                "loss_best": floats(loss_best),
                "result": floats(out),
            }
        )
        print(f"{norm} {loss} {rank} ε {eps}: {int(acc.sum())} of {ROWS} rows still correct", file=sys.stderr)
    fixture = {
        "source": "torchattacks 3.5.1 APGD and APGDT attack_single_run (fra31/auto-attack's), torch 2.9.1",
        "shape": [ROWS, 1, 3, 4],
        "x": floats(x),
        "y": [int(v) for v in y.tolist()],
        # burn's Linear weight is [in, out]: transposed from torch's.
        "w1": floats(net[1].weight.t()),
        "b1": floats(net[1].bias),
        "w2": floats(net[3].weight.t()),
        "b2": floats(net[3].bias),
        "cases": cases,
    }
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent.parent / "pipeline/tests/fixtures/apgd_reference.json"
    out.write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
