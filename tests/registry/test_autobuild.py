"""Automated builds: a repository marked automated is built by the registry from its
source with dockyard's builder, pushed into itself, shown [OK] under AUTOMATED in
`search`, its status and log on the web page and the API; only its owner triggers it."""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.processes import free_port

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not (shutil.which("crun") or shutil.which("runc")),
    reason="needs root and an OCI runtime",
)


def _dy(root: Path, *args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dockyard.cli.main", *args],
        env=dict(os.environ, DOCKYARD_ROOT=str(root), DOCKER_CONFIG=str(root.parent / "cfg")),
        input=stdin, capture_output=True, text=stdin is None, timeout=300,
    )  # fmt: skip


def _http(url: str, method: str = "GET", auth: tuple[str, str] | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    if auth:
        token = base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        return error.code, {}


@pytest.fixture
def registry(tmp_path: Path, busybox_tar: Path):  # type: ignore[no-untyped-def]
    store = tmp_path / "client"
    storage = tmp_path / "registry"
    port = free_port()
    assert (
        _dy(store, "import", "--change", 'CMD ["sh"]', str(busybox_tar), "busybox").returncode == 0
    )
    server = subprocess.Popen(
        [sys.executable, "-m", "dockyard.cli.main", "registry", "serve",
         "--addr", f"127.0.0.1:{port}", "--storage", str(storage)],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.05)
    host = f"127.0.0.1:{port}"
    assert _dy(store, "tag", "busybox", f"{host}/library/busybox").returncode == 0
    assert _dy(store, "push", f"{host}/library/busybox").returncode == 0
    yield store, storage, host
    server.terminate()
    server.wait(30)
    for name in ("client", "registry/autobuild/store"):
        root = tmp_path / name
        if (root / "containers").is_dir():
            for container in os.listdir(root / "containers"):
                _dy(root, "rm", "-f", container)


def _source(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    source.mkdir()
    (source / "Dockerfile").write_text(
        'FROM busybox\nCOPY message /message\nRUN cat /message > /built\nCMD ["cat", "/built"]\n'
    )
    (source / "message").write_text("built by the registry\n")
    return source


def test_an_automated_build_is_pushed_and_searchable(registry, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store, storage, host = registry
    admin = ("--storage", str(storage))
    assert _dy(store, "registry", "repo", "set-automated", "team/app", str(_source(tmp_path)),
               *admin).returncode == 0  # fmt: skip
    _dy(store, "registry", "repo", "set-description", "team/app", "built from source", *admin)
    before = _dy(store, "search", f"{host}/team").stdout
    assert "[OK]" in before.splitlines()[1]  # automated before its first build
    built = _dy(store, "registry", "build", "team/app", "--registry", host, *admin)
    assert built.returncode == 0, built.stdout + built.stderr
    assert "Successfully tagged" in built.stdout
    assert "automated build of team/app: success" in built.stdout
    assert _dy(store, "pull", f"{host}/team/app").returncode == 0
    out = _dy(store, "run", "--rm", "--network", "none", f"{host}/team/app").stdout
    assert out == "built by the registry\n"
    listing = _dy(store, "search", f"{host}/app").stdout.splitlines()
    assert listing[0].split() == ["NAME", "DESCRIPTION", "STARS", "OFFICIAL", "AUTOMATED"]
    assert listing[1].split() == ["team/app", "built", "from", "source", "0", "[OK]"]
    status, body = _http(f"http://{host}/v1/autobuild/team/app")
    assert status == 200 and body["status"] == "success" and "Step 3/4" in body["log"]
    with urllib.request.urlopen(f"http://{host}/r/team/app/build", timeout=30) as page:
        html = page.read().decode()
    assert 'build-status">success' in html and "Successfully built" in html
    search = json.loads(urllib.request.urlopen(f"http://{host}/v1/search?q=busybox").read())
    assert [r["is_automated"] for r in search["results"]] == [False]


def test_only_the_owner_triggers_a_build(registry, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    store, storage, host = registry
    admin = ("--storage", str(storage))
    for user in ("alice", "bob"):
        added = _dy(store, "registry", "user", "add", user, "--password-stdin", *admin,
                    stdin=b"secret-" + user.encode() + b"\n")  # fmt: skip
        assert added.returncode == 0, added.stderr
    _dy(store, "registry", "repo", "set-automated", "alice/app", str(_source(tmp_path)), *admin)
    deadline = time.monotonic() + 30  # the server notices new accounts within a second
    while _http(f"http://{host}/v2/")[0] != 401 and time.monotonic() < deadline:
        time.sleep(0.2)
    url = f"http://{host}/v1/autobuild/alice/app"
    assert _http(url, "POST")[0] == 401
    assert _http(url, "POST", ("bob", "secret-bob"))[0] == 403
    status, body = _http(url, "POST", ("alice", "secret-alice"))
    assert status == 202 and body["status"] == "building"
    deadline = time.monotonic() + 120
    while body["status"] == "building" and time.monotonic() < deadline:
        time.sleep(0.5)
        body = _http(url, auth=("alice", "secret-alice"))[1]
    assert body["status"] == "success", body["log"]
    assert "pushing" in body["log"]
