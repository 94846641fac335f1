#!/usr/bin/env bash
# Regenerates pipeline/tests/fixtures/apgd_reference.json from the reference
# Auto-PGD (bench/apgd_reference.py). Creates bench/.venv-apgd on first run
# (pinned versions below; only PyPI is needed: torch's wheel is large).
# torchattacks is installed without its dependencies: the script imports
# only its Auto-PGD, which needs torch and numpy (scipy for the package's
# import of its other attacks).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="${APGD_VENV:-$HERE/.venv-apgd}"
PY="$VENV/bin/python"
PINS=(torch==2.9.1 numpy==2.4.6 scipy==1.17.1)
STAMP="$VENV/.pins"

if [[ ! -x "$PY" ]]; then
  "${PYTHON:-python3}" -m venv "$VENV"
fi
if [[ ! -f "$STAMP" ]] || [[ "$(cat "$STAMP")" != "${PINS[*]} torchattacks==3.5.1" ]]; then
  "$PY" -m pip install -q --disable-pip-version-check "${PINS[@]}"
  "$PY" -m pip install -q --disable-pip-version-check --no-deps torchattacks==3.5.1
  echo "${PINS[*]} torchattacks==3.5.1" > "$STAMP"
fi

export OMP_NUM_THREADS=1
# fab_reference.sh runs its script in the same venv.
exec "$PY" "$HERE/${REFERENCE_SCRIPT:-apgd_reference.py}" "$@"
