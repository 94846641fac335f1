#!/usr/bin/env bash
# `make train` builds `-p temper`, `make test` the workspace with its
# dev-dependencies. Cargo gives a crate one build per feature set, so a
# dev-dependency that turns on a feature of a crate both builds use (as
# augment's imageproc did with num-complex's `std`, under cubecl-core) makes
# `make train` after `make test` compile the whole burn stack a second time.
# This fails, naming the crates, when the two builds resolve any shared
# crate with different features. Arguments: the GPU features (as FEATURES).
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."

features=$(IFS=,; echo "$*")
train_args=(-p temper -e no-dev)
test_args=(--workspace)
if [ -n "$features" ]; then
  train_args+=(--features "$features")
  test_args+=(--features "$(printf 'temper/%s,' "$@" | sed 's/,$//')")
fi

# One line per crate and version: its name, version and each feature set
# it is built with (a crate can be built twice within one build, for the
# build machine's scripts and macros and for the binary, with different
# features; that is not what this looks for).
resolve() {
  "${CARGO:-cargo}" tree --locked "$@" --prefix none -f '{p}|{f}' \
    | grep -v '(\*)$' | sed -e 's/ (\/[^)]*)//' -e 's/ (proc-macro)//' | sort -u -t '|' -k1,1 -k2,2 \
    | awk -F'|' '$1 == key { sets = sets " [" $2 "]"; next }
                 { if (key != "") print key "|" sets; key = $1; sets = "[" $2 "]" }
                 END { if (key != "") print key "|" sets }'
}
train=$(resolve "${train_args[@]}")
test=$(resolve "${test_args[@]}")
diverged=$(join --check-order -t '|' <(echo "$train") <(echo "$test") \
  | awk -F'|' '$2 != $3 { print "  " $1 ": " $2 " for make train, " $3 " for make test" }')
if [ -n "$diverged" ]; then
  echo "check-shared-build: make train and make test (features: ${features:-none}) would build these crates twice:" >&2
  echo "$diverged" >&2
  echo "pin the missing features in pipeline/Cargo.toml's [dependencies] (see num-complex there)" >&2
  exit 1
fi
echo "check-shared-build: make train and make test (features: ${features:-none}) share every crate they both build"
