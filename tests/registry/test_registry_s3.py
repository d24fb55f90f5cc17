"""`registry serve --storage s3://...` on a real radosgw (the session's Ceph cluster):
push and pull with skopeo and dockyard's client, ranges, 307 redirects to presigned
URLs, a chunked upload continued by a second process, bucket creation by nodes
starting together, clear errors for bad settings."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import uuid

import pytest

from tests.registry.conftest import ROOT, Client, start_registry, stop_registry
from tests.registry.pushing import OCI_MANIFEST, digest_of, image_manifest, push_blob

MIB = 1 << 20


@pytest.fixture
def s3_node(s3_storage, tmp_path):
    """One registry on a fresh bucket, metadata in SQLite (a shared file for more nodes)."""
    metadata = f"sqlite:///{tmp_path / 'meta' / 'registry.db'}"
    (tmp_path / "meta").mkdir()

    def start(*extra: str, query: str = ""):
        return start_registry(
            s3_storage + query, "--metadata", metadata, *extra, log_dir=str(tmp_path)
        )

    return start


def _serve(storage: str, *extra: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """`registry serve` expected to fail at once (bad settings)."""
    return subprocess.run(
        [sys.executable, "-m", "dockyard.cli.main", "registry", "serve", "--addr",
         "127.0.0.1:0", "--storage", storage, *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip


def test_chunked_upload_continues_on_a_second_process_and_both_serve_ranges(s3_node):
    first = s3_node()
    second = s3_node()
    a, b = Client(first.url), Client(second.url)
    try:
        data = os.urandom(13 * MIB + 4321)
        location = a.post("/v2/s3/blobs/uploads/").headers["Location"]
        cut1, cut2 = 2 * MIB, 9 * MIB  # a tail below 5 MiB, then a whole part and a tail
        reply = a.patch(location, data=data[:cut1], headers={"Content-Range": f"0-{cut1 - 1}"})
        assert reply.status == 202
        reply = b.patch(
            location, data=data[cut1:cut2], headers={"Content-Range": f"{cut1}-{cut2 - 1}"}
        )
        assert reply.status == 202 and reply.headers["Range"] == f"0-{cut2 - 1}"
        assert a.get(location).headers["Range"] == f"0-{cut2 - 1}"  # the state is shared
        stale = a.patch(location, data=data[:10], headers={"Content-Range": "0-9"})
        assert stale.status == 416 and stale.headers["Range"] == f"0-{cut2 - 1}"
        done = a.put(f"{location}?digest={digest_of(data)}", data=data[cut2:])
        assert done.status == 201
        blob = f"/v2/s3/blobs/{digest_of(data)}"
        assert b.get(blob).body == data
        ranged = a.get(blob, headers={"Range": f"bytes={5 * MIB}-{5 * MIB + 99}"})
        assert ranged.status == 206 and ranged.body == data[5 * MIB : 5 * MIB + 100]
        assert ranged.headers["Content-Range"] == f"bytes {5 * MIB}-{5 * MIB + 99}/{len(data)}"
        suffix = b.get(blob, headers={"Range": "bytes=-7"})
        assert suffix.status == 206 and suffix.body == data[-7:]
        assert a.get(blob, headers={"Range": f"bytes={len(data)}-"}).status == 416
        wrong = a.post("/v2/s3/blobs/uploads/").headers["Location"]
        bad = b.put(f"{wrong}?digest={digest_of(b'other')}", data=b"not other")
        assert bad.status == 400 and bad.codes == ["DIGEST_INVALID"]
    finally:
        a.close()
        b.close()
        stop_registry(first.process)
        stop_registry(second.process)


def test_redirect_mode_answers_307_to_a_presigned_url_that_honours_range(s3_node, ceph):
    server = s3_node()
    redirecting = s3_node(query="&redirect=true")
    client, redirected = Client(server.url), Client(redirecting.url)
    try:
        data = os.urandom(3 * MIB)
        digest = push_blob(client, "r", data)
        streamed = client.get(f"/v2/r/blobs/{digest}")
        assert streamed.status == 200 and streamed.body == data
        reply = redirected.get(f"/v2/r/blobs/{digest}")
        assert reply.status == 307 and reply.headers["Docker-Content-Digest"] == digest
        url = reply.headers["Location"]
        assert url.startswith(ceph.endpoint + "/")
        assert "X-Amz-Signature=" in url
        assert redirected.get(url).body == data
        part = redirected.get(url, headers={"Range": "bytes=100-199"})
        assert part.status == 206 and part.body == data[100:200]
        head = redirected.head(f"/v2/r/blobs/{digest}")  # HEAD is answered by the registry
        assert head.status == 200 and head.headers["Content-Length"] == str(len(data))
        assert redirected.get(f"/v2/r/blobs/{digest_of(b'absent')}").status == 404
    finally:
        client.close()
        redirected.close()
        stop_registry(server.process)
        stop_registry(redirecting.process)


def test_nodes_starting_together_create_the_bucket_once(s3_storage, tmp_path):
    metadata = f"sqlite:///{tmp_path / 'registry.db'}"
    command = [sys.executable, "-m", "dockyard.cli.main", "registry", "serve",
               "--storage", s3_storage, "--metadata", metadata]  # fmt: skip
    from tests.registry.conftest import free_port

    ports = [free_port() for _ in range(3)]
    logs = [open(tmp_path / f"node{i}.log", "wb") for i in range(3)]  # noqa: SIM115
    processes = [
        subprocess.Popen(
            [*command, "--addr", f"127.0.0.1:{port}"],
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )  # fmt: skip
        for port, log in zip(ports, logs, strict=True)
    ]
    clients = []
    try:
        import time

        deadline = time.monotonic() + 60
        for port, process in zip(ports, processes, strict=True):
            client = Client(f"http://127.0.0.1:{port}")
            clients.append(client)
            while True:
                assert process.poll() is None, (tmp_path / "node0.log").read_text()
                try:
                    if client.get("/v2/").status == 200:
                        break
                except Exception:  # noqa: BLE001 - not listening yet
                    pass
                assert time.monotonic() < deadline, "a node did not start"
                time.sleep(0.1)
        digest = push_blob(clients[0], "together", b"one bucket")
        assert all(c.get(f"/v2/together/blobs/{digest}").body == b"one bucket" for c in clients)
    finally:
        for client in clients:
            client.close()
        for process, log in zip(processes, logs, strict=True):
            stop_registry(process)
            log.close()


def test_bad_s3_settings_are_one_clear_line(ceph, tmp_path):
    metadata = ["--metadata", f"sqlite:///{tmp_path / 'registry.db'}"]
    endpoint = f"endpoint={ceph.endpoint}"
    cases = {
        "s3://Bad_Bucket?" + endpoint: "invalid S3 bucket name",
        f"s3://fine?{endpoint}&colour=blue": "unknown S3 storage option 'colour'",
        "s3://fine?endpoint=ftp://x": "invalid S3 endpoint",
        f"s3://fine?{endpoint}&redirect=maybe": "redirect",
        f"s3://fine?{endpoint}&access_key=AK": "credentials do not go in the storage URL",
    }
    for storage, message in cases.items():
        result = _serve(storage, *metadata)
        assert result.returncode != 0
        assert message in result.stderr and "Traceback" not in result.stderr, result.stderr
        assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    without_keys = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    without_keys["HOME"] = str(tmp_path)  # no ~/.aws either
    result = _serve(f"s3://fine?{endpoint}", *metadata, env=without_keys)
    assert result.returncode != 0 and "no S3 credentials" in result.stderr, result.stderr
    wrong_keys = {**os.environ, "AWS_SECRET_ACCESS_KEY": "wrong"}
    result = _serve(f"s3://fine?{endpoint}", *metadata, env=wrong_keys)
    assert result.returncode != 0 and "access to bucket fine denied" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    result = _serve(f"s3://fine-{uuid.uuid4().hex[:6]}?{endpoint}")  # no --metadata
    assert result.returncode != 0 and "--metadata" in result.stderr, result.stderr


def test_manifests_tags_and_gc_on_s3(s3_node, s3_storage, tmp_path):
    server = s3_node()
    client = Client(server.url)
    try:
        layer, config = os.urandom(6 * MIB), b'{"architecture":"amd64","os":"linux"}'
        push_blob(client, "g", layer)
        push_blob(client, "g", config)
        manifest = image_manifest(config, [layer])
        reply = client.put("/v2/g/manifests/v1", data=manifest,
                           headers={"Content-Type": OCI_MANIFEST})  # fmt: skip
        assert reply.status == 201
        assert client.get("/v2/g/manifests/v1", headers={"Accept": OCI_MANIFEST}).body == manifest
        lone = push_blob(client, "g", b"unreferenced")
        abandoned = client.post("/v2/g/blobs/uploads/").headers["Location"]
        assert client.patch(abandoned, data=os.urandom(6 * MIB)).status == 202
    finally:
        client.close()
        stop_registry(server.process)
    result = server.cli("gc", "--grace", "0", "--upload-grace", "0", *server.extra)
    assert result.returncode == 0, result.stderr
    assert f"deleted blob {lone}" in result.stdout
    assert "1 uploads deleted" in result.stdout or "uploads deleted" in result.stdout
    from dockyard.registry.storage.s3 import open_s3

    driver = open_s3(s3_storage)
    try:
        assert list(driver.walk("uploads")) == []
        assert driver._multipart_uploads(driver.location.key("uploads")) == []
        kept = {info.path.split("/")[3] for info in driver.walk("blobs")}
        assert digest_of(layer)[7:] in kept and lone[7:] not in kept
    finally:
        driver.close()


@pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")
def test_skopeo_and_dockyard_push_and_pull_through_s3(
    s3_node, cli, busybox_tar, tmp_path, monkeypatch
):
    server = s3_node()
    try:
        (tmp_path / "docker-config").mkdir()
        (tmp_path / "daemon.json").write_text("{}")
        monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
        monkeypatch.setenv("DOCKYARD_CONFIG", str(tmp_path / "daemon.json"))
        image = cli("import", "-c", 'CMD ["sh"]', str(busybox_tar), "busybox:latest").stdout.strip()
        cli("tag", "busybox", f"{server.host}/lib/busybox:1")
        cli("push", f"{server.host}/lib/busybox:1")
        cli("rmi", f"{server.host}/lib/busybox:1", "busybox:latest")
        cli("pull", f"{server.host}/lib/busybox:1")
        assert json.loads(cli("inspect", f"{server.host}/lib/busybox:1").stdout)[0]["Id"] == image
        out = tmp_path / "out"
        copied = subprocess.run(
            ["skopeo", "copy", "--insecure-policy", "--src-tls-verify=false",
             "--dest-tls-verify=false", f"docker://{server.host}/lib/busybox:1",
             f"docker://{server.host}/copy/busybox:2"],
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert copied.returncode == 0, copied.stderr
        pulled = subprocess.run(
            ["skopeo", "copy", "--insecure-policy", "--src-tls-verify=false",
             f"docker://{server.host}/copy/busybox:2", f"dir:{out}"],
            capture_output=True, text=True, timeout=180,
        )  # fmt: skip
        assert pulled.returncode == 0, pulled.stderr
        manifest = json.loads((out / "manifest.json").read_text())
        for layer in manifest["layers"]:
            data = (out / layer["digest"].split(":")[1]).read_bytes()
            assert digest_of(data) == layer["digest"]
    finally:
        stop_registry(server.process)
