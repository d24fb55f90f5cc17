"""skopeo (Debian's) copies images into and out of the registry."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from tests.registry.images import Layout

pytestmark = pytest.mark.skipif(shutil.which("skopeo") is None, reason="skopeo is not installed")


def skopeo(*args: str) -> str:
    result = subprocess.run(
        ["skopeo", *args], capture_output=True, text=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def copy_in(source: str, destination: str, *extra: str) -> None:
    skopeo("copy", "--insecure-policy", "--dest-tls-verify=false", *extra, source, destination)


def copy_out(source: str, destination: str, *extra: str) -> None:
    skopeo("copy", "--insecure-policy", "--src-tls-verify=false", *extra, source, destination)


def layout_manifest(path: str, tag: str) -> dict:
    with open(os.path.join(path, "index.json")) as stream:
        index = json.load(stream)
    for entry in index["manifests"]:
        if entry.get("annotations", {}).get("org.opencontainers.image.ref.name") == tag:
            return entry
    raise AssertionError(f"no {tag} in {path}")


@pytest.fixture
def layout(tmp_path):
    path = str(tmp_path / "source")
    images = Layout(path)
    _, gzip_image = images.image(
        {"etc/hello": b"hello from gzip\n"}, "gzip", extra_layers=[os.urandom(200_000)]
    )
    images.add(gzip_image, "gzip")
    _, zstd_image = images.image({"etc/hello": b"hello from zstd\n" * 1000}, "zstd")
    images.add(zstd_image, "zstd")
    _, amd = images.image({"arch": b"amd64"}, arch="amd64")
    _, arm = images.image({"arch": b"arm64"}, arch="arm64")
    _, index = images.index([amd, arm])
    images.add(index, "multi")
    images.close()
    return path


def test_skopeo_push_and_pull_gzip_zstd_and_index(registry, client, layout, tmp_path):
    host = registry.host
    copy_in(f"oci:{layout}:gzip", f"docker://{host}/library/hello:gzip")
    copy_in(f"oci:{layout}:zstd", f"docker://{host}/library/hello:zstd")
    copy_in(f"oci:{layout}:multi", f"docker://{host}/team/multi:latest", "--all")

    tags = json.loads(skopeo("list-tags", "--tls-verify=false", f"docker://{host}/library/hello"))
    assert sorted(tags["Tags"]) == ["gzip", "zstd"]

    # digests survive the round trip: the registry stores bytes as pushed
    for tag in ("gzip", "zstd"):
        raw = skopeo(
            "inspect", "--tls-verify=false", "--raw", f"docker://{host}/library/hello:{tag}"
        )
        manifest = json.loads(raw)
        expected = layout_manifest(layout, tag)
        reply = client.head(
            f"/v2/library/hello/manifests/{tag}",
            headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
        )
        assert reply.headers["Docker-Content-Digest"] == expected["digest"]
        media = manifest["layers"][0]["mediaType"]
        assert media.endswith("+gzip" if tag == "gzip" else "+zstd")

    out = str(tmp_path / "out")
    copy_out(f"docker://{host}/library/hello:gzip", f"oci:{out}:gzip")
    copy_out(f"docker://{host}/library/hello:zstd", f"oci:{out}:zstd")
    copy_out(f"docker://{host}/team/multi:latest", f"oci:{out}:multi", "--all")
    for tag in ("gzip", "zstd", "multi"):
        assert layout_manifest(out, tag)["digest"] == layout_manifest(layout, tag)["digest"]
    with open(
        os.path.join(out, "blobs", "sha256", layout_manifest(out, "multi")["digest"][7:])
    ) as f:
        index = json.load(f)
    assert sorted(m["platform"]["architecture"] for m in index["manifests"]) == ["amd64", "arm64"]

    # one platform out of the index, as a client on arm64 would pull it
    single = str(tmp_path / "arm")
    copy_out(f"docker://{host}/team/multi:latest", f"dir:{single}", "--override-arch", "arm64")
    with open(os.path.join(single, "manifest.json")) as f:
        arm_manifest = json.load(f)
    config_path = os.path.join(single, arm_manifest["config"]["digest"][7:])
    with open(config_path) as f:
        assert json.load(f)["architecture"] == "arm64"

    # inspect reads config through the registry
    info = json.loads(
        skopeo("inspect", "--tls-verify=false", f"docker://{host}/library/hello:zstd")
    )
    assert info["Architecture"] == "amd64" and info["Os"] == "linux"


def test_skopeo_copy_between_repositories_mounts_blobs(registry, layout):
    host = registry.host
    copy_in(f"oci:{layout}:gzip", f"docker://{host}/first/image:v1")
    copy_out(
        f"docker://{host}/first/image:v1",
        f"docker://{host}/second/image:v1",
        "--dest-tls-verify=false",
    )
    tags = json.loads(skopeo("list-tags", "--tls-verify=false", f"docker://{host}/second/image"))
    assert tags["Tags"] == ["v1"]


def test_skopeo_docker_v2s2_format(registry, layout, tmp_path):
    host = registry.host
    copy_in(f"oci:{layout}:gzip", f"docker://{host}/dockerfmt:v2s2", "--format", "v2s2")
    raw = json.loads(
        skopeo("inspect", "--tls-verify=false", "--raw", f"docker://{host}/dockerfmt:v2s2")
    )
    assert raw["mediaType"] == "application/vnd.docker.distribution.manifest.v2+json"
    copy_out(f"docker://{host}/dockerfmt:v2s2", f"dir:{tmp_path / 'v2s2'}")
