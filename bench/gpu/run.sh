#!/usr/bin/env bash
# On a lent GPU machine (see bench/gpu/pack.sh): unpacks temper, then
# measures training, inference and PGD-10 throughput of the digits CNN with
# Temper on CUDA and on wgpu beside PyTorch on CUDA, interleaved
# (bench/model_bench.py), at batch 128 and 512. Tables go to stdout and to
# $OUT (or bench/gpu/out). DEVICE=cpu runs the same on the CPU (to try the
# script where there is no GPU).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-bench/gpu/out}
mkdir -p "$out" target/gpu
device=${DEVICE:-cuda}
python=${PYTHON:-python3}
if [ -e target/gpu/temper.xz ]; then
  xz -dc target/gpu/temper.xz >target/gpu/temper-run
  chmod +x target/gpu/temper-run
  bin=target/gpu/temper-run
else
  bin=${TEMPER:?"no target/gpu/temper.xz and no TEMPER set"}
fi
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"; } | tee "$out/gpu.txt"
export TEMPER_KERNEL_CACHE=$PWD/target/gpu/kernels
temper_devices=("$device")
[ "$device" = cuda ] && temper_devices+=(wgpu)
for td in "${temper_devices[@]}"; do
  "$python" bench/model_bench.py --temper "$bin" --device "$device" --temper-device "$td" \
    --batch 128 --batch 512 --rounds "${ROUNDS:-3}" --steps "${STEPS:-20}" | tee "$out/model-$td.md"
done
