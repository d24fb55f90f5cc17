"""docker-archive / OCI-archive place: write, read, interoperate with skopeo, refuse hostile input.

Real layer tars, real skopeo, real compressors; no mocks.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from dockyard.digest import Digest
from dockyard.errors import InvalidArchive, NotFound
from dockyard.oci import mediatypes as mt
from dockyard.places.docker_archive import (
    ArchiveImage,
    ArchiveLayer,
    archive_size,
    go_json,
    open_archive,
    write_docker_archive,
)

SKOPEO = shutil.which("skopeo")
needs_skopeo = pytest.mark.skipif(SKOPEO is None, reason="skopeo is not installed")


# ---------------------------------------------------------------------------
# helpers: real layers and images


def make_layer(files: dict[str, bytes]) -> bytes:
    """A real layer tar (GNU tar, as a tree on disk, so it carries real directories)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in sorted(files.items()):
            parent = os.path.dirname(name)
            if parent:
                info = tarfile.TarInfo(parent)
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            info.mtime = 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def gnu_tar_layer(tmp_path: Path, files: dict[str, bytes]) -> bytes:
    """A layer made by GNU tar from a real directory tree."""
    root = tmp_path / f"tree-{hashlib.sha256(repr(sorted(files)).encode()).hexdigest()[:8]}"
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    out = subprocess.run(
        [
            "tar",
            "-C",
            str(root),
            "--sort=name",
            "--mtime=@0",
            "--owner=0",
            "--group=0",
            "-cf",
            "-",
            ".",
        ],
        check=True,
        capture_output=True,
    )
    return out.stdout


def make_config(diff_ids: list[Digest], **extra: object) -> bytes:
    config = {
        "architecture": "amd64",
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "config": {"Env": ["PATH=/usr/bin:/bin"], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [str(d) for d in diff_ids]},
        "history": [{"created_by": f"step {i}"} for i in range(len(diff_ids))],
    }
    config.update(extra)
    return json.dumps(config).encode()


