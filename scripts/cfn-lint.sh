#!/usr/bin/env bash
# Runs the pinned cfn-lint from the repo's .venv on the templates `npm run package` wrote.
# (With --system-site-packages the venv may not get a cfn-lint launcher of its own.)
set -euo pipefail
cd "$(dirname "$0")/.."
shopt -s nullglob
templates=(dist/templates/*.json)
if [ ${#templates[@]} -eq 0 ]; then
  echo "cfn-lint: no templates in dist/templates: run npm run package first" >&2
  exit 2
fi
.venv/bin/python -c 'import sys; from cfnlint.runner import main; sys.exit(main())' "${templates[@]}"
echo "cfn-lint: ${#templates[@]} templates, no errors"
