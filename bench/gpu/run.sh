#!/usr/bin/env bash
# On a lent GPU machine (see bench/gpu/pack.sh): unpacks temper, then
# measures training, inference and PGD-10 throughput of the digits CNN with
# Temper on CUDA and on wgpu (SPIR-V kernels), or with pack.sh's WEBGPU=1 on
# wgpu with SPIR-V and with WGSL kernels, beside PyTorch on CUDA, interleaved
# (bench/model_bench.py), at batch 128 and 512, with Temper's kernel launches
# and kernel time per step and the 25 kernels it launches most (`temper
# bench --kernels`). Tables go to stdout and to
# $OUT (or bench/gpu/out). DEVICE=cpu runs the same on the CPU (to try the
# script where there is no GPU). Before the benchmarks, bench/gpu/parity.py
# checks that Temper's GPU devices train as the CPU does ($OUT/parity.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-bench/gpu/out}
mkdir -p "$out" target/gpu
device=${DEVICE:-cuda}
python=${PYTHON:-python3}
# target/gpu/<name>.xz -> the path of the runnable binary.
unpack() {
  xz -dc "target/gpu/$1.xz" >"target/gpu/$1-run"
  chmod +x "target/gpu/$1-run"
  echo "target/gpu/$1-run"
}
if [ -e target/gpu/temper.xz ]; then
  bin=$(unpack temper)
else
  bin=${TEMPER:?"no target/gpu/temper.xz and no TEMPER set"}
fi
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"; } | tee "$out/gpu.txt"
# burn's CUDA kernels are compiled by LLVM, which links exp and log from the
# CUDA toolkit's libdevice.10.bc, looked for under $CUDA_PATH or
# /usr/local/cuda, /opt/cuda, /usr/lib/cuda, /usr. A machine with a driver
# and PyTorch but no toolkit has one in its Python packages (triton's, or
# nvidia-cuda-nvcc's): give it the layout LLVM looks for.
has_libdevice() { [ -f "$1/nvvm/libdevice/libdevice.10.bc" ]; }
root=
if [ "$device" = cuda ] && ! { [ -n "${CUDA_PATH:-}" ] && has_libdevice "$CUDA_PATH"; }; then
  for r in /usr/local/cuda /opt/cuda /usr/lib/cuda /usr; do
    if has_libdevice "$r"; then root=$r; break; fi
  done
  if [ -z "$root" ]; then
    bc=$(ls /usr/local/cuda-*/nvvm/libdevice/libdevice.10.bc 2>/dev/null | head -1 || true)
    [ -n "$bc" ] || bc=$("$python" -c 'import glob, site
roots = site.getsitepackages() + [site.getusersitepackages()]
print(next((p for r in roots for p in glob.glob(r + "/**/libdevice.10.bc", recursive=True)), ""))' 2>/dev/null || true)
    if [ -n "$bc" ]; then
      mkdir -p target/gpu/cuda-root/nvvm/libdevice
      ln -sf "$bc" target/gpu/cuda-root/nvvm/libdevice/libdevice.10.bc
      export CUDA_PATH=$PWD/target/gpu/cuda-root
    fi
  fi
fi
[ "$device" != cuda ] || echo "libdevice: $(ls "${CUDA_PATH:-$root}/nvvm/libdevice/libdevice.10.bc" 2>/dev/null || echo "not found (CUDA kernels with exp or log will fail)")" | tee -a "$out/gpu.txt"
export TEMPER_KERNEL_CACHE=$PWD/target/gpu/kernels
webgpu_cache=$PWD/target/gpu/kernels-webgpu
webgpu=
if [ -e target/gpu/temper-webgpu.xz ] && [ "$device" = cuda ]; then
  webgpu=$(unpack temper-webgpu)
fi
# The binary's GPU backends, from its refusal of an unknown device.
backends=$("$bin" bench --device none 2>&1 | grep -o 'available in this build: .*' || true)
temper_devices=()
if [ "$device" = cuda ]; then
  case "$backends" in *cuda*) temper_devices+=(cuda) ;; esac
  case "$backends" in *wgpu*) temper_devices+=(wgpu) ;; esac
else
  temper_devices+=("$device")
fi
# First, that the GPU devices train as the CPU does (bench/gpu/parity.py);
# a disagreement is reported at the end, after the benchmarks.
parity=0
if [ "$device" = cuda ]; then
  parity_devices=()
  for td in "${temper_devices[@]}"; do parity_devices+=(--device "$td"); done
  "$python" bench/gpu/parity.py --temper "$bin" "${parity_devices[@]}" --work target/gpu/parity \
    | tee "$out/parity.md" || parity=1
  if [ -n "$webgpu" ]; then
    TEMPER_KERNEL_CACHE=$webgpu_cache "$python" bench/gpu/parity.py --temper "$webgpu" --device wgpu \
      --label webgpu --work target/gpu/parity | tee -a "$out/parity.md" || parity=1
  fi
fi
# Each round's figures as they come (model_bench.py's stderr), so that a run
# cut short by the machine's time limit still brings back what it measured.
for td in "${temper_devices[@]}"; do
  echo "## Temper on $td, PyTorch on $device" >>"$out/rounds.log"
  "$python" bench/model_bench.py --temper "$bin" --device "$device" --temper-device "$td" \
    --batch 128 --batch 512 --rounds "${ROUNDS:-3}" --steps "${STEPS:-20}" --kernels 25 2> >(tee -a "$out/rounds.log" >&2) | tee "$out/model-$td.md"
done
# The WGSL build (pack.sh with WEBGPU=1) on the same adapter, with its own
# kernel cache folder, so that neither build reads the other's files.
if [ -n "$webgpu" ]; then
  echo "## Temper's WGSL build on wgpu, PyTorch on $device" >>"$out/rounds.log"
  TEMPER_KERNEL_CACHE=$webgpu_cache \
    "$python" bench/model_bench.py --temper "$webgpu" --device "$device" --temper-device wgpu \
    --batch 128 --batch 512 --rounds "${ROUNDS:-3}" --steps "${STEPS:-20}" --kernels 25 2> >(tee -a "$out/rounds.log" >&2) | tee "$out/model-wgpu-wgsl.md"
fi
[ "$parity" = 0 ] || { echo "run: a GPU device disagreed with the CPU ($out/parity.md)" >&2; exit 1; }
