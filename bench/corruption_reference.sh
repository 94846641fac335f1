#!/usr/bin/env bash
# Regenerates augment/tests/fixtures/corruptions/ (reference.json and inputs/)
# from the reference corruption implementations: imagecorruptions 1.1.2 for
# ImageNet-C, and the constants of make_tinyimagenet_c.py (Tiny-ImageNet-C)
# and make_cifar_c.py (CIFAR-10-C) re-implemented in
# bench/corruption_reference.py on top of imagecorruptions' helpers.
#
# Creates bench/.venv-corruptions on first run (pinned versions below; only
# PyPI is needed), then runs the generator with the venv's python. Extra
# arguments go to the generator, e.g. `bench/corruption_reference.sh --sheets /tmp/sheets`.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
VENV="$HERE/.venv-corruptions"
PY="$VENV/bin/python"
PINS=(
  imagecorruptions==1.1.2
  numpy==2.4.6
  scipy==1.17.1
  scikit-image==0.26.0
  opencv-python==5.1.0.95  # imagecorruptions requires opencv-python (not -headless)
  pillow==13.0.0
)
STAMP="$VENV/.pins"

if [[ ! -x "$PY" ]]; then
  "${PYTHON:-python3}" -m venv "$VENV"
fi
if [[ ! -f "$STAMP" ]] || [[ "$(cat "$STAMP")" != "${PINS[*]}" ]]; then
  "$PY" -m pip install -q --disable-pip-version-check "${PINS[@]}"
  echo "${PINS[*]}" > "$STAMP"
fi

# One thread for BLAS/OpenMP: the numbers do not depend on it, but the
# machine is usually busy compiling.
export OMP_NUM_THREADS=1 OPENBLAS_NUM_THREADS=1 MKL_NUM_THREADS=1
exec "$PY" "$HERE/corruption_reference.py" "$@"
