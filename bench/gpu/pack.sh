#!/usr/bin/env bash
# Packs a GPU build of temper for a lent GPU machine, which has no Rust
# toolchain and takes at most 64 MiB of carried files: the dev-profile binary
# of `make test-cuda-build` (dependencies at opt-level 3, so no separate
# release build is needed), stripped and xz-compressed (223 MB -> 46.3 MB for
# wgpu + cuda). Writes target/gpu/temper.xz; carry `target/gpu` and run
# bench/gpu/run.sh there.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${1:-${CARGO_TARGET_DIR:-target}/debug/temper}
[ -x "$bin" ] || { echo "pack: no binary at $bin (set CARGO_TARGET_DIR or pass its path)" >&2; exit 2; }
features=$("$bin" bench --device none 2>&1 | grep -o 'available in this build: .*' || true)
case "$features" in
  *cuda*) ;;
  *) echo "pack: $bin was not built with cuda ($features); run make test-cuda-build first" >&2; exit 2 ;;
esac
mkdir -p target/gpu
strip -o target/gpu/temper "$bin"
xz -T2 -6 -f target/gpu/temper
ls -l target/gpu/temper.xz
