#!/usr/bin/env bash
# The whole test suite (installs what it needs first).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
.venv/bin/python -m dockyard.devtools.baseimages busybox debian >/dev/null
.venv/bin/ruff check .
.venv/bin/lint-imports --no-cache  # the import contract in pyproject.toml ([tool.importlinter])
exec .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
