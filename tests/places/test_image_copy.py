"""`dockyard image copy SRC DST` between every kind of place, against dockyard's own
registry on loopback, with skopeo reading and writing the same layouts and archives."""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
from pathlib import Path

import pytest

SKOPEO = ["skopeo", "--insecure-policy"]


def skopeo(*args: str) -> str:
    return subprocess.run([*SKOPEO, *args], check=True, capture_output=True, text=True).stdout


def config_id(transport: str) -> str:
    raw = subprocess.run(
        [*SKOPEO, "inspect", "--tls-verify=false", "--config", "--raw", transport],
        check=True,
        capture_output=True,
    ).stdout
    return "sha256:" + hashlib.sha256(raw).hexdigest()


@pytest.fixture
def busybox_id(cli, busybox_tar) -> str:  # type: ignore[no-untyped-def]
    return cli(
        "import", "--change", 'CMD ["sh"]', str(busybox_tar), "busybox:latest"
    ).stdout.strip()


def test_store_to_registry_to_registry_to_layouts_and_back(
    cli, tmp_path, busybox_id, dockyard_registry
) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import Cli

    host = dockyard_registry.host
    first = f"docker://{host}/copy/busybox:1"
    cli("image", "copy", "--dest-tls-verify=false", "dockyard:busybox", first)
    assert config_id(first) == busybox_id

    # registry to registry, not through the store: the manifest is kept as it was
    elsewhere = tmp_path / "no-store-here"
    other = Cli(elsewhere, tmp_path)
    second = f"docker://{host}/copy/again:2"
    other("image", "copy", first, second)
    assert not elsewhere.exists()
    digests = {
        json.loads(skopeo("inspect", "--tls-verify=false", name))["Digest"]
        for name in (first, second)
    }
    assert len(digests) == 1

    # registry to an OCI layout, which skopeo reads
    layout = tmp_path / "layout"
    other("image", "copy", second, f"oci:{layout}:bb")
    assert config_id(f"oci:{layout}:bb") == busybox_id
    index = json.loads((layout / "index.json").read_text())
    assert [m["annotations"] for m in index["manifests"]] == [
        {"org.opencontainers.image.ref.name": "bb"}
    ]

    # OCI layout to docker-archive, loaded by a fresh store under the same ID
    archive = tmp_path / "from-oci.tar"
    other("image", "copy", f"oci:{layout}:bb", f"docker-archive:{archive}:named/bb:7")
    assert config_id(f"docker-archive:{archive}") == busybox_id
    fresh = Cli(tmp_path / "fresh", tmp_path)
    assert fresh("load", "-i", str(archive)).stdout == "Loaded image: named/bb:7\n"
    assert json.loads(fresh("inspect", "named/bb:7").stdout)[0]["Id"] == busybox_id


def test_archives_and_layouts_skopeo_wrote_copy_anywhere(
    cli, tmp_path, busybox_id, dockyard_registry
) -> None:  # type: ignore[no-untyped-def]
    saved = tmp_path / "saved.tar"
    cli("save", "-o", str(saved), "busybox")
    skopeo_layout = tmp_path / "skopeo-layout"
    skopeo("copy", f"docker-archive:{saved}", f"oci:{skopeo_layout}:sk")
    skopeo_archive = tmp_path / "skopeo.tar"
    skopeo("copy", f"docker-archive:{saved}", f"oci-archive:{skopeo_archive}:sk/arch:1")

    # skopeo converted the config to OCI's (another image ID) and gzipped the layer
    converted = config_id(f"oci:{skopeo_layout}:sk")
    assert converted != busybox_id

    # skopeo's OCI layout into the store, under the destination's name
    cli("image", "copy", f"oci:{skopeo_layout}:sk", "dockyard:from/layout:1")
    assert json.loads(cli("inspect", "from/layout:1").stdout)[0]["Id"] == converted

    # skopeo's OCI archive to the registry, then pulled back
    target = f"{dockyard_registry.host}/copy/from-archive:3"
    cli("image", "copy", f"oci-archive:{skopeo_archive}", f"docker://{target}")
    assert config_id(f"docker://{target}") == converted
    cli("rmi", "from/layout:1")
    cli("pull", target)
    assert json.loads(cli("inspect", target).stdout)[0]["Id"] == converted

    # the store to an OCI archive and a docker-archive, both read by skopeo
    oci_out = tmp_path / "ours-oci.tar"
    cli("image", "copy", "dockyard:busybox", f"oci-archive:{oci_out}:ours")
    assert config_id(f"oci-archive:{oci_out}:ours") == busybox_id
    docker_out = tmp_path / "ours-docker.tar"
    cli("image", "copy", f"oci-archive:{oci_out}:ours", f"docker-archive:{docker_out}:x/y:z")
    with tarfile.open(docker_out) as tar:
        manifest = json.load(tar.extractfile("manifest.json"))  # type: ignore[arg-type]
    assert [item["RepoTags"] for item in manifest] == [["x/y:z"]]
    assert config_id(f"docker-archive:{docker_out}") == busybox_id


