#!/usr/bin/env python3
"""PyTorch side of the training-throughput benchmark.

Creates bench/.venv-torch (first run only), installs the CPU build of
PyTorch there with pip, and trains the same CNN as `configs/digits.toml`
(conv 32 -> BN -> ReLU -> max-pool, conv 64 -> BN -> ReLU -> max-pool,
dense 128 with dropout 0.25, 10 outputs; 3x3 kernels, same padding; Adam
1e-3) on synthetic 28x28 gray batches, printing a row in the format of
`temper bench`: training images per second after three warm-up steps, with
losses and correct counts read back every 16 steps as Temper's training
loop does, inference images per second in eval mode (predictions read back
per batch), and PGD-10 (L-inf, eps 0.1, step 0.025, random start) images
per second in eval mode.

Usage: python3 bench/torch_cnn_bench.py [--threads N] [--batch B ...]
       [--steps S] [--device cpu|cuda]
"""

import argparse
import os
import subprocess
import sys
import time
import venv
from pathlib import Path

HERE = Path(__file__).resolve().parent
VENV = HERE / ".venv-torch"
PY = VENV / "bin" / "python"
PINS = ["torch==2.9.1"]
INDEX = "https://download.pytorch.org/whl/cpu"
# As Temper's training loop: losses and correct counts read back every 16 steps.
READ_EVERY = 16


def ensure_venv():
    """Re-runs this script inside the venv, unless torch is importable already."""
    try:
        import torch  # noqa: F401

        return
    except ImportError:
        pass
    if Path(sys.prefix).resolve() == VENV.resolve():
        sys.exit("torch is not importable inside bench/.venv-torch; delete it and retry")
    if not PY.exists():
        venv.create(VENV, with_pip=True)
        # The PyTorch index may be unreachable; PyPI's wheel is the same build plus CUDA libraries.
        try:
            subprocess.check_call([str(PY), "-m", "pip", "install", "-q", "--retries", "0", "--timeout", "10", "--index-url", INDEX, *PINS])
        except subprocess.CalledProcessError:
            subprocess.check_call([str(PY), "-m", "pip", "install", "-q", *PINS])
    os.execv(str(PY), [str(PY), __file__, *sys.argv[1:]])


def model(torch):
    nn = torch.nn
    return nn.Sequential(
        nn.Conv2d(1, 32, 3, padding=1),
        nn.BatchNorm2d(32),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3, padding=1),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(64 * 7 * 7, 128),
        nn.ReLU(),
        nn.Dropout(0.25),
        nn.Linear(128, 10),
    )


def sync(torch, device):
    if device == "cuda":
        torch.cuda.synchronize()


def measure(torch, device, batch, steps, pgd_steps, attack_batches):
    torch.manual_seed(42)
    net = model(torch).to(device)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    x_host = torch.rand(batch, 1, 28, 28)
    y_host = torch.randint(0, 10, (batch,))
    net.train()
    losses, hits = [], []
    for i in range(3 + steps):
        if i == 3:
            sync(torch, device)
            start = time.perf_counter()
        x, y = x_host.to(device), y_host.to(device)
        opt.zero_grad(set_to_none=True)
        out = net(x)
        loss = loss_fn(out, y)
        losses.append(loss.detach())
        hits.append((out.detach().argmax(1) == y).sum())
        if len(losses) >= READ_EVERY:
            torch.stack(losses).tolist(), torch.stack(hits).tolist()
            losses.clear(), hits.clear()
        loss.backward()
        opt.step()
    sync(torch, device)
    train = batch * steps / (time.perf_counter() - start)

    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    with torch.no_grad():
        for i in range(3 + steps):
            if i == 3:
                sync(torch, device)
                start = time.perf_counter()
            net(x_host.to(device)).argmax(1).tolist()
    sync(torch, device)
    inference = batch * steps / (time.perf_counter() - start)
    eps, alpha = 0.1, 0.025
    for i in range(1 + attack_batches):
        if i == 1:
            sync(torch, device)
            start = time.perf_counter()
        x, y = x_host.to(device), y_host.to(device)
        delta = (torch.rand_like(x) * 2 - 1) * eps
        delta = (x + delta).clamp(0, 1) - x
        for _ in range(pgd_steps):
            delta.requires_grad_(True)
            loss = loss_fn(net(x + delta), y)
            (g,) = torch.autograd.grad(loss, delta)
            delta = (delta.detach() + alpha * g.sign()).clamp(-eps, eps)
            delta = (x + delta).clamp(0, 1) - x
        (x + delta).sum().item()
    sync(torch, device)
    pgd = batch * attack_batches / (time.perf_counter() - start)
    return train, inference, pgd


def main():
    ensure_venv()
    import torch

    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--batch", type=int, action="append")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--pgd-steps", type=int, default=10)
    parser.add_argument("--attack-batches", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"| device | batch | train images/s | inference images/s | PGD-{args.pgd_steps} images/s |")
    print("|---|---|---|---|---|")
    name = f"torch {torch.__version__} {args.device}"
    if args.device == "cpu":
        name += f" ({args.threads} threads)"
    for batch in args.batch or [128]:
        train, inference, pgd = measure(torch, args.device, batch, args.steps, args.pgd_steps, args.attack_batches)
        print(f"| {name} | {batch} | {train:.0f} | {inference:.0f} | {pgd:.0f} |", flush=True)


if __name__ == "__main__":
    main()
