"""Writes pipeline/tests/fixtures/fab_reference.json: the reference FAB
attack's L∞ and L2 projections and targeted runs (Croce & Hein 2020, "Minimally
distorted adversarial examples with a fast adaptive boundary attack";
`projection_linf`, `projection_l2` and `attack_single_run_targeted` as torchattacks 3.5.1
packages fra31/auto-attack's), for `attack::fab`'s tests to replay to the
same numbers.

FAB-T as AutoAttack's standard version runs it has one restart, so no
random start: each search starts at the clean image and is deterministic.
The network and rows are apgd_reference.py's. Run it through
bench/fab_reference.sh, which makes the venv.
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
from torchattacks.attacks.fab import FAB, projection_l2, projection_linf

from apgd_reference import CLASSES, ROWS, floats, network

STEPS = 20
# (norm, ε, target rank): FAB-T aims at the class the clean image ranks
# 2nd, 3rd, 4th. FAB minimises the perturbation, so ε does not steer the
# search; it only decides which rows count as broken.
CASES = [("Linf", 0.06, 2), ("Linf", 0.06, 3), ("Linf", 0.06, 4), ("L2", 0.25, 2), ("L2", 0.25, 3)]
PROJECTIONS = 48


def projections(rng: np.random.RandomState, project) -> list[dict]:
    """Random points, hyperplanes and offsets spread so that every branch
    of the projection is taken: the hyperplane reached inside the box by
    the binary search, reached only at the box's corner, or not at all."""
    out = []
    for i in range(PROJECTIONS):
        n = [12, 30, 7][i % 3]
        t = rng.uniform(0, 1, (1, n)).astype(np.float32)
        w = rng.normal(0, 1, (1, n)).astype(np.float32)
        if i % 4 == 0:
            w[0, rng.randint(n)] = 0.0  # a zero weight leaves its pixel alone
        b = (w @ t.T).reshape(1) + rng.normal(0, [0.2, 1.0, 4.0, 12.0][i % 4], 1).astype(np.float32)
        d = project(torch.tensor(t), torch.tensor(w), torch.tensor(b.astype(np.float32)))
        out.append({"t": floats(torch.tensor(t)), "w": floats(torch.tensor(w)), "b": float(b[0]), "d": floats(d)})
    return out


def main() -> None:
    torch.set_num_threads(1)
    rng = np.random.RandomState(7)
    net = network(rng)
    x = torch.tensor(rng.uniform(0.1, 0.9, (ROWS, 1, 3, 4)), dtype=torch.float32)
    y = net(x).argmax(1)
    cases = []
    for norm, eps, rank in CASES:
        atk = FAB(net, norm=norm, eps=eps, steps=STEPS, n_restarts=1, multi_targeted=True, n_classes=CLASSES)
        atk.target_class = rank
        adv = atk.attack_single_run_targeted(x.clone(), y.clone(), use_rand_start=False)
        delta = (adv - x).reshape(ROWS, -1)
        size = delta.abs().max(1)[0] if norm == "Linf" else (delta**2).sum(1).sqrt()
        fooled = net(adv).argmax(1) != y
        cases.append(
            {
                "norm": norm,
                "epsilon": eps,
                "steps": STEPS,
                "target_rank": rank,
                "fooled": [bool(f) for f in fooled.tolist()],
                "size": floats(size),
                "result": floats(adv),
            }
        )
        print(f"FAB-T {norm} rank {rank}: {int(fooled.sum())} of {ROWS} rows fooled, sizes {floats(size)}", file=sys.stderr)
    fixture = {
        "source": "torchattacks 3.5.1 FAB projection_linf and attack_single_run_targeted (fra31/auto-attack's), torch 2.9.1",
        "alpha_max": atk.alpha_max,
        "eta": atk.eta,
        "beta": atk.beta,
        "projections": projections(np.random.RandomState(3), projection_linf),
        "projections_l2": projections(np.random.RandomState(4), projection_l2),
        "cases": cases,
    }
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent.parent / "pipeline/tests/fixtures/fab_reference.json"
    out.write_text(json.dumps(fixture, indent=1) + "\n")
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
