#!/usr/bin/env bash
# Installs what the browser test needs: Debian's chromium and the Playwright package
# (its bundled driver; the browser is Debian's, no browser download). Idempotent.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v chromium >/dev/null; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
if ! .venv/bin/python -c 'import playwright' 2>/dev/null; then
  .venv/bin/pip install -q --disable-pip-version-check playwright 2>&1 | grep -v '^WARNING: Location' || true
fi
