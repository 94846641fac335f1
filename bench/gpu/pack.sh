#!/usr/bin/env bash
# Packs a GPU build of temper for a lent GPU machine, which has no Rust
# toolchain and takes at most 64 MiB of carried files: the dev-profile binary
# of `make test-cuda-build` (dependencies at opt-level 3, so no separate
# release build is needed), stripped and xz-compressed (223 MB -> 46.3 MB for
# wgpu + cuda). Writes target/gpu/temper.xz; carry `target/gpu` and run
# bench/gpu/run.sh there.
#
# WEBGPU=1 also builds `--features webgpu` (wgpu with WGSL kernels on
# Vulkan too) and packs it as target/gpu/temper-webgpu.xz, so that run.sh
# measures wgpu both ways on the GPU's driver. Run it after
# `make test-cuda-build`: the build replaces that binary in the target folder
# (this script strips its copy first).
set -euo pipefail
cd "$(dirname "$0")/../.."
target=${CARGO_TARGET_DIR:-target}
bin=${1:-$target/debug/temper}
[ -x "$bin" ] || { echo "pack: no binary at $bin (set CARGO_TARGET_DIR or pass its path)" >&2; exit 2; }
features=$("$bin" bench --device none 2>&1 | grep -o 'available in this build: .*' || true)
case "$features" in
  *cuda*) ;;
  *) echo "pack: $bin was not built with cuda ($features); run make test-cuda-build first" >&2; exit 2 ;;
esac
mkdir -p target/gpu
rm -f target/gpu/temper-webgpu.xz
strip -o target/gpu/temper "$bin"
xz -T2 -6 -f target/gpu/temper
if [ "${WEBGPU:-0}" = 1 ]; then
  cargo build --locked -p temper --features webgpu
  strip -o target/gpu/temper-webgpu "$target/debug/temper"
  xz -T2 -6 -f target/gpu/temper-webgpu
fi
ls -l target/gpu/*.xz
total=$(cat target/gpu/*.xz | wc -c)
if [ "$total" -gt $((64 * 1024 * 1024)) ]; then
  echo "pack: target/gpu holds $total bytes, over the 64 MiB a GPU machine takes" >&2
  exit 1
fi