class Layers:
    """Layer tars stored as files, opened as real files (the kernel-copy path)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def add(self, data: bytes) -> ArchiveLayer:
        digest = Digest.of_bytes(data)
        path = self.root / digest.hex
        path.write_bytes(data)

        @contextmanager
        def opener() -> Iterator[io.BufferedReader]:
            with open(path, "rb") as stream:
                yield stream

        return ArchiveLayer(digest, len(data), opener)


def image(layers: list[ArchiveLayer], tags: list[str], **extra: object) -> ArchiveImage:
    return ArchiveImage(make_config([layer.diff_id for layer in layers], **extra), tags, layers)


def save(path: Path, images: list[ArchiveImage]) -> Path:
    with open(path, "wb") as out:
        write_docker_archive(out, images)
    return path


def skopeo(*args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [SKOPEO or "skopeo", "--insecure-policy", *args], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    return result


def read_members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {
            m.name: tar.extractfile(m).read() if m.isfile() else b""  # type: ignore[union-attr]
            for m in tar.getmembers()
        }


def layer_bytes(entry) -> bytes:
    with entry.open() as stream:
        return stream.read()


def uncompressed(entry) -> bytes:
    data = layer_bytes(entry)
    if entry.media_type == mt.OCI_LAYER_GZIP:
        return gzip.decompress(data)
    if entry.media_type == mt.OCI_LAYER_ZSTD:
        import zstandard

        return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(data)).read()
    return data


@pytest.fixture
def layers(tmp_path: Path) -> Layers:
    return Layers(tmp_path / "layers")


@pytest.fixture
def busybox(tmp_path: Path, layers: Layers) -> ArchiveImage:
    base = layers.add(
        gnu_tar_layer(tmp_path, {"bin/sh": b"#!shell\n", "etc/passwd": b"root:x:0:0\n"})
    )
    top = layers.add(make_layer({"hello.txt": b"hello world\n"}))
    return image([base, top], ["busybox:latest"])


# ---------------------------------------------------------------------------
# the written layout


def test_layout_is_docker_25(tmp_path: Path, busybox: ArchiveImage) -> None:
    archive = save(tmp_path / "out.tar", [busybox])
    image_id = Digest.of_bytes(busybox.config)
    with tarfile.open(archive) as tar:
        infos = tar.getmembers()
    names = [m.name for m in infos]
    diff_ids = [layer.diff_id for layer in busybox.layers]
    assert names[:2] == ["blobs", "blobs/sha256"]
    assert names[-4:] == ["index.json", "manifest.json", "oci-layout", "repositories"]
    assert names[2:-4] == sorted(names[2:-4])
    for info in infos:
        assert (info.uid, info.gid, info.mtime) == (0, 0, 0)
        assert info.mode == (0o755 if info.isdir() else 0o644)
    members = read_members(archive)
    for name, data in members.items():
        if name.startswith("blobs/sha256/"):
            assert hashlib.sha256(data).hexdigest() == name.rsplit("/", 1)[1]
    assert members[f"blobs/sha256/{image_id.hex}"] == busybox.config
    assert members["oci-layout"] == b'{"imageLayoutVersion": "1.0.0"}'

    manifest_json = json.loads(members["manifest.json"])
    assert manifest_json == [
        {
            "Config": f"blobs/sha256/{image_id.hex}",
            "RepoTags": ["busybox:latest"],
            "Layers": [f"blobs/sha256/{d.hex}" for d in diff_ids],
        }
    ]
    assert members["manifest.json"].endswith(b"]\n")
    assert json.loads(members["repositories"]) == {"busybox": {"latest": diff_ids[-1].hex}}

    index = json.loads(members["index.json"])
    assert index["schemaVersion"] == 2 and index["mediaType"] == mt.OCI_INDEX
    [entry] = index["manifests"]
    assert entry["annotations"] == {
        "io.containerd.image.name": "docker.io/library/busybox:latest",
        "org.opencontainers.image.ref.name": "latest",
    }
    manifest_bytes = members[f"blobs/sha256/{entry['digest'].split(':')[1]}"]
    assert len(manifest_bytes) == entry["size"]
    manifest = json.loads(manifest_bytes)
    assert manifest["mediaType"] == mt.OCI_MANIFEST
    assert manifest["config"]["mediaType"] == mt.OCI_CONFIG
    assert manifest["config"]["digest"] == str(image_id)
    assert [(d["mediaType"], d["digest"], d["size"]) for d in manifest["layers"]] == [
        (mt.OCI_LAYER, str(layer.diff_id), layer.tar_size) for layer in busybox.layers
    ]


def test_output_is_byte_identical(tmp_path: Path, busybox: ArchiveImage, layers: Layers) -> None:
    other = image([layers.add(make_layer({"x": b"x"}))], [])
    first = save(tmp_path / "a.tar", [busybox, other]).read_bytes()
    for path in layers.root.iterdir():  # new mtimes on the sources change nothing
        os.utime(path, (1, 1))
    second = save(tmp_path / "b.tar", [busybox, other]).read_bytes()
    assert first == second
    buffer = io.BytesIO()  # not a real file: the buffered copy path gives the same bytes
    write_docker_archive(buffer, [busybox, other])
    assert buffer.getvalue() == first
    assert len(first) % 512 == 0
    assert archive_size([busybox, other]) == len(first)


def test_repositories_order(tmp_path: Path, layers: Layers) -> None:
    one = image([layers.add(make_layer({"1": b"1"}))], ["zeta:1"])
    two = image([layers.add(make_layer({"2": b"2"}))], ["alpha:2"])
    with open(tmp_path / "o.tar", "wb") as out:
        write_docker_archive(out, [one, two], repositories_order=["zeta"])
    assert list(json.loads(read_members(tmp_path / "o.tar")["repositories"])) == ["zeta", "alpha"]
    members = read_members(save(tmp_path / "d.tar", [one, two]))
    assert list(json.loads(members["repositories"])) == ["alpha", "zeta"]  # Go sorts map keys


def test_two_images_share_a_layer(tmp_path: Path, layers: Layers) -> None:
    base = layers.add(gnu_tar_layer(tmp_path, {"etc/os-release": b"ID=test\n"}))
    one = image([base, layers.add(make_layer({"one": b"1"}))], ["one:latest", "one:v1"])
    two = image([base, layers.add(make_layer({"two": b"2"}))], ["example.com:5000/team/two:2"])
    archive = save(tmp_path / "two.tar", [one, two])
    names = [m.name for m in tarfile.open(archive).getmembers()]
    assert names.count(f"blobs/sha256/{base.diff_id.hex}") == 1
    members = read_members(archive)
    assert json.loads(members["repositories"]) == {
        "example.com:5000/team/two": {"2": two.layers[-1].diff_id.hex},
        "one": {"latest": one.layers[-1].diff_id.hex, "v1": one.layers[-1].diff_id.hex},
    }
    index = json.loads(members["index.json"])
    assert [m["annotations"]["io.containerd.image.name"] for m in index["manifests"]] == [
        "docker.io/library/one:latest",
        "docker.io/library/one:v1",
        "example.com:5000/team/two:2",
    ]
    with open_archive(archive, tmp_path) as reader:
        assert reader.layout == "docker"
        assert [(i.config, i.repo_tags) for i in reader.images] == [
            (one.config, ["one:latest", "one:v1"]),
            (two.config, ["example.com:5000/team/two:2"]),
        ]
        first, second = reader.images
        assert layer_bytes(first.layers[0]) == layer_bytes(second.layers[0])
        for loaded, saved in ((first, one), (second, two)):
            for entry, layer in zip(loaded.layers, saved.layers, strict=True):
                assert entry.diff_id == layer.diff_id == entry.digest
                assert entry.media_type == mt.OCI_LAYER
                assert hashlib.sha256(layer_bytes(entry)).hexdigest() == layer.diff_id.hex
    if SKOPEO:
        out = json.loads(skopeo("inspect", f"docker-archive:{archive}:one:v1").stdout)
        assert out["Layers"] == [str(layer.diff_id) for layer in one.layers]
        out = json.loads(
            skopeo("inspect", f"docker-archive:{archive}:example.com:5000/team/two:2").stdout
        )
        assert out["Layers"] == [str(layer.diff_id) for layer in two.layers]


def test_same_image_twice_is_written_once(tmp_path: Path, busybox: ArchiveImage) -> None:
    again = ArchiveImage(busybox.config, ["busybox:extra", "busybox:latest"], busybox.layers)
    members = read_members(save(tmp_path / "x.tar", [busybox, again]))
    [item] = json.loads(members["manifest.json"])
    assert item["RepoTags"] == ["busybox:latest", "busybox:extra"]


def test_id_only_image(tmp_path: Path, busybox: ArchiveImage) -> None:
    untagged = ArchiveImage(busybox.config, [], busybox.layers)
    archive = save(tmp_path / "byid.tar", [untagged])
    members = read_members(archive)
    assert "repositories" not in members
    assert b'"RepoTags":null' in members["manifest.json"]
    [entry] = json.loads(members["index.json"])["manifests"]
    assert "annotations" not in entry
    with open_archive(archive, tmp_path) as reader:
        [loaded] = reader.images
        assert loaded.repo_tags == [] and loaded.config == busybox.config
    if SKOPEO:
        out = json.loads(skopeo("inspect", f"docker-archive:{archive}").stdout)
        assert out["Layers"] == [str(layer.diff_id) for layer in busybox.layers]


def test_layer_shorter_than_announced_is_an_error(tmp_path: Path, busybox: ArchiveImage) -> None:
    from dockyard.errors import DockyardError

    short = ArchiveLayer(
        busybox.layers[0].diff_id, busybox.layers[0].tar_size + 512, busybox.layers[0].open
    )
    broken = ArchiveImage(busybox.config, [], [short, busybox.layers[1]])
    with pytest.raises(DockyardError, match="expected .* bytes, read only"):
        save(tmp_path / "short.tar", [broken])


def test_layers_must_match_the_config(busybox: ArchiveImage) -> None:
    with pytest.raises(ValueError, match="diff_ids"):
        write_docker_archive(io.BytesIO(), [ArchiveImage(busybox.config, [], busybox.layers[:1])])


# ---------------------------------------------------------------------------
# skopeo reads what we write, and we read what skopeo writes


@needs_skopeo
def test_skopeo_inspects_our_archive(tmp_path: Path, busybox: ArchiveImage) -> None:
    archive = save(tmp_path / "out.tar", [busybox])
    out = json.loads(skopeo("inspect", f"docker-archive:{archive}").stdout)
    assert out["Layers"] == [str(layer.diff_id) for layer in busybox.layers]
    assert out["Architecture"] == "amd64" and out["Os"] == "linux"
    config = skopeo("inspect", "--config", "--raw", f"docker-archive:{archive}").stdout.encode()
    assert config == busybox.config
    # the same file is also a valid OCI archive (Docker 25's point)
    config = skopeo("inspect", "--config", "--raw", f"oci-archive:{archive}:latest").stdout.encode()
    assert config == busybox.config


@needs_skopeo
def test_skopeo_copies_our_archive_to_an_oci_directory(
    tmp_path: Path, busybox: ArchiveImage
) -> None:
    archive = save(tmp_path / "out.tar", [busybox])
    target = tmp_path / "oci-dir"
    skopeo("copy", "-q", f"docker-archive:{archive}", f"oci:{target}:copied")
    index = json.loads((target / "index.json").read_text())
    [entry] = index["manifests"]
    assert entry["annotations"]["org.opencontainers.image.ref.name"] == "copied"
    manifest = json.loads((target / "blobs/sha256" / entry["digest"].split(":")[1]).read_bytes())
    assert len(manifest["layers"]) == 2
    config = json.loads(
        (target / "blobs/sha256" / manifest["config"]["digest"].split(":")[1]).read_bytes()
    )
    assert config["rootfs"]["diff_ids"] == [str(layer.diff_id) for layer in busybox.layers]


@needs_skopeo
def test_skopeo_docker_archive_round_trip(tmp_path: Path, busybox: ArchiveImage) -> None:
    archive = save(tmp_path / "out.tar", [busybox])
    other = tmp_path / "skopeo.tar"
    skopeo("copy", "-q", f"docker-archive:{archive}", f"docker-archive:{other}:myrepo/name:tag")
    with open_archive(other, tmp_path) as reader:
        [loaded] = reader.images
        assert loaded.config == busybox.config  # same image ID
        assert loaded.repo_tags == ["myrepo/name:tag"]
        for entry, layer in zip(loaded.layers, busybox.layers, strict=True):
            assert entry.diff_id == layer.diff_id
            assert hashlib.sha256(layer_bytes(entry)).hexdigest() == layer.diff_id.hex
    # and back: our archive from what we read equals the original one
    with open_archive(other, tmp_path) as reader:
        [loaded] = reader.images
        again = ArchiveImage(
            loaded.config,
            ["busybox:latest"],
            [ArchiveLayer(e.diff_id, e.size, e.open) for e in loaded.layers],  # type: ignore[arg-type]
        )
        assert save(tmp_path / "again.tar", [again]).read_bytes() == archive.read_bytes()


@needs_skopeo
def test_skopeo_oci_archive_round_trip(tmp_path: Path, busybox: ArchiveImage) -> None:
    archive = save(tmp_path / "out.tar", [busybox])
    # OCI to OCI keeps the config bytes; layers come back gzip-compressed
    other = tmp_path / "oci.tar"
    skopeo("copy", "-q", f"oci-archive:{archive}:latest", f"oci-archive:{other}:myrepo/name:tag")
    with open_archive(other, tmp_path) as reader:
        assert reader.layout == "oci"
        [loaded] = reader.images
        assert loaded.config == busybox.config
        assert loaded.repo_tags == ["myrepo/name:tag"]
        for entry, layer in zip(loaded.layers, busybox.layers, strict=True):
            assert entry.media_type == mt.OCI_LAYER_GZIP
            assert entry.digest == Digest.of_bytes(layer_bytes(entry))
            assert Digest.of_bytes(uncompressed(entry)) == layer.diff_id == entry.diff_id
    # docker-archive to oci-archive: skopeo rewrites the config as OCI (new image ID),
    # the layers are the same
    zstd = tmp_path / "zstd.tar"
    skopeo(
        "copy", "-q", "--dest-compress", "--dest-compress-format", "zstd",
        f"docker-archive:{archive}", f"oci-archive:{zstd}:zz:1",
    )  # fmt: skip
    with open_archive(zstd, tmp_path) as reader:
        [loaded] = reader.images
        assert loaded.repo_tags == ["zz:1"]
        assert [e.media_type for e in loaded.layers] == [mt.OCI_LAYER_ZSTD] * 2
        for entry, layer in zip(loaded.layers, busybox.layers, strict=True):
            assert Digest.of_bytes(uncompressed(entry)) == layer.diff_id


# ---------------------------------------------------------------------------
# reading: compression, streams, older layouts


@pytest.mark.parametrize(
    "tool", [["gzip", "-c"], ["bzip2", "-c"], ["xz", "-c", "-T1"], ["zstd", "-q", "-c"]]
)
def test_compressed_archives(tmp_path: Path, busybox: ArchiveImage, tool: list[str]) -> None:
    archive = save(tmp_path / "out.tar", [busybox])
    compressed = tmp_path / "out.tar.z"
    with open(archive, "rb") as source, open(compressed, "wb") as target:
        subprocess.run([*tool, "-"], stdin=source, stdout=target, check=True)
    with open_archive(compressed, tmp_path) as reader:
        assert (
            reader.compression
            == {"gzip": "gzip", "bzip2": "bzip2", "xz": "xz", "zstd": "zstd"}[tool[0]]
        )
        [loaded] = reader.images
        assert loaded.config == busybox.config and loaded.repo_tags == ["busybox:latest"]
        for entry, layer in zip(loaded.layers, busybox.layers, strict=True):
            assert Digest.of_bytes(layer_bytes(entry)) == layer.diff_id
        spooled = [p for p in tmp_path.iterdir() if p.name.startswith("archive-")]
        assert spooled == []  # the temporary file is anonymous
    # a truncated compressed archive is refused with one clear line
    truncated = tmp_path / "cut.tar.z"
    truncated.write_bytes(compressed.read_bytes()[: compressed.stat().st_size // 2])
    with pytest.raises(InvalidArchive, match=r"^invalid archive: .*(truncated|corrupt)"):
        open_archive(truncated, tmp_path)


def _pipe_from(data: bytes) -> io.BufferedReader:
    read_fd, write_fd = os.pipe()

    def feed() -> None:
        with os.fdopen(write_fd, "wb") as pipe:
            pipe.write(data)

    threading.Thread(target=feed, daemon=True).start()
    return os.fdopen(read_fd, "rb")


@pytest.mark.parametrize("compress", [False, True])
def test_non_seekable_stream(tmp_path: Path, busybox: ArchiveImage, compress: bool) -> None:
    data = save(tmp_path / "out.tar", [busybox]).read_bytes()
    if compress:
        data = gzip.compress(data)
    with _pipe_from(data) as stdin, open_archive(stdin, tmp_path) as reader:
        [loaded] = reader.images
        assert loaded.config == busybox.config
        for entry, layer in zip(loaded.layers, busybox.layers, strict=True):
            assert Digest.of_bytes(layer_bytes(entry)) == layer.diff_id
    with open(tmp_path / "out.tar", "rb") as stream, open_archive(stream, tmp_path) as reader:
        assert reader.images[0].config == busybox.config  # a seekable stream is read in place
    with open_archive(io.BytesIO(data), tmp_path) as reader:
        assert reader.images[0].config == busybox.config


def test_layers_can_be_read_in_parallel_and_not_after_close(
    tmp_path: Path, busybox: ArchiveImage
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    archive = save(tmp_path / "out.tar", [busybox])
    with open_archive(archive, tmp_path) as reader:
        entries = reader.images[0].layers * 8
        with ThreadPoolExecutor(8) as pool:
            digests = list(pool.map(lambda e: Digest.of_bytes(layer_bytes(e)), entries))
        assert digests == [e.diff_id for e in entries]
    with pytest.raises(InvalidArchive, match="closed"):
        layer_bytes(entries[0])


def write_tar(path: Path, members: list[tuple], fmt: int = tarfile.GNU_FORMAT) -> Path:
    """members: (name, bytes) files, (name, None) dirs, (name, "->", target) symlinks,
    (name, "=>", target) hardlinks."""
    with tarfile.open(path, "w", format=fmt) as tar:
        for member in members:
            info = tarfile.TarInfo(member[0])
            info.mtime = 0
            if len(member) == 3:
                info.type = tarfile.SYMTYPE if member[1] == "->" else tarfile.LNKTYPE
                info.linkname = member[2]
                tar.addfile(info)
            elif member[1] is None:
                info.type = tarfile.DIRTYPE
                tar.addfile(info)
            else:
                info.size = len(member[1])
                tar.addfile(info, io.BytesIO(member[1]))
    return path


def pre25_archive(
    path: Path, config: bytes, layer_tars: list[bytes], repo_tags: list[str] | None
) -> Path:
    """Docker 20.10's layout: <v1id>/{VERSION,json,layer.tar}, <id>.json, a symlink for a
    diffID seen before, manifest.json, repositories."""
    image_id = hashlib.sha256(config).hexdigest()
    members: list[tuple] = [(f"{image_id}.json", config)]
    layer_paths = []
    seen: dict[str, str] = {}
    for number, data in enumerate(layer_tars):
        v1 = hashlib.sha256(f"v1-{number}".encode()).hexdigest()
        members += [(v1, None), (f"{v1}/VERSION", b"1.0"), (f"{v1}/json", b"{}")]
        diff = hashlib.sha256(data).hexdigest()
        if diff in seen:
            members.append((f"{v1}/layer.tar", "->", f"../{seen[diff]}/layer.tar"))
        else:
            members.append((f"{v1}/layer.tar", data))
            seen[diff] = v1
        layer_paths.append(f"{v1}/layer.tar")
    manifest = [{"Config": f"{image_id}.json", "RepoTags": repo_tags, "Layers": layer_paths}]
    members.append(("manifest.json", go_json(manifest) + b"\n"))
    if repo_tags:
        name, tag = repo_tags[0].rsplit(":", 1)
        members.append(("repositories", go_json({name: {tag: layer_paths[-1].split("/")[0]}})))
    return write_tar(path, members)


def test_pre25_layout_with_symlinked_repeated_layer(tmp_path: Path) -> None:
    empty = make_layer({})
    base = gnu_tar_layer(tmp_path, {"etc/hostname": b"box\n"})
    tars = [
        base,
        empty,
        make_layer({"a": b"a"}),
        empty,
    ]  # the empty layer twice, as commits make it
    config = make_config([Digest.of_bytes(t) for t in tars])
    archive = pre25_archive(tmp_path / "old.tar", config, tars, ["debian:bookworm"])
    with open_archive(archive, tmp_path) as reader:
        [loaded] = reader.images
        assert loaded.config == config and loaded.repo_tags == ["debian:bookworm"]
        assert [layer_bytes(e) for e in loaded.layers] == tars
        assert all(e.digest is None for e in loaded.layers)
    if SKOPEO:
        out = json.loads(skopeo("inspect", f"docker-archive:{archive}").stdout)
        assert out["Layers"] == [str(Digest.of_bytes(t)) for t in tars]


def test_gzip_layer_inside_manifest_archive_is_sniffed(tmp_path: Path) -> None:
    raw = make_layer({"f": b"data"})
    config = make_config([Digest.of_bytes(raw)])
    archive = pre25_archive(tmp_path / "gz.tar", config, [gzip.compress(raw)], None)
    with open_archive(archive, tmp_path) as reader:
        [loaded] = reader.images
        assert loaded.layers[0].media_type == mt.OCI_LAYER_GZIP
        assert loaded.repo_tags == []


def oci_archive(path: Path, config: bytes, layer_tars: list[bytes], index_entries: list[dict] | None = None,
                nested: bool = False) -> Path:  # fmt: skip
    """A hand-made OCI image layout archive; ``nested`` puts an arm64+amd64 index in between."""
    blobs: dict[str, bytes] = {}

    def add(data: bytes) -> dict:
        digest = Digest.of_bytes(data)
        blobs[f"blobs/sha256/{digest.hex}"] = data
        return {"digest": str(digest), "size": len(data)}

    layers = [
        {"mediaType": mt.OCI_LAYER_GZIP, **add(gzip.compress(t, mtime=0))} for t in layer_tars
    ]
    manifest = go_json({"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
                        "config": {"mediaType": mt.OCI_CONFIG, **add(config)}, "layers": layers})  # fmt: skip
    top = {"mediaType": mt.OCI_MANIFEST, **add(manifest)}
    if nested:
        arm_config = make_config([], architecture="arm64")
        arm = go_json({"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST,
                       "config": {"mediaType": mt.OCI_CONFIG, **add(arm_config)}, "layers": []})  # fmt: skip
        index = go_json({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [
            {"mediaType": mt.OCI_MANIFEST, **add(arm), "platform": {"architecture": "arm64", "os": "linux"}},
            {**top, "platform": {"architecture": "amd64", "os": "linux"}},
        ]})  # fmt: skip
        top = {"mediaType": mt.OCI_INDEX, **add(index)}
    entries = index_entries if index_entries is not None else [
        {**top, "annotations": {"org.opencontainers.image.ref.name": "registry.local/app:1.0"}},
        {**top, "annotations": {"org.opencontainers.image.ref.name": "latest"}},
    ]  # fmt: skip
    members: list[tuple] = [("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')]
    members += [("index.json", go_json({"schemaVersion": 2, "manifests": entries}))]
    members += sorted(blobs.items())
    return write_tar(path, members)


@pytest.mark.parametrize("nested", [False, True])
def test_oci_layout_archive(tmp_path: Path, nested: bool) -> None:
    tars = [make_layer({"a": b"a"}), make_layer({"b": b"b"})]
    config = make_config([Digest.of_bytes(t) for t in tars])
    archive = oci_archive(tmp_path / "oci.tar", config, tars, nested=nested)
    with open_archive(archive, tmp_path, platform=("linux", "amd64")) as reader:
        assert reader.layout == "oci"
        [loaded] = reader.images  # two index entries, one image
        assert loaded.config == config
        assert loaded.repo_tags == ["registry.local/app:1.0"]  # "latest" names no repository
        assert [gzip.decompress(layer_bytes(e)) for e in loaded.layers] == tars
        assert all(e.digest == Digest.of_bytes(layer_bytes(e)) for e in loaded.layers)
    if nested:
        with pytest.raises(InvalidArchive, match="has no image for linux/s390x"):
            open_archive(archive, tmp_path, platform=("linux", "s390x"))
    if SKOPEO and not nested:
        out = json.loads(skopeo("inspect", f"oci-archive:{archive}:latest").stdout)
        assert len(out["Layers"]) == 2


# ---------------------------------------------------------------------------
# hostile and broken archives: one clear line each


def _expect(source, tmp_path: Path, pattern: str, error: type = InvalidArchive) -> str:
    with pytest.raises(error) as caught:
        open_archive(source, tmp_path)
    message = str(caught.value)
    assert "\n" not in message
    assert __import__("re").search(pattern, message), message
    return message


def _valid_parts(tmp_path: Path) -> tuple[bytes, bytes, str]:
    layer = make_layer({"f": b"x"})
    config = make_config([Digest.of_bytes(layer)])
    return layer, config, hashlib.sha256(config).hexdigest()


def test_missing_file(tmp_path: Path) -> None:
    assert _expect(Path("/nonexistent.tar"), tmp_path, "", NotFound) == (
        "open /nonexistent.tar: no such file or directory"
    )


def test_empty_file_and_empty_stdin(tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    _expect(tmp_path / "empty", tmp_path, r"^invalid archive: the archive is empty$")
    _expect(io.BytesIO(b""), tmp_path, r"^invalid archive: the archive is empty$")
    _expect(io.BytesIO(bytes(10240)), tmp_path, r"^invalid archive: the archive is empty$")


def test_text_file(tmp_path: Path) -> None:
    (tmp_path / "notatar.txt").write_text("this is not a tar file\n")
    _expect(
        tmp_path / "notatar.txt",
        tmp_path,
        r"^Error processing tar file\(exit status 1\): unexpected EOF$",
    )


def test_random_bytes(tmp_path: Path) -> None:
    (tmp_path / "garbage.bin").write_bytes(hashlib.sha512(b"seed").digest() * 64)
    _expect(
        tmp_path / "garbage.bin",
        tmp_path,
        r"^Error processing tar file\(exit status 1\): archive/tar: invalid tar header$",
    )


def test_truncated_archive(tmp_path: Path, busybox: ArchiveImage) -> None:
    data = save(tmp_path / "out.tar", [busybox]).read_bytes()
    (tmp_path / "cut.tar").write_bytes(data[:2000])  # inside the first layer's data
    _expect(
        tmp_path / "cut.tar",
        tmp_path,
        r"^Error processing tar file\(exit status 1\): unexpected EOF$",
    )
    (tmp_path / "cut2.tar").write_bytes(data[: 1024 + 100])  # inside a header
    _expect(
        tmp_path / "cut2.tar",
        tmp_path,
        r"^Error processing tar file\(exit status 1\): unexpected EOF$",
    )


@pytest.mark.parametrize("name", ["../escape", "blobs/../../escape", "/etc/passwd"])
def test_member_paths_leaving_the_archive(tmp_path: Path, name: str) -> None:
    archive = write_tar(tmp_path / "evil.tar", [(name, b"x"), ("manifest.json", b"[]")])
    _expect(archive, tmp_path, r"^invalid archive: member .* has an unsafe path$")


def test_hardlink_leaving_the_archive(tmp_path: Path) -> None:
    archive = write_tar(tmp_path / "evil.tar", [("layer.tar", "=>", "../../etc/shadow")])
    _expect(archive, tmp_path, r"unsafe path")


def test_manifest_points_at_missing_member(tmp_path: Path) -> None:
    layer, config, image_id = _valid_parts(tmp_path)
    manifest = go_json(
        [{"Config": f"{image_id}.json", "RepoTags": None, "Layers": ["nope/layer.tar"]}]
    )
    archive = write_tar(
        tmp_path / "m.tar", [(f"{image_id}.json", config), ("manifest.json", manifest)]
    )
    _expect(
        archive,
        tmp_path,
        r"^invalid archive: manifest.json entry 0 refers to 'nope/layer.tar', which is not in the archive$",
    )


@pytest.mark.parametrize("path", ["../outside.tar", "/etc/passwd"])
def test_manifest_points_outside(tmp_path: Path, path: str) -> None:
    layer, config, image_id = _valid_parts(tmp_path)
    manifest = go_json([{"Config": f"{image_id}.json", "RepoTags": None, "Layers": [path]}])
    archive = write_tar(
        tmp_path / "m.tar", [(f"{image_id}.json", config), ("manifest.json", manifest)]
    )
    _expect(archive, tmp_path, r"which is outside the archive$")


def test_layer_symlink_pointing_outside(tmp_path: Path) -> None:
    layer, config, image_id = _valid_parts(tmp_path)
    manifest = go_json(
        [{"Config": f"{image_id}.json", "RepoTags": None, "Layers": ["l/layer.tar"]}]
    )
    for target in ("/etc/passwd", "../../etc/passwd"):
        archive = write_tar(
            tmp_path / "s.tar",
            [
                (f"{image_id}.json", config),
                ("l/layer.tar", "->", target),
                ("manifest.json", manifest),
            ],
        )
        _expect(archive, tmp_path, r"is a symlink pointing outside the archive$")


def test_symlink_loop(tmp_path: Path) -> None:
    layer, config, image_id = _valid_parts(tmp_path)
    manifest = go_json([{"Config": f"{image_id}.json", "RepoTags": None, "Layers": ["a"]}])
    archive = write_tar(
        tmp_path / "loop.tar",
        [
            (f"{image_id}.json", config),
            ("a", "->", "b"),
            ("b", "->", "a"),
            ("manifest.json", manifest),
        ],
    )
    _expect(archive, tmp_path, r"too many levels of links")


def test_manifest_json_as_a_link_is_refused(tmp_path: Path) -> None:
    layer, config, image_id = _valid_parts(tmp_path)
    manifest = go_json([{"Config": f"{image_id}.json", "RepoTags": None, "Layers": ["l.tar"]}])
    archive = write_tar(
        tmp_path / "ln.tar",
        [
            (f"{image_id}.json", config),
            ("l.tar", layer),
            ("real.json", manifest),
            ("manifest.json", "->", "real.json"),
        ],
    )
    _expect(
        archive,
        tmp_path,
        r"^invalid archive: 'manifest.json' is a symlink; a regular file is required$",
    )


def test_layer_count_differs_from_diff_ids(tmp_path: Path) -> None:
    layer, config, image_id = _valid_parts(tmp_path)
    manifest = go_json(
        [{"Config": f"{image_id}.json", "RepoTags": None, "Layers": ["l.tar", "l.tar"]}]
    )
    archive = write_tar(
        tmp_path / "n.tar",
        [(f"{image_id}.json", config), ("l.tar", layer), ("manifest.json", manifest)],
    )
    _expect(archive, tmp_path, r"^invalid manifest, layers length mismatch: expected 2, got 1$")


def test_config_does_not_match_its_name(tmp_path: Path, busybox: ArchiveImage) -> None:
    archive = save(tmp_path / "out.tar", [busybox])
    members = read_members(archive)
    image_id = hashlib.sha256(busybox.config).hexdigest()
    members[f"blobs/sha256/{image_id}"] = busybox.config.replace(b'"sh"', b'"rm"')
    forged = write_tar(tmp_path / "forged.tar", [(k, v) for k, v in members.items() if v])
    _expect(
        forged,
        tmp_path,
        rf"^invalid archive: config blobs/sha256/{image_id} does not match its digest",
    )


def test_oci_manifest_digest_and_sizes_are_checked(tmp_path: Path) -> None:
    tars = [make_layer({"a": b"a"})]
    config = make_config([Digest.of_bytes(tars[0])])
    good = oci_archive(tmp_path / "good.tar", config, tars)
    members = read_members(good)
    index = json.loads(members["index.json"])
    manifest_name = "blobs/sha256/" + index["manifests"][0]["digest"].split(":")[1]
    manifest = json.loads(members[manifest_name])

    # a manifest blob whose bytes do not match its digest
    tampered = dict(members)
    tampered[manifest_name] = members[manifest_name].replace(
        b'"schemaVersion":2', b'"schemaVersion":2 '
    )
    index_bad = json.loads(members["index.json"])
    index_bad["manifests"][0]["size"] = len(tampered[manifest_name])
    tampered["index.json"] = go_json(index_bad)
    archive = write_tar(tmp_path / "t1.tar", [(k, v) for k, v in tampered.items() if v])
    _expect(archive, tmp_path, r"^invalid archive: manifest sha256:\w+ does not match its content")

    # a manifest descriptor whose size is wrong
    index_bad = json.loads(members["index.json"])
    index_bad["manifests"][0]["size"] += 1
    archive = write_tar(
        tmp_path / "t2.tar",
        [(k, go_json(index_bad) if k == "index.json" else v) for k, v in members.items() if v],
    )
    _expect(archive, tmp_path, r"its descriptor says \d+$")

    # a layer descriptor whose size is wrong (manifest re-hashed so that it is consistent)
    manifest["layers"][0]["size"] += 7
    new_manifest = go_json(manifest)
    new_digest = Digest.of_bytes(new_manifest)
    index_bad = json.loads(members["index.json"])
    for entry in index_bad["manifests"]:
        entry["digest"], entry["size"] = str(new_digest), len(new_manifest)
    rebuilt = {k: v for k, v in members.items() if v and k != manifest_name}
    rebuilt[f"blobs/sha256/{new_digest.hex}"] = new_manifest
    rebuilt["index.json"] = go_json(index_bad)
    archive = write_tar(tmp_path / "t3.tar", list(rebuilt.items()))
    _expect(
        archive,
        tmp_path,
        r"^invalid archive: layer sha256:\w+ is \d+ bytes, its descriptor says \d+$",
    )


def test_enormous_manifest_json(tmp_path: Path) -> None:
    archive = write_tar(tmp_path / "big.tar", [("manifest.json", b"[" + b" " * (5 << 20) + b"]")])
    _expect(archive, tmp_path, r"^invalid archive: manifest.json is too large \(\d+ bytes\)$")


def test_garbage_json(tmp_path: Path) -> None:
    archive = write_tar(tmp_path / "j.tar", [("manifest.json", b"{not json")])
    _expect(archive, tmp_path, r"^invalid archive: manifest.json is not valid JSON")
    archive = write_tar(tmp_path / "j2.tar", [("manifest.json", b'{"Config": "x"}')])
    _expect(archive, tmp_path, r"^invalid archive: manifest.json must be a JSON array$")
    archive = write_tar(
        tmp_path / "j3.tar",
        [("index.json", b'{"schemaVersion": 2, "manifests": [{"mediaType": 1}]}')],
    )
    _expect(archive, tmp_path, r"index entry 0: field 'mediaType'")


def test_bad_config_and_bad_tag(tmp_path: Path) -> None:
    layer, config, image_id = _valid_parts(tmp_path)
    bad_config = b'{"rootfs": {"type": "layers", "diff_ids": ["sha256:nothex"]}}'
    bad_id = hashlib.sha256(bad_config).hexdigest()
    manifest = go_json([{"Config": f"{bad_id}.json", "RepoTags": None, "Layers": []}])
    archive = write_tar(
        tmp_path / "c.tar", [(f"{bad_id}.json", bad_config), ("manifest.json", manifest)]
    )
    _expect(archive, tmp_path, r"^image config: invalid checksum digest format")
    manifest = go_json(
        [{"Config": f"{image_id}.json", "RepoTags": ["Bad:Tag"], "Layers": ["l.tar"]}]
    )
    archive = write_tar(
        tmp_path / "t.tar",
        [(f"{image_id}.json", config), ("l.tar", layer), ("manifest.json", manifest)],
    )
    _expect(archive, tmp_path, r'^invalid archive: invalid tag "Bad:Tag": .*must be lowercase')


def test_duplicate_members_last_wins(tmp_path: Path) -> None:
    layer, config, image_id = _valid_parts(tmp_path)
    good = go_json([{"Config": f"{image_id}.json", "RepoTags": ["x:1"], "Layers": ["l.tar"]}])
    archive = write_tar(
        tmp_path / "dup.tar",
        [
            ("manifest.json", b"garbage"),
            (f"{image_id}.json", config),
            ("l.tar", layer),
            ("manifest.json", good),
        ],
    )
    with open_archive(archive, tmp_path) as reader:
        assert reader.images[0].repo_tags == ["x:1"]
    archive = write_tar(
        tmp_path / "dup2.tar",
        [
            ("manifest.json", good),
            (f"{image_id}.json", config),
            ("l.tar", layer),
            ("manifest.json", b"garbage"),
        ],
    )
    _expect(archive, tmp_path, r"^invalid archive: manifest.json is not valid JSON")


def test_flat_rootfs_and_legacy_v1_archives(tmp_path: Path) -> None:
    rootfs = write_tar(tmp_path / "rootfs.tar", [("bin", None), ("bin/sh", b"x"), ("etc", None)])
    _expect(
        rootfs,
        tmp_path,
        r"^invalid archive: no manifest.json, index.json or repositories found \(this looks like a filesystem tar: use import\)$",
    )
    v1 = write_tar(
        tmp_path / "v1.tar",
        [("repositories", b'{"a":{"b":"c"}}'), ("c/json", b"{}"), ("c/layer.tar", b"")],
    )
    _expect(v1, tmp_path, r"^invalid archive: legacy v1 archive .* is not supported$")


def test_corrupt_pax_record(tmp_path: Path) -> None:
    data = bytearray(
        write_tar(tmp_path / "p.tar", [("a" * 150, b"x")], fmt=tarfile.PAX_FORMAT).read_bytes()
    )
    # the PAX record's length field now points past its data
    data[512:515] = b"999"
    (tmp_path / "bad-pax.tar").write_bytes(bytes(data))
    _expect(
        tmp_path / "bad-pax.tar",
        tmp_path,
        r"^Error processing tar file\(exit status 1\): (archive/tar: invalid tar header|unexpected EOF)$",
    )


def _with_header_field(data: bytes, start: int, value: bytes) -> bytes:
    """``data`` with bytes of its first header replaced and the checksum made right."""
    raw = bytearray(data)
    raw[start : start + len(value)] = value
    raw[148:156] = b" " * 8
    raw[148:156] = b"%06o\0 " % sum(raw[:512])
    return bytes(raw)


def test_headers_a_layout_never_needs_are_refused(tmp_path: Path) -> None:
    long_name = "d/" * 600_000 + "f"  # a GNU long name or PAX path over 1 MiB
    for fmt in (tarfile.GNU_FORMAT, tarfile.PAX_FORMAT):
        archive = write_tar(tmp_path / "long.tar", [(long_name, b"x")], fmt=fmt)
        _expect(
            archive,
            tmp_path,
            r"^Error processing tar file\(exit status 1\): extended header too large$",
        )
    plain = write_tar(tmp_path / "p.tar", [("l.tar", b"x"), ("manifest.json", b"[]")]).read_bytes()
    gnu_sparse = _with_header_field(plain, 156, b"S")
    negative_size = _with_header_field(plain, 124, b"\xff" * 12)
    with tarfile.open(tmp_path / "pax.tar", "w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("l.tar")
        info.pax_headers = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0"}
        tar.addfile(info)
    for name, data, pattern in [
        ("gnu-sparse", gnu_sparse, r"^invalid archive: sparse tar members are not supported$"),
        ("pax-sparse", (tmp_path / "pax.tar").read_bytes(), r"^invalid archive: sparse tar"),
        ("negative-size", negative_size, r"archive/tar: invalid tar header$"),
        (
            "no-padding",
            plain[:513],
            r"^Error processing tar file\(exit status 1\): unexpected EOF$",
        ),
    ]:
        (tmp_path / f"{name}.tar").write_bytes(data)
        _expect(tmp_path / f"{name}.tar", tmp_path, pattern)


def test_oci_index_nested_too_deep_and_foreign_media_types(tmp_path: Path) -> None:
    tars = [make_layer({"a": b"a"})]
    config = make_config([Digest.of_bytes(tars[0])])
    # an index that points at itself cannot be written (digest), but a chain of indexes can
    blobs: dict[str, bytes] = {}
    inner = {"mediaType": mt.OCI_MANIFEST, "digest": "sha256:" + "0" * 64, "size": 1,
             "platform": {"architecture": "amd64", "os": "linux"}}  # fmt: skip
    for _ in range(7):
        body = go_json({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": [inner]})
        digest = Digest.of_bytes(body)
        blobs[f"blobs/sha256/{digest.hex}"] = body
        inner = {"mediaType": mt.OCI_INDEX, "digest": str(digest), "size": len(body),
                 "platform": {"architecture": "amd64", "os": "linux"}}  # fmt: skip
    index = go_json({"schemaVersion": 2, "manifests": [inner]})
    archive = write_tar(tmp_path / "deep.tar", [("index.json", index), *blobs.items()])
    with pytest.raises(InvalidArchive, match="nested too deeply"):
        open_archive(archive, tmp_path, platform=("linux", "amd64"))
    artifact = go_json(
        {
            "schemaVersion": 2,
            "manifests": [
                {"mediaType": "application/x-thing", "digest": "sha256:" + "1" * 64, "size": 3}
            ],
        }
    )
    archive = write_tar(tmp_path / "art.tar", [("index.json", artifact)])
    _expect(archive, tmp_path, r'unsupported media type "application/x-thing"$')
    del config


@needs_skopeo
def test_extracted_and_retarred_with_gnu_tar(tmp_path: Path, busybox: ArchiveImage) -> None:
    """A user extracts skopeo's archive (symlinked legacy layers) and re-tars it: ./ names."""
    archive = save(tmp_path / "out.tar", [busybox])
    other = tmp_path / "skopeo.tar"
    skopeo("copy", "-q", f"docker-archive:{archive}", f"docker-archive:{other}:re/tar:1")
    tree = tmp_path / "tree"
    tree.mkdir()
    subprocess.run(["tar", "-C", str(tree), "-xf", str(other)], check=True)
    retarred = tmp_path / "retarred.tgz"
    subprocess.run(["tar", "-C", str(tree), "-czf", str(retarred), "."], check=True)
    with open_archive(retarred, tmp_path) as reader:
        [loaded] = reader.images
        assert loaded.config == busybox.config and loaded.repo_tags == ["re/tar:1"]
        assert [Digest.of_bytes(layer_bytes(e)) for e in loaded.layers] == [
            layer.diff_id for layer in busybox.layers
        ]
