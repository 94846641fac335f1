#!/usr/bin/env bash
# Regenerates pipeline/tests/fixtures/fab_reference.json from the reference
# FAB attack (bench/fab_reference.py), in apgd_reference.sh's venv (the same
# pins; APGD_VENV picks another).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$HERE"
REFERENCE_SCRIPT=fab_reference.py exec "$HERE/apgd_reference.sh" "$@"
