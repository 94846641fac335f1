"""Checks that two run roots hold the same runs: for each name, the one run
under <a>/<name> and the one under <b>/<name> have equal metrics.json but for
wall times and run ids, and the run under <a> is `latest`.
Usage: python3 scripts/same_runs.py <root-a> <root-b> <name>..."""

import json
import pathlib
import sys


def load(root: pathlib.Path, name: str) -> dict:
    runs = [p for p in (root / name).iterdir() if p.name != "latest"]
    assert len(runs) == 1, f"{root / name}: expected one run, found {runs}"
    m = json.loads((runs[0] / "metrics.json").read_text())
    m["run"]["id"] = None
    for epoch in m["training"]:
        for key in ("seconds", "examples_per_second", "device_busy_share"):
            epoch[key] = None
    return m


def main() -> None:
    a, b = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
    for name in sys.argv[3:]:
        ma, mb = load(a, name), load(b, name)
        assert ma == mb, f"{name}: {a} and {b} differ"
        assert ma["corruption_accuracy"] and ma["attack_accuracy"], f"{name}: nothing evaluated"
        assert (a / name / "latest").exists(), f"{a / name}: no latest"
    print(f"{len(sys.argv) - 3} runs under {a} equal those under {b}")


if __name__ == "__main__":
    main()
