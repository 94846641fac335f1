#!/usr/bin/env bash
# Builds temper with the CUDA backend (beside wgpu, as a GPU build is made)
# and checks what a user without an NVIDIA driver sees: exit status 2 and one
# line naming the device. Where a driver is present it only builds.
set -euo pipefail
cd "$(dirname "$0")/.."

features=wgpu,cuda
./scripts/install-deps.sh wgpu cuda
start=$(date +%s)
"${CARGO:-cargo}" build --locked -p temper --features "$features"
echo "cuda-build-test: built in $(( $(date +%s) - start ))s"
bin=${CARGO_TARGET_DIR:-target}/debug/temper
"$bin" list >/dev/null

if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi >/dev/null 2>&1; then
  echo "cuda-build-test: an NVIDIA driver is present; the no-driver check does not apply"
  exit 0
fi

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# The bundled config on a few generated digits (a clean clone has no data).
mkdir -p "$out/configs"
cp configs/digits.toml "$out/configs/"
"$bin" synth --out "$out/data/generated" --only digits --train 64 --test 32 >/dev/null
status=0
"$bin" train --config "$out/configs/digits.toml" --device cuda --out "$out/runs" >"$out/stdout" 2>"$out/stderr" || status=$?
fail() {
  echo "cuda-build-test: $1" >&2
  echo "--- stderr:" >&2
  cat "$out/stderr" >&2
  exit 1
}
[ "$status" = 2 ] || fail "expected exit status 2 without a driver, got $status"
[ "$(wc -l <"$out/stderr")" = 1 ] || fail "expected one line on stderr"
grep -q 'device `cuda`' "$out/stderr" || fail "the message does not name the device"
grep -q 'NVIDIA driver' "$out/stderr" || fail "the message does not say what is missing"
[ "$(wc -c <"$out/stderr")" -lt 400 ] || fail "the message is longer than one readable line"
if grep -q -i -E 'unwrap|panicked|RecvError|backtrace' "$out/stderr"; then
  fail "the message leaks a panic"
fi
[ ! -e "$out/runs" ] || [ -z "$(ls -A "$out/runs")" ] || fail "a run directory was left behind"
echo "cuda-build-test: without a driver: $(cat "$out/stderr")"
