"""Image endpoints through the real docker CLI and raw API requests: list, inspect,
history, tag, rmi, save/load, import, prune, commit, events, and pull/push/search
against dockyard's own registry."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.daemon.support import (
    Daemon,
    have_docker_cli,
    have_runtime,
    import_base_images,
    running_registry,
)

pytestmark = pytest.mark.skipif(not have_docker_cli(), reason="needs the docker CLI")


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory, busybox_tar: Path):
    d = Daemon(tmp_path_factory.mktemp("images") / "d").start()
    import_base_images(d, busybox_tar)
    yield d
    for line in d.docker("ps", "-aq", check=False).stdout.split():
        d.docker("rm", "-f", line, check=False)
    d.stop()


def test_images_list_filters_and_api_shape(daemon: Daemon) -> None:
    daemon.docker("tag", "busybox", "listed:one")
    listing = daemon.docker("images").stdout.splitlines()
    assert listing[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    assert any(line.startswith("listed ") for line in listing)
    only = daemon.docker("images", "listed").stdout.splitlines()
    assert len(only) == 2 and only[1].split()[:2] == ["listed", "one"]
    items = daemon.json("GET", "/v1.41/images/json")
    item = next(i for i in items if "listed:one" in i["RepoTags"])
    assert set(item) >= {"Id", "RepoTags", "RepoDigests", "Created", "Size", "ParentId"}
    assert item["Id"].startswith("sha256:")
    filtered = daemon.json(
        "GET", '/images/json?filters={"reference":["listed"]}'.replace('"', "%22")
    )
    assert [i["RepoTags"] for i in filtered] == [["listed:one"]]  # only the matching names
    status, _, body = daemon.request("GET", "/images/json?filters=%7B%22bogus%22:[%22x%22]%7D")
    assert status == 400 and json.loads(body)["message"] == "invalid filter 'bogus'"
    daemon.docker("rmi", "listed:one")


def _tags(daemon: Daemon, all_images: bool = False) -> set[str]:
    items = daemon.json("GET", "/v1.41/images/json" + ("?all=1" if all_images else ""))
    return {tag for item in items for tag in item["RepoTags"]}


def test_unfiltered_listing_follows_every_change(daemon: Daemon) -> None:
    """The daemon keeps the JSON of the unfiltered listing while the store's database is
    unchanged: a change through the daemon itself, a change by another process (the
    dockyard CLI on the same store) and a removal all show in the next listing."""
    before = _tags(daemon)
    assert "fresh:one" not in before and _tags(daemon) == before  # the kept answer
    assert _tags(daemon, all_images=True) >= before
    daemon.docker("tag", "busybox", "fresh:one")  # a worker thread's commit
    assert _tags(daemon) == before | {"fresh:one"}
    subprocess.run(
        [sys.executable, "-m", "dockyard.cli.main", "--root", str(daemon.root),
         "tag", "busybox", "fresh:two"],
        check=True, capture_output=True,
    )  # fmt: skip
    assert _tags(daemon) == before | {"fresh:one", "fresh:two"}
    assert _tags(daemon, all_images=True) >= before | {"fresh:one", "fresh:two"}
    daemon.docker("rmi", "fresh:one", "fresh:two")
    assert _tags(daemon) == before


def test_inspect_history_and_errors(daemon: Daemon) -> None:
    document = json.loads(daemon.docker("image", "inspect", "busybox").stdout)[0]
    assert document["RepoTags"] == ["busybox:latest"] and document["Config"]["Cmd"] == ["sh"]
    history = daemon.docker("history", "busybox").stdout.splitlines()
    assert history[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert history[1].endswith("Imported from -")
    result = daemon.docker("image", "inspect", "nosuchimage", check=False)
    assert result.stderr == (
        "Error response from daemon: no such image: nosuchimage: No such image: nosuchimage:latest\n"
    )
    result = daemon.docker("inspect", "nosuchthing", check=False)
    assert result.stderr == "Error: No such object: nosuchthing\n"
    result = daemon.docker("history", "nosuchimage", check=False)
    assert result.stderr == "Error response from daemon: No such image: nosuchimage:latest\n"


def test_tag_and_rmi_rules(daemon: Daemon) -> None:
    daemon.docker("tag", "busybox:latest", "someuser/bb:1")
    daemon.docker("tag", "busybox:latest", "127.0.0.1:5000/bb")
    tags = json.loads(daemon.docker("inspect", "-f", "{{json .RepoTags}}", "busybox").stdout)
    assert tags == ["127.0.0.1:5000/bb:latest", "busybox:latest", "someuser/bb:1"]
    image_id = daemon.docker("inspect", "-f", "{{.Id}}", "busybox").stdout.strip()
    result = daemon.docker("rmi", image_id[7:19], check=False)
    assert result.stderr == (
        f"Error response from daemon: conflict: unable to delete {image_id[7:19]} (must be"
        " forced) - image is referenced in multiple repositories\n"
    )
    assert daemon.docker("rmi", "someuser/bb:1", "127.0.0.1:5000/bb").stdout == (
        "Untagged: someuser/bb:1\nUntagged: 127.0.0.1:5000/bb:latest\n"
    )
    result = daemon.docker("tag", "busybox", "Upper/case", check=False)
    assert result.stderr == (
        "Error response from daemon: invalid reference format: repository name must be lowercase\n"
    )
    status, _, body = daemon.request("DELETE", "/v1.41/images/nosuchimage:v1")
    assert status == 404 and json.loads(body) == {"message": "No such image: nosuchimage:v1"}


def test_save_and_load(daemon: Daemon, tmp_path: Path) -> None:
    daemon.docker("save", "-o", str(tmp_path / "bb.tar"), "busybox:latest")
    with tarfile.open(tmp_path / "bb.tar") as tar:
        assert {"manifest.json", "index.json", "oci-layout"} <= set(tar.getnames())
    saved = subprocess.run(
        ["docker", "save", "busybox"], env=daemon.env(), capture_output=True, timeout=60
    ).stdout
    assert saved == (tmp_path / "bb.tar").read_bytes()
    assert daemon.docker("load", "-i", str(tmp_path / "bb.tar")).stdout == (
        "Loaded image: busybox:latest\n"
    )
    assert daemon.docker("load", stdin=(tmp_path / "bb.tar").read_bytes()).stdout == (
        "Loaded image: busybox:latest\n"
    )
    status, headers, body = daemon.request("GET", "/images/get?names=busybox&names=busybox:latest")
    assert status == 200 and headers["Content-Type"] == "application/x-tar"
    assert body == saved
    status, _, body = daemon.request("GET", "/images/nosuchimage/get")
    assert status == 404 and json.loads(body) == {"message": "No such image: nosuchimage"}
    result = daemon.docker("load", "-i", str(tmp_path / "bb.tar"), check=False)
    assert result.returncode == 0
    (tmp_path / "garbage").write_bytes(b"\x01" * 3000)
    result = daemon.docker("load", "-i", str(tmp_path / "garbage"), check=False)
    assert result.returncode == 1 and result.stderr and "Error response" not in result.stderr


def test_load_progress_stream(daemon: Daemon, tmp_path: Path) -> None:
    daemon.docker("save", "-o", str(tmp_path / "bb.tar"), "busybox:latest")
    fresh = Daemon(tmp_path / "fresh").start()
    try:
        status, headers, body = fresh.request(
            "POST",
            "/v1.41/images/load?quiet=0",
            (tmp_path / "bb.tar").read_bytes(),
            {"Content-Type": "application/x-tar"},
        )
        assert status == 200 and headers["Content-Type"] == "application/json"
        messages = [json.loads(line) for line in body.splitlines() if line.strip()]
        bars = [m for m in messages if m.get("status") == "Loading layer"]
        assert bars and bars[-1]["progressDetail"]["current"] == bars[-1]["progressDetail"]["total"]
        assert messages[-1] == {"stream": "Loaded image: busybox:latest\n"}
    finally:
        fresh.stop()


def test_import_with_changes_and_message(daemon: Daemon, busybox_tar: Path) -> None:
    image_id = daemon.docker(
        "import",
        "-m",
        "imported here",
        "--change",
        'CMD ["sh"]',
        "--change",
        "ENV A=b",
        str(busybox_tar),
        "imported:1",
    ).stdout.strip()
    assert image_id.startswith("sha256:")
    config = json.loads(daemon.docker("inspect", "-f", "{{json .Config}}", "imported:1").stdout)
    assert config["Cmd"] == ["sh"] and "A=b" in config["Env"]
    assert daemon.docker("inspect", "-f", "{{.Comment}}", "imported:1").stdout == "imported here\n"
    stdin_id = daemon.docker("import", "-", "imported:stdin", stdin=busybox_tar.read_bytes())
    assert stdin_id.stdout.startswith("sha256:")
    result = daemon.docker("import", "--change", "RUN echo hi", str(busybox_tar), check=False)
    assert result.stderr == "Error response from daemon: run is not a valid change command\n"
    daemon.docker("rmi", "imported:1", "imported:stdin")


def test_prune(daemon: Daemon, busybox_tar: Path) -> None:
    daemon.docker("import", str(busybox_tar))  # dangling
    result = daemon.docker("image", "prune", "-f")
    assert result.stdout.startswith("Deleted Images:\ndeleted: sha256:")
    assert (
        result.stdout.endswith("Total reclaimed space: 0B\n")
        or "Total reclaimed space:" in result.stdout
    )
    assert daemon.docker("images", "-f", "dangling=true", "-q").stdout == ""
    assert daemon.docker("image", "prune", "-f").stdout == "Total reclaimed space: 0B\n"


@pytest.mark.skipif(not have_runtime(), reason="needs root and an OCI runtime")
def test_commit_api_with_config_body(daemon: Daemon) -> None:
    daemon.docker("run", "--name", "tocommit", "busybox", "sh", "-c", "echo hi > /hi")
    status, _, body = daemon.request(
        "POST",
        "/v1.41/commit?container=tocommit&repo=committed&tag=api&author=me&comment=via%20api",
        {"Cmd": ["cat", "/hi"], "Labels": {"a": "b"}},
    )
    assert status == 201, body
    image_id = json.loads(body)["Id"]
    document = json.loads(daemon.docker("inspect", "committed:api").stdout)[0]
    assert document["Id"] == image_id and document["Author"] == "me"
    assert document["Comment"] == "via api" and document["Config"]["Cmd"] == ["cat", "/hi"]
    assert document["Config"]["Labels"] == {"a": "b"}
    assert daemon.docker("run", "--rm", "committed:api").stdout == "hi\n"
    result = daemon.docker("commit", "nosuchcontainer", "foo:bar", check=False)
    assert result.stderr == "Error response from daemon: No such container: nosuchcontainer\n"
    daemon.docker("rm", "tocommit")


def test_events_stream(daemon: Daemon) -> None:
    since = time.time()
    daemon.docker("tag", "busybox", "evented:1")
    daemon.docker("rmi", "evented:1")
    until = time.time() + 0.5
    result = daemon.docker(
        "events", "--since", f"{since:.3f}", "--until", f"{until:.3f}", "--format", "{{json .}}"
    )
    events = [json.loads(line) for line in result.stdout.splitlines()]
    actions = [(e["Type"], e["Action"]) for e in events]
    assert ("image", "tag") in actions and ("image", "untag") in actions
    # a live subscriber sees events as they happen
    lines: list[bytes] = []
    connection = socket.socket(socket.AF_UNIX)
    connection.connect(str(daemon.socket))
    connection.sendall(b'GET /v1.41/events?filters={"type":["image"]} HTTP/1.1\r\nHost: d\r\n\r\n')
    reader = threading.Thread(target=lambda: lines.append(connection.recv(65536)), daemon=True)
    reader.start()
    time.sleep(0.3)
    daemon.docker("tag", "busybox", "evented:2")
    deadline = time.time() + 10
    data = b""
    while time.time() < deadline and b"evented:2" not in data:
        reader.join(0.1)
        data = b"".join(lines)
        if not reader.is_alive() and b"evented:2" not in data:
            lines.append(connection.recv(65536))
    connection.close()
    assert b'"Action": "tag"' in data or b'"Action":"tag"' in data
    daemon.docker("rmi", "evented:2")


# ---------------------------------------------------------------- registry


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with running_registry(tmp_path_factory.mktemp("registry") / "storage") as address:
        yield address


def test_push_pull_search_against_dockyards_registry(
    daemon: Daemon, registry: str, tmp_path: Path
) -> None:
    name = f"{registry}/busybox"
    daemon.docker("tag", "busybox:latest", f"{name}:latest")
    push = daemon.docker("push", f"{name}:latest").stdout.splitlines()
    assert push[0] == f"The push refers to repository [{name}]"
    assert push[1].endswith(": Preparing") and push[2].endswith(": Pushed")
    assert push[3].startswith("latest: digest: sha256:") and " size: " in push[3]
    again = daemon.docker("push", f"{name}:latest").stdout.splitlines()
    assert again[2].endswith(": Layer already exists")
    digests = json.loads(daemon.docker("inspect", "-f", "{{json .RepoDigests}}", name).stdout)
    assert digests and digests[0].startswith(f"{name}@sha256:")
    # a fresh store pulls it: the JSON progress stream, then the image
    fresh = Daemon(tmp_path / "fresh").start()
    try:
        pull = fresh.docker("pull", f"{name}:latest").stdout.splitlines()
        assert pull[0] == "latest: Pulling from busybox"
        assert any(line.endswith(": Pull complete") for line in pull)
        assert pull[-2] == f"Status: Downloaded newer image for {name}:latest"
        assert pull[-1] == f"{name}:latest"
        missing = fresh.docker("pull", f"{name}:nosuchtag", check=False)
        assert missing.stderr == (
            f"Error response from daemon: manifest for {name}:nosuchtag not found: manifest"
            " unknown: manifest unknown\n"
        )
        status, headers, body = fresh.request(
            "POST", f"/v1.41/images/create?fromImage={name}&tag=latest"
        )
        assert status == 200 and headers["Content-Type"] == "application/json"
        messages = [json.loads(line) for line in body.splitlines() if line.strip()]
        assert messages[-1]["status"] == f"Status: Image is up to date for {name}:latest"
    finally:
        fresh.stop()
    search = daemon.docker("search", f"{registry}/busy").stdout.splitlines()
    assert search[0].split()[:2] == ["NAME", "DESCRIPTION"] and "busybox" in search[1]
    daemon.docker("rmi", f"{name}:latest")


def test_pull_from_unreachable_registry_is_an_error_response(daemon: Daemon) -> None:
    result = daemon.docker("pull", "127.0.0.1:9/nothing:latest", check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("Error response from daemon: ")
