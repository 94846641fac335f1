#!/usr/bin/env python3
"""`make bench-model`: Temper's model throughput beside PyTorch's, interleaved.

Runs `temper bench` and `bench/torch_cnn_bench.py` one after the other,
--rounds times (Temper first in odd rounds, PyTorch first in even ones, so
neither always gets the cooler machine), and prints one table per device:
training, inference and PGD-10 images/s at each batch size, the median over
the rounds for each side, and Temper / PyTorch.

Usage: python3 bench/model_bench.py --temper PATH [--device cpu|cuda]
       [--temper-device cpu|cuda|wgpu]
       [--batch 64 --batch 128] [--threads N] [--rounds 3] [--steps 20]
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PHASES = ["train", "inference", "PGD-10"]


def rows(text):
    """{batch: [train, inference, pgd]} from a benchmark's first markdown
    table (`temper bench` follows it with kernel launch counts on a GPU)."""
    out = {}
    for line in first_table(text).splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 5 and re.fullmatch(r"\d+", cells[1]):
            out[int(cells[1])] = [float(c) for c in cells[2:]]
    return out


def first_table(text):
    """The lines up to the first blank one after a table has begun."""
    lines = text.splitlines()
    start = next((i for i, l in enumerate(lines) if l.startswith("|")), len(lines))
    end = next((i for i in range(start, len(lines)) if not lines[i].strip()), len(lines))
    return "\n".join(lines[:end])


def after_first_table(text):
    """What `temper bench` prints after its throughput table: on a GPU, the
    kernels each step launches (the same in every round)."""
    return text[len(first_table(text)):].strip()


def run(cmd, env=None):
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stderr}")
    return done.stdout


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--temper", required=True)
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    # Temper's own device when it differs from PyTorch's: `wgpu` beside
    # PyTorch's CUDA on a GPU machine.
    parser.add_argument("--temper-device", choices=["cpu", "cuda", "wgpu"])
    parser.add_argument("--batch", type=int, action="append")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=20)
    # On a GPU: list the N kernels Temper's training step launches most.
    parser.add_argument("--kernels", type=int, default=0)
    args = parser.parse_args()
    batches = args.batch or [64, 128]
    batch_args = [a for b in batches for a in ("--batch", str(b))]
    temper_device = args.temper_device or args.device
    temper_cmd = [args.temper, "bench", "--device", temper_device, "--steps", str(args.steps),
                  "--kernels", str(args.kernels), *batch_args]
    torch_cmd = [sys.executable, str(HERE / "torch_cnn_bench.py"), "--device", args.device,
                 "--threads", str(args.threads), "--steps", str(args.steps), *batch_args]
    env = dict(os.environ, RAYON_NUM_THREADS=str(args.threads))
    ours, theirs = [], []
    launches = ""
    for r in range(args.rounds):
        order = [("temper", temper_cmd), ("torch", torch_cmd)]
        if r % 2:
            order.reverse()
        for who, cmd in order:
            text = run(cmd, env)
            got = rows(text)
            if who == "temper":
                extra = after_first_table(text)
                if extra and not launches:
                    print(extra, file=sys.stderr, flush=True)
                launches = extra
            (ours if who == "temper" else theirs).append(got)
            print(f"round {r + 1} {who}: {got}", file=sys.stderr, flush=True)
    print(f"\nTemper on {temper_device}, PyTorch on {args.device}, {args.threads} threads, "
          f"median of {args.rounds} interleaved rounds (images/s)\n")
    print("| batch | phase | Temper | PyTorch | Temper / PyTorch |")
    print("|---:|---|---:|---:|---:|")
    for b in batches:
        for i, phase in enumerate(PHASES):
            a = statistics.median(run_[b][i] for run_ in ours)
            p = statistics.median(run_[b][i] for run_ in theirs)
            print(f"| {b} | {phase} | {a:.0f} | {p:.0f} | {a / p:.2f}x |")
    if launches:
        print(f"\nTemper's last round:\n\n{launches}")


if __name__ == "__main__":
    main()
