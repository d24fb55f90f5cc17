#!/usr/bin/env bash
# Installs what dockyard needs on a fresh Debian 12 machine (as root): system packages,
# a virtual environment in .venv and the package itself. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."

PACKAGES=(libarchive13 busybox-static debootstrap skopeo runc crun tar zstd xz-utils bzip2
          gzip curl ca-certificates python3-venv iproute2 util-linux openssl
          docker-registry chromium tini haproxy postgresql)
# The docker CLI drives the daemon in the compatibility tests; this kind of machine has it in
# /usr/local/bin. Elsewhere Debian's docker.io provides the client (its dockerd is never started).
command -v docker >/dev/null || PACKAGES+=(docker.io)
# Prints those of the given packages that dpkg does not have installed.
not_installed() {
  for package in "$@"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" \
      || echo "$package"
  done
}
mapfile -t missing < <(not_installed "${PACKAGES[@]}")
if [ "${#missing[@]}" -gt 0 ]; then
  echo "installing: ${missing[*]}" >&2
  # Wait for another apt/dpkg (a parallel install) instead of failing on its lock.
  apt-get -o DPkg::Lock::Timeout=900 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq "${missing[@]}" >/dev/null
fi

# A throwaway Ceph cluster with radosgw for the S3 storage tests (tests/cephserver.py):
# without the recommended extras (ceph-mgr's would add hundreds of MB of Python modules).
CEPH=(ceph-mon ceph-mgr ceph-osd radosgw ceph-common)
mapfile -t ceph_missing < <(not_installed "${CEPH[@]}")
if [ "${#ceph_missing[@]}" -gt 0 ]; then
  echo "installing: ${ceph_missing[*]}" >&2
  apt-get -o DPkg::Lock::Timeout=900 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=900 install -y -qq \
    --no-install-recommends "${ceph_missing[@]}" >/dev/null \
    || echo "warning: Ceph could not be installed: the S3 tests will be skipped" >&2
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/pip install -q --disable-pip-version-check --config-settings editable_mode=compat -e '.[test]' 2>&1 | grep -v '^WARNING: Location' || true
.venv/bin/python -c 'import libarchive, isal, zstandard, aiohttp, psycopg, psycopg_pool, yaml' \
  || { echo "error: python dependencies did not install" >&2; exit 1; }
# pip's console-script wrapper imports re (an enum and regex compiler load at every
# start): the same entry point without it, and without the site module (-S: its
# .pth processing costs ~7 ms a start), the paths site would add written in.
SITE_DIRS=$(.venv/bin/python -c 'import sysconfig; p = sysconfig.get_paths(); print(", ".join(map(repr, sorted({p["purelib"], p["platlib"]}))))')
cat > .venv/bin/dockyard <<LAUNCHER
#!$PWD/.venv/bin/python -S
import sys

sys.path[1:1] = ["$PWD", $SITE_DIRS]
from dockyard.cli.main import run_and_exit

run_and_exit()
LAUNCHER
chmod 755 .venv/bin/dockyard
# This machine sets PYTHONDONTWRITEBYTECODE: compile once so the CLI starts fast.
.venv/bin/python -m compileall -q -j 0 dockyard >/dev/null
