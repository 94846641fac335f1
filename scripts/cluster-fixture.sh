#!/usr/bin/env bash
# Writes the small fixture the cluster tests share into the current folder:
# tiny digits under data/, base.toml (3 corruptions, FGSM at two ε, PGD-5)
# and sweep.toml (the same with a 3-point seed sweep). Needs `temper` on PATH.
set -euo pipefail
temper synth --out data --train 400 --test 120 --only digits >/dev/null
cat > base.toml <<EOF
name = "cluster-digits"
seed = 5
[data]
modality = "image"
train = "data/digits/train.parquet"
test = "data/digits/test.parquet"
channels = 1
width = 28
height = 28
[model]
conv-channels = [8, 16]
hidden = 32
[train]
epochs = 1
batch-size = 32
learning-rate = 0.003
[eval]
corruptions = ["gaussian_noise", "rotate", "fog"]
batch-size = 128
[[eval.attacks]]
name = "fgsm"
epsilons = [0.05, 0.1]
examples = 60
[[eval.attacks]]
name = "pgd_linf"
epsilons = [0.1]
steps = 5
examples = 60
EOF
{ cat base.toml; printf '[sweep]\nseed = [1, 2, 3]\n'; } > sweep.toml

