#!/usr/bin/env bash
# Builds temper with the CUDA backend (beside wgpu, as a GPU build is made),
# then runs the e2e test of what a user sees with that build: training on
# the card where there is a driver, else exit status 2 and one line naming
# the device and the missing driver (tests/e2e/device.rs). After
# `make test FEATURES=wgpu,cuda` (as CI runs it) neither compiles anything.
set -euo pipefail
cd "$(dirname "$0")/.."

features=wgpu,cuda
./scripts/install-deps.sh wgpu cuda
start=$(date +%s)
"${CARGO:-cargo}" build --locked -p temper --features "$features"
echo "cuda-build-test: built in $(( $(date +%s) - start ))s"
"${CARGO_TARGET_DIR:-target}/debug/temper" list >/dev/null

test=device::a_cuda_build_trains_on_the_card_or_says_in_one_line_that_there_is_no_driver
out=$("${CARGO:-cargo}" test --locked --workspace --features temper/wgpu,temper/cuda --test e2e -- --exact "$test" 2>&1) || {
  echo "$out" >&2
  exit 1
}
# A renamed test would match nothing and pass: insist that it ran.
grep -q 'test result: ok. 1 passed' <<<"$out" || { echo "$out" >&2; echo "cuda-build-test: $test did not run" >&2; exit 1; }
echo "cuda-build-test: $test passed"
