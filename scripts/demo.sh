#!/usr/bin/env bash
# The main job: builds the base images offline and walks through the tutorial on a fresh store.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install.sh
exec .venv/bin/python -m dockyard.devtools.demo "$@"
