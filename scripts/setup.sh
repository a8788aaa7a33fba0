#!/usr/bin/env bash
# Installs everything keyrot's demo and tests need, inside the repository only:
# npm packages from package-lock.json, and a Python venv at .venv with the pinned
# moto server and cfn-lint. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

echo "keyrot setup: npm packages (npm ci)"
npm ci --no-audit --no-fund

echo "keyrot setup: Python venv at .venv (moto, cfn-lint from requirements.txt)"
if [ ! -x .venv/bin/python ]; then
  # --system-site-packages: where the image already ships the pinned versions
  # (and PyPI is unreachable) pip finds them satisfied; elsewhere it installs them.
  python3 -m venv --system-site-packages .venv
fi
.venv/bin/python -m pip install --disable-pip-version-check --quiet -r requirements.txt
.venv/bin/python -c "import moto; assert moto.__version__ == '5.2.1', moto.__version__; print('keyrot setup: moto', moto.__version__, 'ready')"
