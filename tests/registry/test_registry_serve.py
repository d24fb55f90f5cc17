"""`registry serve` options: HTTPS, periodic gc, and errors for users."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time

import pytest

from tests.registry.conftest import Client, registry_cli, start_registry, stop_registry
from tests.registry.pushing import push_blob


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_https_with_a_certificate(tmp_path):
    cert, key = str(tmp_path / "cert.pem"), str(tmp_path / "key.pem")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    server = start_registry(str(tmp_path / "storage"), "--tls-cert", cert, "--tls-key", key)
    try:
        result = subprocess.run(
            ["curl", "-s", "--cacert", cert, "-D", "-", f"https://{server.host}/v2/"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        assert result.stdout.startswith("HTTP/1.1 200")
        assert result.stdout.endswith("{}")
        # a blob large enough for the threaded sendfile path still goes through TLS
        blob = tmp_path / "blob"
        blob.write_bytes(os.urandom(3 << 20))
        digest = "sha256:" + hashlib.sha256(blob.read_bytes()).hexdigest()
        url = f"https://{server.host}/v2/tls/blobs"
        subprocess.run(
            ["curl", "-sf", "--cacert", cert, "-X", "POST", "--data-binary", f"@{blob}",
             f"{url}/uploads/?digest={digest}"],
            check=True, capture_output=True,
        )  # fmt: skip
        got = subprocess.run(
            ["curl", "-sf", "--cacert", cert, f"{url}/{digest}"], check=True, capture_output=True
        )
        assert got.stdout == blob.read_bytes()
        plain = subprocess.run(
            ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", f"http://{server.host}/v2/"],
            capture_output=True, text=True,
        )  # fmt: skip
        assert plain.stdout != "200"
        if shutil.which("skopeo"):
            from tests.registry.images import Layout

            layout = Layout(str(tmp_path / "img"))
            _, descriptor = layout.image({"f": b"tls"})
            layout.add(descriptor, "v1")
            layout.close()
            certs = tmp_path / "certs"
            certs.mkdir()
            shutil.copy(cert, certs / "ca.crt")
            copied = subprocess.run(
                ["skopeo", "copy", "--insecure-policy", "--dest-cert-dir", str(certs),
                 f"oci:{layout.path}:v1", f"docker://{server.host}/secure/app:v1"],
                capture_output=True, text=True,
            )  # fmt: skip
            assert copied.returncode == 0, copied.stderr
    finally:
        stop_registry(server.process)


def test_periodic_gc_sweeps_while_serving(tmp_path):
    server = start_registry(str(tmp_path / "storage"), "--gc-interval", "0.3", "--gc-grace", "0")
    client = Client(server.url)
    try:
        digest = push_blob(client, "periodic", b"nobody will reference this")
        deadline = time.monotonic() + 20
        while client.head(f"/v2/periodic/blobs/{digest}").status == 200:
            assert time.monotonic() < deadline, "periodic gc did not run"
            time.sleep(0.2)
    finally:
        client.close()
        stop_registry(server.process)


def test_errors_are_one_line(tmp_path):
    missing_key = registry_cli(str(tmp_path / "s"), "serve", "--tls-cert", "/nonexistent.pem")
    assert missing_key.returncode == 1
    assert missing_key.stderr == "Error: --tls-cert and --tls-key go together\n"
    bad_addr = registry_cli(str(tmp_path / "s"), "serve", "--addr", "nowhere")
    assert bad_addr.stderr == "Error: invalid address 'nowhere': expected HOST:PORT\n"
    bad_user = registry_cli(str(tmp_path / "s"), "user", "add", "Bad Name", "--password", "x")
    assert bad_user.returncode == 1 and bad_user.stderr.startswith("Error: invalid user name")
    no_storage = registry_cli(str(tmp_path / "nothing"), "gc")
    assert no_storage.returncode == 1
    assert no_storage.stderr == f"Error: no registry storage at {tmp_path / 'nothing'}\n"
    assert not (tmp_path / "nothing").exists()
    bad_repo = registry_cli(str(tmp_path / "s"), "repo", "set-official", "UPPER")
    assert bad_repo.stderr == "Error: invalid repository name: UPPER\n"