def test_an_image_dockyard_wrote_to_a_layout_is_updated_in_place(cli, tmp_path, busybox_id) -> None:  # type: ignore[no-untyped-def]
    layout = tmp_path / "layout"
    cli("image", "copy", "dockyard:busybox", f"oci:{layout}:one")
    cli("image", "copy", "dockyard:busybox", f"oci:{layout}:two")
    cli("image", "copy", "dockyard:busybox", f"oci:{layout}:one")
    names = [
        m["annotations"]["org.opencontainers.image.ref.name"]
        for m in json.loads((layout / "index.json").read_text())["manifests"]
    ]
    assert sorted(names) == ["one", "two"]
    for name in names:
        assert config_id(f"oci:{layout}:{name}") == busybox_id


@pytest.mark.parametrize(
    ("source", "destination", "message"),
    [
        ("nowhere:x", "oci:/tmp/x", "invalid image name 'nowhere:x'"),
        ("dockyard:busybox", "docker:/one-slash/x", "docker:// needs two slashes"),
        ("docker-archive:/does/not/exist.tar", "oci:/tmp/x", "no such file or directory"),
        ("dockyard:missing:tag", "oci:/tmp/x", "No such image"),
    ],
)
def test_bad_places_are_one_clear_line(
    cli, tmp_path, busybox_id, source, destination, message
) -> None:  # type: ignore[no-untyped-def]
    result = cli("image", "copy", source, destination, check=False)
    assert result.returncode != 0
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_a_failed_copy_leaves_no_output_file(cli, tmp_path, busybox_id) -> None:  # type: ignore[no-untyped-def]
    saved = tmp_path / "saved.tar"
    cli("save", "-o", str(saved), "busybox")
    data = bytearray(saved.read_bytes())
    # corrupt the layer's bytes (the largest member) without changing any size
    middle = len(data) // 2
    data[middle : middle + 64] = bytes(64)
    broken = tmp_path / "broken.tar"
    broken.write_bytes(bytes(data))
    out = tmp_path / "out.tar"
    result = cli("image", "copy", f"docker-archive:{broken}", f"oci-archive:{out}", check=False)
    assert result.returncode != 0
    assert not out.exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".out.tar")] == []


def test_copy_names_are_recorded_in_the_store(cli, tmp_path, busybox_id) -> None:  # type: ignore[no-untyped-def]
    layout = tmp_path / "layout"
    cli("image", "copy", "dockyard:busybox", f"oci:{layout}")
    cli("image", "copy", f"oci:{layout}", "dockyard:renamed:v1")
    tags = json.loads(cli("inspect", busybox_id).stdout)[0]["RepoTags"]
    assert tags == ["busybox:latest", "renamed:v1"]


__all__ = ["Path"]


def _put_index(host: str, repository: str, tag: str, child: dict) -> bytes:
    """An OCI index listing one image twice (two platforms), PUT by plain HTTP."""
    import urllib.request

    entry = {"mediaType": child["mediaType"], "digest": child["digest"], "size": child["size"]}
    index = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {**entry, "platform": {"architecture": "amd64", "os": "linux"}},
                {**entry, "platform": {"architecture": "arm64", "os": "linux"}},
            ],
        }
    ).encode()
    request = urllib.request.Request(
        f"http://{host}/v2/{repository}/manifests/{tag}",
        data=index,
        method="PUT",
        headers={"Content-Type": "application/vnd.oci.image.index.v1+json"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - loopback
        assert response.status == 201
    return index


def test_all_copies_an_index_between_registries(
    cli, tmp_path, busybox_id, dockyard_registry
) -> None:  # type: ignore[no-untyped-def]
    host = dockyard_registry.host
    single = f"docker://{host}/multi/source:single"
    cli("image", "copy", "dockyard:busybox", single)
    raw = skopeo("inspect", "--tls-verify=false", "--raw", single).encode()
    child = {
        "mediaType": json.loads(raw)["mediaType"],
        "digest": "sha256:" + hashlib.sha256(raw).hexdigest(),
        "size": len(raw),
    }
    index = _put_index(host, "multi/source", "both", child)

    target = f"docker://{host}/multi/target:both"
    cli("image", "copy", "--all", f"docker://{host}/multi/source:both", target)
    assert skopeo("inspect", "--tls-verify=false", "--raw", target).encode() == index
    copied_child = f"docker://{host}/multi/target@{child['digest']}"
    assert config_id(copied_child) == busybox_id

    # without --all, the host's platform is chosen and copied as a single image
    picked = f"docker://{host}/multi/picked:one"
    cli("image", "copy", f"docker://{host}/multi/source:both", picked)
    assert json.loads(skopeo("inspect", "--tls-verify=false", "--raw", picked))["mediaType"] in (
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.oci.image.manifest.v1+json",
    )

    refused = cli("image", "copy", "--all", "dockyard:busybox", f"oci:{tmp_path}/x", check=False)
    assert refused.returncode != 0
    assert "--all copies an index between docker:// places only" in refused.stderr
