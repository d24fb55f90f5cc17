"""push: round trips through Debian's CNCF registry and dockyard's own registry,
HEAD before upload, cross-repository mount, compress once, chunked uploads, zstd."""

from __future__ import annotations

import json
import subprocess

import pytest

from dockyard.engine import Engine
from tests.client.registries import (
    memory_image,
    run_output,
    start_cncf_registry,
    start_dockyard_registry,
    stop_process,
)


@pytest.fixture
def busybox(cli, busybox_tar):  # type: ignore[no-untyped-def]
    result = cli("import", "-c", 'CMD ["sh"]', str(busybox_tar), "busybox:latest")
    return result.stdout.strip()


def _manifest(name: str) -> dict:
    raw = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{name}"],
        capture_output=True,
        check=True,
    ).stdout
    return json.loads(raw)


def test_push_then_pull_back_gives_the_same_image(cli, client_env, cncf, busybox):  # type: ignore[no-untyped-def]
    name = f"{cncf.host}/roundtrip/busybox:latest"
    cli("tag", "busybox", name)
    result = cli("push", name)
    lines = result.stdout.splitlines()
    layer = lines[1].split(":")[0]
    assert lines[0] == f"The push refers to repository [{cncf.host}/roundtrip/busybox]"
    assert lines[1:3] == [f"{layer}: Preparing", f"{layer}: Pushed"]
    assert lines[3].startswith("latest: digest: sha256:") and " size: " in lines[3]
    digest = lines[3].split()[2]
    manifest = _manifest(name)
    assert manifest["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    assert manifest["config"]["digest"] == busybox
    assert int(lines[3].split()[-1]) == len(json.dumps(manifest, indent=3))
    repo_digests = json.loads(cli("inspect", name).stdout)[0]["RepoDigests"]
    assert f"{cncf.host}/roundtrip/busybox@{digest}" in repo_digests

    again = cli("push", name)
    assert again.stdout.splitlines()[1:] == [
        f"{layer}: Preparing",
        f"{layer}: Layer already exists",
        f"latest: digest: {digest} size: {lines[3].split()[-1]}",
    ]

    cli("rmi", name, "busybox:latest")
    assert cli("inspect", busybox, check=False).returncode != 0
    cli("pull", name)
    assert json.loads(cli("inspect", name).stdout)[0]["Id"] == busybox
    ran = run_output(cli, name, "sh", "-c", "ls /bin/busybox && echo back")
    assert ran.splitlines()[-1] == "back"


def test_mount_from_another_repository(cli, client_env, cncf, busybox):  # type: ignore[no-untyped-def]
    cli("tag", "busybox", f"{cncf.host}/mount/first:1")
    cli("push", f"{cncf.host}/mount/first:1")
    cli("tag", "busybox", f"{cncf.host}/mount/second:1")
    result = cli("push", f"{cncf.host}/mount/second:1")
    assert result.stdout.splitlines()[2].endswith(": Mounted from mount/first")


def test_push_compresses_once(client_env, cncf, tmp_path, busybox_tar, monkeypatch):  # type: ignore[no-untyped-def]
    from dockyard.imageops.push import push
    from dockyard.layers import compression

    engine = Engine(tmp_path / "store")
    engine.images.import_(str(busybox_tar), "busybox:latest")
    store = engine.store
    first = f"{cncf.host}/once/busybox:latest"
    engine.images.tag("busybox", first)
    push(store, first)
    rows = store.db.execute("SELECT diff_id, blob, media_type FROM compressed_blobs").fetchall()
    assert len(rows) == 1 and rows[0][2].endswith("+gzip")

    def refuse(*_args, **_kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("compressed a second time")

    monkeypatch.setattr(compression, "compress_gzip", refuse)
    other = start_cncf_registry(tmp_path / "second")
    try:
        name = f"{other.host}/again/busybox:latest"
        engine.images.tag("busybox", name)
        [result] = push(store, name)
        assert _manifest(name)["layers"][0]["digest"] == rows[0][1]
        assert result.digest is not None
    finally:
        stop_process(other.process)
        engine.close()


def test_push_zstd(cli, client_env, cncf, busybox, tmp_path):  # type: ignore[no-untyped-def]
    name = f"{cncf.host}/zstd/pushed:latest"
    cli("tag", "busybox", name)
    cli("push", "--compression", "zstd", name)
    manifest = _manifest(name)
    assert manifest["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    assert manifest["layers"][0]["mediaType"] == "application/vnd.oci.image.layer.v1.tar+zstd"
    from tests.clirunner import Cli

    other = Cli(tmp_path / "other-store", tmp_path)
    other("pull", name)
    assert json.loads(other("inspect", name).stdout)[0]["Id"] == busybox


def test_chunked_upload_of_a_large_layer(client_env, cncf, faulty, tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    import os

    from dockyard.imageops.pull import pull
    from dockyard.imageops.push import push
    from dockyard.places import registry_upload as upload

    payload = os.urandom(3 << 20)
    image = memory_image([{"data/random": payload}])
    faulty.add_image("big/one", "latest", image)
    engine = Engine(tmp_path / "store")
    pull(engine.store, f"{faulty.host}/big/one:latest")
    monkeypatch.setattr(upload, "CHUNKED_ABOVE", 1 << 20)
    monkeypatch.setattr(upload, "CHUNK_SIZE", 1 << 20)
    name = f"{cncf.host}/chunked/one:latest"
    engine.images.tag(f"{faulty.host}/big/one:latest", name)
    push(engine.store, name)
    engine.close()
    manifest = _manifest(name)
    assert manifest["layers"][0]["digest"] == image.layer_digests[0]
    fresh = Engine(tmp_path / "fresh")
    pull(fresh.store, name)
    directory = fresh.store.layer_dirs(fresh.images.resolve(name))[0]
    assert (directory / "data/random").read_bytes() == payload
    fresh.close()


def test_push_to_dockyard_registry_and_back(cli, client_env, busybox, tmp_path):  # type: ignore[no-untyped-def]
    server = start_dockyard_registry(tmp_path / "dockyard-registry")
    try:
        name = f"{server.host}/team/busybox:1.0"
        cli("tag", "busybox", name)
        cli("push", name)
        cli("rmi", name, "busybox:latest")
        cli("pull", name)
        assert json.loads(cli("inspect", name).stdout)[0]["Id"] == busybox
    finally:
        stop_process(server.process)


def test_tutorial_sharing_step(cli, client_env, cncf, busybox):  # type: ignore[no-untyped-def]
    """commit_test:first pushed to a local registry, removed locally, pulled back, run."""
    cli("run", "--name", "committer", "busybox", "sh", "-c", "echo shared > /greeting")
    cli("commit", "committer", "commit_test:first")
    cli("rm", "committer")
    name = f"{cncf.host}/commit_test:first"
    cli("tag", "commit_test:first", name)
    cli("push", name)
    image_id = json.loads(cli("inspect", name).stdout)[0]["Id"]
    cli("rmi", name, "commit_test:first")
    cli("pull", name)
    assert json.loads(cli("inspect", name).stdout)[0]["Id"] == image_id
    assert run_output(cli, name, "cat", "/greeting") == "shared\n"


def test_push_errors(cli, client_env, cncf):  # type: ignore[no-untyped-def]
    missing = cli("push", f"{cncf.host}/nothing/here", check=False)
    assert missing.returncode == 1
    assert missing.stdout == "Using default tag: latest\n"
    assert missing.stderr == (
        f"Error: An image does not exist locally with the tag: {cncf.host}/nothing/here\n"
    )


def test_push_all_tags_and_quiet(cli, client_env, cncf, busybox):  # type: ignore[no-untyped-def]
    cli("tag", "busybox", f"{cncf.host}/every/tag:one")
    cli("tag", "busybox", f"{cncf.host}/every/tag:two")
    result = cli("push", "-a", f"{cncf.host}/every/tag")
    lines = result.stdout.splitlines()
    assert lines[0] == f"The push refers to repository [{cncf.host}/every/tag]"
    finals = [line for line in lines if ": digest: " in line]
    assert [line.split(":")[0] for line in finals] == ["one", "two"]
    quiet = cli("push", "-q", f"{cncf.host}/every/tag:one")
    assert quiet.stdout == f"{cncf.host}/every/tag:one\n"
    tags = subprocess.run(
        ["skopeo", "list-tags", "--tls-verify=false", f"docker://{cncf.host}/every/tag"],
        capture_output=True,
        check=True,
        text=True,
    ).stdout
    assert sorted(json.loads(tags)["Tags"]) == ["one", "two"]
