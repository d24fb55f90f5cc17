"""pull against real registries (Debian's CNCF docker-registry, images put there by
skopeo) and against a registry of our own that cuts or corrupts downloads."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from dockyard.engine import Engine
from tests.client.registries import (
    FaultyRegistry,
    digest_of,
    memory_image,
    run_output,
    saved_archive,
    skopeo_copy,
)


@pytest.fixture(scope="module")
def busybox_archive(tmp_path_factory, busybox_tar):  # type: ignore[no-untyped-def]
    """busybox imported into a scratch store and saved as a docker archive."""
    directory = tmp_path_factory.mktemp("source")
    engine = Engine(directory / "store")
    image_id = engine.images.import_(str(busybox_tar), "busybox:latest", changes=['CMD ["sh"]'])
    path = saved_archive(engine, "busybox:latest", directory / "busybox.tar")
    engine.close()
    return path, str(image_id)


def _pushed(cncf, busybox_archive, name: str, *extra: str) -> str:  # type: ignore[no-untyped-def]
    archive, _ = busybox_archive
    skopeo_copy(f"docker-archive:{archive}", f"docker://{cncf.host}/{name}", *extra)
    return f"{cncf.host}/{name}"


def test_pull_from_cncf_registry_matches_docker_output(cli, client_env, cncf, busybox_archive):  # type: ignore[no-untyped-def]
    name = _pushed(cncf, busybox_archive, "pull/busybox:latest")
    host = cncf.host
    result = cli("pull", f"{host}/pull/busybox")
    lines = result.stdout.splitlines()
    manifest_digest = lines[-3].split()[-1]
    layer = lines[2].split(":")[0]
    assert lines == [
        "Using default tag: latest",
        "latest: Pulling from pull/busybox",
        f"{layer}: Pulling fs layer",
        f"{layer}: Download complete",
        f"{layer}: Pull complete",
        f"Digest: {manifest_digest}",
        f"Status: Downloaded newer image for {name}",
        name,
    ]
    inspected = json.loads(cli("inspect", name).stdout)[0]
    assert inspected["Id"] == busybox_archive[1]
    assert inspected["RepoDigests"] == [f"{host}/pull/busybox@{manifest_digest}"]
    again = cli("pull", name)
    assert again.stdout.splitlines() == [
        "latest: Pulling from pull/busybox",
        f"Digest: {manifest_digest}",
        f"Status: Image is up to date for {name}",
        name,
    ]
    by_digest = cli("pull", f"{host}/pull/busybox@{manifest_digest}")
    full = f"{host}/pull/busybox@{manifest_digest}"
    assert by_digest.stdout.splitlines() == [
        f"{full}: Pulling from pull/busybox",
        f"Digest: {manifest_digest}",
        f"Status: Image is up to date for {full}",
        full,
    ]
    quiet = cli("pull", "-q", name)
    assert quiet.stdout == name + "\n"


def test_pull_runs(cli, client_env, cncf, busybox_archive):  # type: ignore[no-untyped-def]
    name = _pushed(cncf, busybox_archive, "run/busybox:1")
    cli("pull", name)
    assert run_output(cli, name, "sh", "-c", "echo pulled-and-ran").strip() == "pulled-and-ran"


def _mixed_layout(directory: Path, busybox_tar: Path) -> str:
    """An OCI layout: busybox's rootfs as a zstd layer, a random file as a gzip layer."""
    import gzip

    import zstandard

    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    from tests.client.registries import layer_tar

    rootfs = busybox_tar.read_bytes()
    extra = layer_tar({"random.bin": os.urandom(4096)})
    layers = [
        ("application/vnd.oci.image.layer.v1.tar+zstd", rootfs, zstandard.compress(rootfs, 3)),
        ("application/vnd.oci.image.layer.v1.tar+gzip", extra, gzip.compress(extra, 1)),
    ]
    config = json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "config": {"Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": [digest_of(t) for _, t, _ in layers]},
        }
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digest_of(config),
                "size": len(config),
            },
            "layers": [
                {"mediaType": m, "digest": digest_of(b), "size": len(b)} for m, _, b in layers
            ],
        }
    ).encode()
    for data in [config, manifest, *(b for _, _, b in layers)]:
        (blobs / digest_of(data).split(":")[1]).write_bytes(data)
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": digest_of(manifest),
                "size": len(manifest),
            }
        ],
    }
    (directory / "index.json").write_text(json.dumps(index))
    (directory / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return digest_of(config)


def test_pull_zstd_and_gzip_layers_pushed_by_skopeo(cli, client_env, cncf, tmp_path, busybox_tar):  # type: ignore[no-untyped-def]
    image_id = _mixed_layout(tmp_path / "layout", busybox_tar)
    name = f"{cncf.host}/zstd/busybox:latest"
    skopeo_copy(f"oci:{tmp_path / 'layout'}", f"docker://{name}")
    manifest = subprocess.run(
        ["skopeo", "inspect", "--raw", "--tls-verify=false", f"docker://{name}"],
        capture_output=True,
        check=True,
    ).stdout
    types = [layer["mediaType"] for layer in json.loads(manifest)["layers"]]
    assert [t.rsplit("+", 1)[1] for t in types] == ["zstd", "gzip"]
    cli("pull", name)
    assert json.loads(cli("inspect", name).stdout)[0]["Id"] == image_id
    output = run_output(cli, name, "sh", "-c", "echo zstd-ok; test -f /random.bin")
    assert output.strip() == "zstd-ok"


def _oci_layout_with_two_platforms(directory: Path) -> dict[str, str]:
    """An OCI layout whose index has an amd64 and an arm64 image; returns arch -> image ID."""
    blobs = directory / "blobs" / "sha256"
    blobs.mkdir(parents=True)
    entries = []
    ids = {}
    for architecture in ("amd64", "arm64"):
        image = memory_image([{"bin/which-arch": architecture.encode()}], architecture=architecture)
        for digest, data in [*image.blobs.items(), (image.manifest_digest, image.manifest)]:
            (blobs / digest.split(":")[1]).write_bytes(data)
        platform = {"architecture": architecture, "os": "linux"}
        if architecture == "arm64":
            platform["variant"] = "v8"
        entries.append(
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": image.manifest_digest,
                "size": len(image.manifest),
                "platform": platform,
            }
        )
        ids[architecture] = image.image_id
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": entries,
        }
    ).encode()
    (blobs / digest_of(index).split(":")[1]).write_bytes(index)
    top = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.index.v1+json",
                "digest": digest_of(index),
                "size": len(index),
            }
        ],
    }
    (directory / "index.json").write_text(json.dumps(top))
    (directory / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')
    return ids


def test_pull_index_picks_platform(cli, client_env, cncf, tmp_path):  # type: ignore[no-untyped-def]
    ids = _oci_layout_with_two_platforms(tmp_path / "layout")
    name = f"{cncf.host}/multi/arch:latest"
    skopeo_copy(f"oci:{tmp_path / 'layout'}", f"docker://{name}", "--all")
    result = cli("pull", name)
    index_digest = result.stdout.splitlines()[-3].split()[-1]
    inspected = json.loads(cli("inspect", name).stdout)[0]
    assert inspected["Id"] == ids["amd64"]
    assert inspected["RepoDigests"] == [f"{cncf.host}/multi/arch@{index_digest}"]
    cli("pull", "--platform", "linux/arm64", name)
    assert json.loads(cli("inspect", name).stdout)[0]["Id"] == ids["arm64"]
    missing = cli("pull", "--platform", "linux/s390x", name, check=False)
    assert missing.returncode == 1
    assert "no matching manifest for linux/s390x in the manifest list entries" in missing.stderr


def test_pull_errors_name_registry_and_reason(cli, client_env, cncf):  # type: ignore[no-untyped-def]
    unknown = cli("pull", f"{cncf.host}/busybox:nosuchtag", check=False)
    assert unknown.returncode == 1
    assert unknown.stderr == (
        f"Error: manifest for {cncf.host}/busybox:nosuchtag not found:"
        " manifest unknown: manifest unknown\n"
    )
    from tests.client.registries import free_port

    port = free_port()
    refused = cli("pull", f"127.0.0.1:{port}/busybox", check=False)
    assert refused.returncode == 1
    assert refused.stderr == (
        f'Error: Get "http://127.0.0.1:{port}/v2/": dial tcp 127.0.0.1:{port}:'
        " connect: connection refused\n"
    )


def _store_is_empty(root: Path) -> None:
    engine = Engine(root)
    try:
        assert engine.store.all_refs() == []
        assert engine.store.image_rows() == []
        assert engine.store.db.execute("SELECT COUNT(*) FROM layers").fetchone()[0] == 0
        assert list(engine.store.layers_dir.iterdir()) == []
        assert [p for p in engine.store.tmp.iterdir() if not p.name.startswith(".")] == []
    finally:
        engine.close()


def _big_image():  # type: ignore[no-untyped-def]
    payload = os.urandom(3 << 20)
    image = memory_image([{"bin/first": b"one"}, {"data/random": payload}, {"etc/third": b"3"}])
    image.payload = payload  # type: ignore[attr-defined]
    return image


def _layer_payload(image) -> bytes:  # type: ignore[no-untyped-def]
    return image.payload


def test_cut_download_resumes_with_range(cli, client_env, faulty: FaultyRegistry):  # type: ignore[no-untyped-def]
    image = _big_image()
    faulty.add_image("cut/me", "latest", image)
    faulty.cut_after = 1 << 20
    name = f"{faulty.host}/cut/me:latest"
    cli("pull", name)
    big = image.layer_digests[1]
    ranges = [r for m, p, r in faulty.requests if p.endswith(big) and m == "GET"]
    assert ranges[0] is None and ranges[1].startswith("bytes=") and int(ranges[1][6:-1]) > 0
    inspected = json.loads(cli("inspect", name).stdout)[0]
    assert inspected["Id"] == image.image_id
    engine = Engine(cli.root)
    dirs = engine.store.layer_dirs(engine.images.resolve(name))
    engine.close()
    assert (dirs[1] / "data/random").read_bytes() == _layer_payload(image)
    assert (dirs[2] / "etc/third").read_bytes() == b"3"


def test_resume_after_interrupted_pull(cli, client_env, faulty, store_root):  # type: ignore[no-untyped-def]
    image = _big_image()
    faulty.add_image("resume/me", "latest", image)
    big = image.layer_digests[1]
    Engine(store_root).close()
    partial = store_root / "tmp" / f"pull-sha256-{big.split(':')[1]}.partial"
    kept = 1234567
    partial.write_bytes(image.blobs[big][:kept])
    cli("pull", f"{faulty.host}/resume/me:latest")
    ranges = [r for m, p, r in faulty.requests if p.endswith(big) and m == "GET"]
    assert ranges == [f"bytes={kept}-"]
    assert not partial.exists()
    assert json.loads(cli("inspect", f"{faulty.host}/resume/me").stdout)[0]["Id"] == image.image_id


def test_registry_ignoring_range_still_gives_the_right_blob(cli, client_env, faulty, store_root):  # type: ignore[no-untyped-def]
    image = _big_image()
    faulty.add_image("norange/me", "latest", image)
    faulty.ignore_range = True
    faulty.cut_after = 500_000
    cli("pull", f"{faulty.host}/norange/me:latest")
    assert json.loads(cli("inspect", f"{faulty.host}/norange/me").stdout)[0]["Id"] == image.image_id


def test_wrong_bytes_fail_and_leave_the_store_unchanged(cli, client_env, faulty, store_root):  # type: ignore[no-untyped-def]
    image = _big_image()
    faulty.add_image("liar/me", "latest", image)
    faulty.corrupt = True
    result = cli("pull", f"{faulty.host}/liar/me:latest", check=False)
    assert result.returncode == 1
    assert result.stderr.startswith("Error: filesystem layer verification failed for digest")
    assert len(result.stderr.splitlines()) == 1
    _store_is_empty(store_root)


def test_wrong_manifest_bytes_are_refused(cli, client_env, faulty, store_root):  # type: ignore[no-untyped-def]
    image = _big_image()
    faulty.add_image("liar/manifest", "latest", image)
    media, body = faulty.manifests[f"liar/manifest:{image.manifest_digest}"]
    faulty.manifests[f"liar/manifest:{image.manifest_digest}"] = (media, body + b" ")
    result = cli("pull", f"{faulty.host}/liar/manifest@{image.manifest_digest}", check=False)
    assert result.returncode == 1
    assert "manifest verification failed" in result.stderr
    _store_is_empty(store_root)


def test_schema1_is_refused_clearly(cli, client_env, faulty, store_root):  # type: ignore[no-untyped-def]
    body = json.dumps({"schemaVersion": 1, "name": "old/one", "tag": "latest", "fsLayers": []})
    faulty.manifests["old/one:latest"] = (
        "application/vnd.docker.distribution.manifest.v1+prettyjws",
        body.encode(),
    )
    result = cli("pull", f"{faulty.host}/old/one:latest", check=False)
    assert result.returncode == 1
    assert "manifest schema 1 is not supported" in result.stderr
    _store_is_empty(store_root)


def test_pull_all_tags(cli, client_env, cncf, busybox_archive):  # type: ignore[no-untyped-def]
    _pushed(cncf, busybox_archive, "alltags/busybox:one")
    _pushed(cncf, busybox_archive, "alltags/busybox:two")
    result = cli("pull", "-a", f"{cncf.host}/alltags/busybox")
    lines = result.stdout.splitlines()
    assert "one: Pulling from alltags/busybox" in lines
    assert "two: Pulling from alltags/busybox" in lines
    assert lines[-2:] == [
        f"Status: Downloaded newer image for {cncf.host}/alltags/busybox",
        f"{cncf.host}/alltags/busybox",
    ]
    tags = json.loads(cli("inspect", f"{cncf.host}/alltags/busybox:one").stdout)[0]["RepoTags"]
    assert tags == [f"{cncf.host}/alltags/busybox:one", f"{cncf.host}/alltags/busybox:two"]


def test_mirror_serves_docker_io_pulls(cli, client_env, cncf, busybox_archive):  # type: ignore[no-untyped-def]
    _pushed(cncf, busybox_archive, "library/busybox:latest")
    (client_env / "daemon.json").write_text(
        json.dumps({"registry-mirrors": [f"http://{cncf.host}"]})
    )
    result = cli("pull", "busybox")
    lines = result.stdout.splitlines()
    assert lines[1] == "latest: Pulling from library/busybox"
    assert lines[-2:] == [
        "Status: Downloaded newer image for busybox:latest",
        "docker.io/library/busybox:latest",
    ]
    assert json.loads(cli("inspect", "busybox").stdout)[0]["Id"] == busybox_archive[1]


def test_pull_on_a_terminal_draws_docker_bars(client_env, faulty, store_root):  # type: ignore[no-untyped-def]
    """Under a pseudo-terminal: jsonmessage-style lines redrawn in place."""
    import pty
    import sys

    image = _big_image()
    faulty.add_image("tty/me", "latest", image)
    env = dict(os.environ, DOCKYARD_ROOT=str(store_root))
    pid, fd = pty.fork()
    if pid == 0:  # the child: the real CLI with a terminal as stdout
        os.execvpe(
            sys.executable,
            [sys.executable, "-m", "dockyard.cli.main", "pull", f"{faulty.host}/tty/me:latest"],
            env,
        )
    output = b""
    while True:
        try:
            data = os.read(fd, 65536)
        except OSError:
            break
        if not data:
            break
        output += data
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    text = output.decode()
    big = image.layer_digests[1].split(":")[1][:12]
    assert f"\x1b[2K\r{big}: Pulling fs layer \r" in text
    assert f"{big}: Downloading [" in text
    assert f"{big}: Pull complete \r" in text
    assert f"Status: Downloaded newer image for {faulty.host}/tty/me:latest" in text


def test_two_pulls_of_one_image_at_once(client_env, faulty, store_root):  # type: ignore[no-untyped-def]
    import subprocess
    import sys

    image = _big_image()
    faulty.add_image("twice/me", "latest", image)
    Engine(store_root).close()
    env = dict(os.environ, DOCKYARD_ROOT=str(store_root))
    command = [sys.executable, "-m", "dockyard.cli.main", "pull", "-q"]
    processes = [
        subprocess.Popen(
            [*command, f"{faulty.host}/twice/me:{tag}"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for tag in ("latest", "latest")
    ]
    for process in processes:
        out, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    engine = Engine(store_root)
    try:
        assert str(engine.images.resolve(f"{faulty.host}/twice/me")) == image.image_id
        assert [p.name for p in engine.store.tmp.iterdir() if p.name.endswith(".partial")] == []
    finally:
        engine.close()


def test_the_same_blob_twice_in_one_image(cli, client_env, faulty, store_root):  # type: ignore[no-untyped-def]
    image = memory_image([{"etc/a": b"a"}, {"etc/b": b"b"}, {"etc/a": b"a"}])
    assert image.layer_digests[0] == image.layer_digests[2]
    faulty.add_image("dup/layers", "latest", image)
    cli("pull", f"{faulty.host}/dup/layers:latest")
    gets = [p for m, p, _ in faulty.requests if m == "GET" and image.layer_digests[0] in p]
    assert len(gets) == 1
    engine = Engine(store_root)
    try:
        dirs = engine.store.layer_dirs(engine.images.resolve(f"{faulty.host}/dup/layers"))
        assert [sorted(p.name for p in (d / "etc").iterdir()) for d in dirs] == [
            ["a"],
            ["b"],
            ["a"],
        ]
    finally:
        engine.close()
