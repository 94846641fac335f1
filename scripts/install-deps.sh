#!/usr/bin/env bash
# Installs what a fresh machine lacks for building and testing Temper.
# Idempotent and quiet when everything is present.
set -euo pipefail

if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install a Rust toolchain (rustup) first" >&2
  exit 2
fi

# Arguments: the GPU features being built (wgpu, webgpu, cuda).
need=()
command -v cc >/dev/null 2>&1 || need+=(build-essential)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
for feature in "$@"; do
  if [ "$feature" = wgpu ] || [ "$feature" = webgpu ]; then
    # The wgpu tests run on Mesa's software Vulkan driver where there is no GPU.
    ldconfig -p 2>/dev/null | grep -q 'libvulkan\.so\.1' || need+=(libvulkan1)
    ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1 || need+=(mesa-vulkan-drivers)
    # And on Mesa's software OpenGL (EGL), which wgpu falls back to without
    # a Vulkan driver: a test checks the run then says so.
    ldconfig -p 2>/dev/null | grep -q 'libEGL_mesa\.so\.0' || need+=(libegl-mesa0)
  fi
  if [ "$feature" = cuda ]; then
    # pip fetches the LLVM SDK the CUDA backend links (scripts/cuda-llvm.sh).
    python3 -m pip --version >/dev/null 2>&1 || need+=(python3-pip)
  fi
done
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${need[*]}" >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing packages: ${need[*]} (install them with your package manager)" >&2
    exit 2
  fi
fi

for feature in "$@"; do
  # The CUDA backend links LLVM; its build script would download it from GitHub.
  if [ "$feature" = cuda ]; then
    "$(dirname "$0")/cuda-llvm.sh"
  fi
done
