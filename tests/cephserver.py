"""A throwaway single-node Ceph 16.2 cluster with radosgw, on loopback only.

One monitor, one manager, one bluestore OSD on a sparse file and one radosgw, from
Debian's packages (ceph-mon, ceph-mgr, ceph-osd, radosgw, ceph-common), all under one
work directory. Every daemon runs in the foreground as a child of this process and is
stopped by its PID; nothing else on the machine is touched.

Settings that matter (measured on a 2-core machine):

- cephx off, so radosgw needs ``ms mon client mode = crc`` (else it loops on EACCES);
- ``paxos propose interval = 0.05`` cuts start-up from ~17 s to ~2 s;
- pool size 1: ``osd pool default size = 1``, ``mon allow pool size one``,
  ``osd crush chooseleaf type = 0``;
- bluestore on a sparse file *outside* the OSD directory (inside it mkfs fails with
  ELOOP); memstore would keep deleted data in RAM for hours;
- ``rgw gc obj min wait`` low so deleted data is reclaimed.

Run ``python -m tests.cephserver [WORKDIR]`` to keep one running until Ctrl-C; it
prints the endpoint and the S3 keys.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from tests.processes import free_port, stop_process

PACKAGES = ("ceph-mon", "ceph-mgr", "ceph-osd", "radosgw", "ceph-common")
# A test session killed outright (no fixture teardown) must not leave Ceph behind: each
# daemon gets SIGTERM when the process that started it dies. setpriv execs the daemon, so
# the PID stays the one to stop.
DIE_WITH_PARENT = ["setpriv", "--pdeathsig", "TERM", "--"] if shutil.which("setpriv") else []
BINARIES = ("ceph-mon", "ceph-mgr", "ceph-osd", "radosgw", "ceph", "radosgw-admin", "monmaptool")
ACCESS_KEY = "DOCKYARDTESTACCESSKEY"
SECRET_KEY = "dockyard-test-secret-key-0123456789abcdef"
OSD_FILE_SIZE = 40 << 30  # sparse: only what is written takes space
START_TIMEOUT = 120.0


class CephUnavailable(RuntimeError):
    """The Ceph packages are not installed and cannot be installed here."""


def missing_binaries() -> list[str]:
    return [name for name in BINARIES if shutil.which(name) is None]


def ensure_installed(log=print) -> None:  # type: ignore[no-untyped-def]
    """apt-get install the packages when a binary is missing; CephUnavailable if that fails."""
    if not missing_binaries():
        return
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        raise CephUnavailable(f"Ceph is not installed ({', '.join(missing_binaries())} missing)")
    log(f"installing {' '.join(PACKAGES)} (apt-get)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    lock = ["-o", "DPkg::Lock::Timeout=900"]
    try:
        subprocess.run(["apt-get", *lock, "update", "-qq"], check=True, env=env)
        subprocess.run(
            ["apt-get", *lock, "install", "-y", "-qq", "--no-install-recommends", *PACKAGES],
            check=True,
            env=env,
            stdout=subprocess.DEVNULL,
        )
    except (OSError, subprocess.CalledProcessError) as error:
        raise CephUnavailable(f"cannot install {' '.join(PACKAGES)}: {error}") from None
    if missing_binaries():
        raise CephUnavailable(f"still missing after install: {', '.join(missing_binaries())}")


def _config(work: Path, fsid: str, mon_port: int, rgw_port: int, block: Path) -> str:
    return f"""[global]
fsid = {fsid}
mon host = v2:127.0.0.1:{mon_port}
mon initial members = a
public network = 127.0.0.0/8
auth cluster required = none
auth service required = none
auth client required = none
auth supported = none
ms mon client mode = crc
ms bind ipv6 = false
run dir = {work}/run
admin socket = {work}/run/$name.asok
log file = {work}/log/$name.log
pid file = {work}/run/$name.pid
crash dir = {work}/crash
keyring = {work}/keyring
mon allow pool size one = true
mon allow pool delete = true
mon warn on pool no redundancy = false
mon max pg per osd = 1000
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
paxos propose interval = 0.05
mon data = {work}/mon/$cluster-$id
mgr data = {work}/mgr/$cluster-$id
osd data = {work}/osd/$cluster-$id
osd objectstore = bluestore
bluestore block path = {block}
bluestore block create = true
bluestore block size = {OSD_FILE_SIZE}
bluestore fsck on mount = false
bluestore cache autotune = false
bluestore cache size = 268435456
osd memory target = 1073741824
osd max object size = 134217728

[mgr]
mgr initial modules =
mgr disabled modules = dashboard prometheus restful iostat nfs volumes

