#!/usr/bin/env bash
# Packs GPU builds of temper for a lent GPU machine, which has no Rust
# toolchain and takes at most 64 MiB of files, the repository's own
# (about 5 MB) included. Dev-profile binaries (dependencies at opt-level 3,
# so no separate release build is needed), stripped and xz-compressed.
# Carry `target/gpu` and run bench/gpu/run.sh there.
#
# Default: the binary of `make test-cuda-build` (wgpu + cuda: 223 MB
# stripped, 46.3 MB compressed) as target/gpu/temper.xz.
#
# WEBGPU=1: SPIR-V against WGSL on the GPU's Vulkan driver instead. The
# CUDA binary and a WGSL one together are 70.8 MB, over the limit, so this
# packs two wgpu-only builds: `--features wgpu` (SPIR-V) as temper.xz and
# `--features webgpu` (WGSL) as temper-webgpu.xz; run.sh then measures both
# on wgpu beside PyTorch on CUDA, and Temper's CUDA not at all.
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${CARGO_TARGET_DIR:-target}
limit=$((64 * 1024 * 1024))

# The backends a binary was built with, from its refusal of an unknown device.
backends() {
  "$1" bench --device none 2>&1 | grep -o 'available in this build: .*' || true
}
pack() { # <binary> <name>
  strip -o "target/gpu/$2" "$1"
  xz -T2 -6 -f "target/gpu/$2"
}

mkdir -p target/gpu
rm -f target/gpu/*.xz
if [ "${WEBGPU:-0}" = 1 ]; then
  cargo build --locked -p temper --features wgpu
  pack "$target/debug/temper" temper
  cargo build --locked -p temper --features webgpu
  pack "$target/debug/temper" temper-webgpu
else
  bin=${1:-$target/debug/temper}
  [ -x "$bin" ] || { echo "pack: no binary at $bin (set CARGO_TARGET_DIR or pass its path)" >&2; exit 2; }
  case "$(backends "$bin")" in
    *cuda*) ;;
    *) echo "pack: $bin was not built with cuda ($(backends "$bin")); run make test-cuda-build first" >&2; exit 2 ;;
  esac
  pack "$bin" temper
fi
ls -l target/gpu/*.xz
repo=$(git ls-files -z | xargs -0 cat | wc -c)
total=$(( $(cat target/gpu/*.xz | wc -c) + repo ))
if [ "$total" -gt "$limit" ]; then
  echo "pack: target/gpu and the repository hold $total bytes, over the 64 MiB a GPU machine takes" >&2
  exit 1
fi
echo "pack: $total bytes with the repository, of $limit"
