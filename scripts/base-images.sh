#!/bin/sh
# Build the offline base image tarballs (busybox, debian:bookworm) into the
# cache and print their paths; with --import, also import them into dockyard.
# A thin wrapper around `python -m dockyard.devtools.baseimages`: see docs/base-images.md.
#
#   scripts/base-images.sh [--cache DIR] [--mirror URL] [--force] [--import [--root DIR]] [busybox|debian ...]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
python=$top/.venv/bin/python
[ -x "$python" ] || python=python3
PYTHONPATH=$top${PYTHONPATH:+:$PYTHONPATH} exec "$python" -m dockyard.devtools.baseimages "$@"
