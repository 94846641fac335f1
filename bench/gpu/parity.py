#!/usr/bin/env python3
"""Trains one small digits config on the CPU and on each GPU device of a
temper binary, and checks that the runs agree: the first batches' losses
(same initial weights, same batches, no dropout: they differ only by float
summation order and the GPU's matmul precision) and the clean accuracy.
The e2e tests check the same for wgpu on the software driver; this is the
check for a real GPU, CUDA included, run by bench/gpu/run.sh before the
benchmarks.

Usage: python3 bench/gpu/parity.py --temper BIN --device cuda --device wgpu
       [--label NAME] [--work DIR]

Prints a markdown table; exits 1 when a device's losses or accuracy are
further from the CPU's than the tolerances below.
"""

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# Measured on lavapipe against the CPU: the first 16 losses agree to 3e-4
# (tests/e2e/device.rs). A GPU's tensor cores may round matmul inputs to
# TF32 (10-bit mantissa), so allow 10x that over the first 8 batches.
LOSS_TOLERANCE = 3e-3
ACCURACY_TOLERANCE = 0.02
COMPARED_BATCHES = 8

CONFIG = """name = "gpu-parity"
seed = 3
[data]
modality = "image"
train = "{data}/digits/train.parquet"
test = "{data}/digits/test.parquet"
input-column = "image"
channels = 1
width = 28
height = 28
[model]
conv-channels = [8, 16]
hidden = 32
dropout = 0.0
[train]
epochs = 1
batch-size = 32
learning-rate = 0.003
[eval]
corruptions = ["rotate"]
batch-size = 128
"""


def run(cmd):
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"{' '.join(map(str, cmd))} failed ({done.returncode}):\n{done.stderr}")
    return done


def trained(temper, config, device, out):
    shutil.rmtree(out, ignore_errors=True)
    run([temper, "train", "--config", config, "--device", device, "--quiet", "--out", out])
    # <out>/<config name>/<run id>, beside a `latest` link.
    runs = sorted(p for p in Path(out).glob("*/*") if (p / "metrics.json").exists() and not p.is_symlink())
    if len(runs) != 1:
        sys.exit(f"expected one run under {out}, found {len(runs)}")
    d = runs[0]
    losses = [json.loads(line)["loss"] for line in (d / "log.jsonl").read_text().splitlines()
              if json.loads(line).get("event") == "batch"]
    metrics = json.loads((d / "metrics.json").read_text())
    manifest = json.loads((d / "manifest.json").read_text())
    return losses, metrics["clean_accuracy"], manifest["device"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--temper", required=True)
    parser.add_argument("--device", action="append", required=True)
    parser.add_argument("--label", default="")
    parser.add_argument("--work")
    args = parser.parse_args()
    work = Path(args.work or tempfile.mkdtemp(prefix="temper-parity-"))
    data = work / "data"
    if not (data / "digits" / "train.parquet").exists():
        run([args.temper, "synth", "--out", data, "--train", "2048", "--test", "512", "--only", "digits"])
    config = work / "parity.toml"
    config.write_text(CONFIG.format(data=data))
    label = f"{args.label}-" if args.label else ""
    base_losses, base_acc, _ = trained(args.temper, config, "cpu", work / f"{label}cpu")
    print(f"\nParity against the CPU: first {COMPARED_BATCHES} batch losses and clean accuracy "
          f"({len(base_losses)} batches of 32, CPU accuracy {base_acc:.4f})\n")
    print("| device | max loss difference | accuracy | accuracy difference | within tolerance |")
    print("|---|---:|---:|---:|---|")
    failed = False
    for device in args.device:
        losses, acc, name = trained(args.temper, config, device, work / f"{label}{device}")
        if len(losses) != len(base_losses):
            sys.exit(f"{device}: {len(losses)} batches, the CPU trained {len(base_losses)}")
        diff = max(abs(a - b) for a, b in zip(losses[:COMPARED_BATCHES], base_losses))
        ok = diff <= LOSS_TOLERANCE and abs(acc - base_acc) <= ACCURACY_TOLERANCE
        failed |= not ok
        print(f"| {name} | {diff:.2e} | {acc:.4f} | {acc - base_acc:+.4f} | {'yes' if ok else 'NO'} |")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
