#!/usr/bin/env bash
# Install checkov (the chart's security scanner, tests/chart) into a venv of its own, .cache/checkov, and print
# the path of its binary. Not in the project's .venv: checkov pins packaging<24 and python-dateutil<3, which
# would downgrade what kube-lvs and its test tools run with. Idempotent: does nothing when it already runs.
set -euo pipefail

VERSION="3.3.30"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${ROOT}/.cache/checkov"
CHECKOV="${VENV}/bin/checkov"

if [[ -x "${CHECKOV}" ]] && "${CHECKOV}" --version 2>/dev/null | grep -qx "${VERSION}"; then
    echo "${CHECKOV}"
    exit 0
fi
python3 -m venv "${VENV}"
"${VENV}/bin/python" -m pip install -q "checkov==${VERSION}" 2>&1 | grep -v '^WARNING: Location' >&2 || true
"${CHECKOV}" --version >&2
echo "${CHECKOV}"