[client.rgw]
rgw frontends = beast endpoint=127.0.0.1:{rgw_port} tcp_nodelay=1
rgw data = {work}/rgw
rgw dns name = localhost
rgw gc obj min wait = 5
rgw gc processor period = 10
rgw gc processor max time = 10
rgw thread pool size = 64
rgw enable usage log = false
"""


@dataclass
class CephCluster:
    work: Path
    rgw_port: int = 0
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY
    processes: list[subprocess.Popen] = field(default_factory=list)
    _own_work: bool = False

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.rgw_port}"

    @property
    def conf(self) -> Path:
        return self.work / "ceph.conf"

    def env(self) -> dict[str, str]:
        """Environment for an S3 client of this cluster."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_DEFAULT_REGION": "us-east-1",
        }

    # -- running ceph tools -------------------------------------------------------

    def _tool(self, *argv: str, timeout: float = 60) -> str:
        result = subprocess.run(
            [argv[0], "-c", str(self.conf), *argv[1:]],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {result.stderr.strip()[-2000:]}")
        return result.stdout

    def _daemon(self, name: str, *argv: str) -> subprocess.Popen:
        log = open(self.work / "log" / f"{name}.stdout", "ab")  # noqa: SIM115
        process = subprocess.Popen(
            [*DIE_WITH_PARENT, *argv, "-f", "-c", str(self.conf)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C in a terminal reaches only this script
        )
        log.close()
        self.processes.append(process)
        return process

    # -- start and stop ---------------------------------------------------------------

    def start(self) -> CephCluster:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        for sub in ("run", "log", "crash", "mon", "mgr/ceph-x", "osd/ceph-0", "rgw"):
            (self.work / sub).mkdir(parents=True, exist_ok=True)
        block_dir = self.work / "blockdev"  # outside the OSD directory: inside, mkfs hits ELOOP
        block_dir.mkdir(exist_ok=True)
        fsid = str(uuid.uuid4())
        mon_port = free_port()
        self.rgw_port = self.rgw_port or free_port()
        self.conf.write_text(
            _config(self.work, fsid, mon_port, self.rgw_port, block_dir / "osd0.block")
        )
        (self.work / "keyring").write_text("")
        monmap = self.work / "monmap"
        self._tool("monmaptool", "--create", "--fsid", fsid, "--addv", "a",
                   f"[v2:127.0.0.1:{mon_port}]", str(monmap))  # fmt: skip
        self._tool("ceph-mon", "--mkfs", "-i", "a", "--monmap", str(monmap))
        self._daemon("mon.a", "ceph-mon", "-i", "a")
        self._tool("ceph", "osd", "pool", "ls", timeout=START_TIMEOUT)  # the mon answers
        self._daemon("mgr.x", "ceph-mgr", "-i", "x")
        osd_uuid = str(uuid.uuid4())
        osd_id = self._tool("ceph", "osd", "new", osd_uuid).strip()
        self._tool("ceph-osd", "-i", osd_id, "--mkfs", "--osd-uuid", osd_uuid, timeout=120)
        self._daemon(f"osd.{osd_id}", "ceph-osd", "-i", osd_id)
        self._wait_osd_up()
        self._daemon("rgw", "radosgw", "-n", "client.rgw")
        self._wait_rgw()
        self._tool(
            "radosgw-admin", "-n", "client.admin", "user", "create", "--uid", "dockyard",
            "--display-name", "dockyard tests", "--access-key", self.access_key,
            "--secret", self.secret_key,
        )  # fmt: skip

    def _check_alive(self) -> None:
        for process in self.processes:
            if process.poll() is not None:
                raise RuntimeError(
                    f"{' '.join(map(str, process.args[:3]))} exited with {process.returncode}; "
                    f"logs in {self.work / 'log'}"
                )

    def _wait_osd_up(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            self._check_alive()
            status = json.loads(self._tool("ceph", "osd", "stat", "-f", "json"))
            if status.get("num_up_osds", status.get("osdmap", {}).get("num_up_osds")) == 1:
                return
            time.sleep(0.2)
        raise RuntimeError(f"the OSD did not come up; logs in {self.work / 'log'}")

    def _wait_rgw(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                with urllib.request.urlopen(self.endpoint, timeout=2):
                    return
            except urllib.error.HTTPError:
                return  # it answers: any HTTP status will do
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"radosgw did not answer; logs in {self.work / 'log'}")

    def stop(self) -> None:
        """Stop exactly the daemons started here (radosgw first, the monitor last)."""
        for process in reversed(self.processes):
            stop_process(process, signal.SIGTERM, timeout=15)
        self.processes.clear()
        if self._own_work:
            shutil.rmtree(self.work, ignore_errors=True)


def start_cluster(work: Path | None = None) -> CephCluster:
    """Install if needed, then start a cluster in ``work`` (a temporary directory if None)."""
    ensure_installed(log=lambda line: print(line, file=sys.stderr))
    own = work is None
    if work is None:
        work = Path(tempfile.mkdtemp(prefix="dockyard-ceph-"))
    return CephCluster(Path(work), _own_work=own).start()


def main(argv: list[str]) -> int:
    work = Path(argv[0]).resolve() if argv else None
    started = time.monotonic()
    try:
        cluster = start_cluster(work)
    except (CephUnavailable, RuntimeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"endpoint: {cluster.endpoint}")
    print(f"AWS_ACCESS_KEY_ID={cluster.access_key}")
    print(f"AWS_SECRET_ACCESS_KEY={cluster.secret_key}")
    print(f"work directory: {cluster.work} (started in {time.monotonic() - started:.1f} s)")
    print("pids: " + " ".join(str(p.pid) for p in cluster.processes))
    sys.stdout.flush()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while True:
            signal.pause()
    except KeyboardInterrupt:
        pass
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
