"""engine.containers.put_archive: the one cp rule the CLI's `cp -` and the daemon's
PUT /containers/{id}/archive share (real store, real overlay mount)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from dockyard.errors import InvalidArgument
from tests.containers.support import NEEDS_RUNTIME, dockyard_mounts

pytestmark = NEEDS_RUNTIME


def _tar(*members: tuple[str, bytes, bytes | None]) -> io.BytesIO:
    """(name, tar type, data) entries; data None for what has none."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, kind, data in members:
            info = tarfile.TarInfo(name)
            info.type = kind
            info.mode = 0o755 if kind == tarfile.DIRTYPE else 0o644
            if kind == tarfile.CHRTYPE:
                info.devmajor, info.devminor = 1, 3  # /dev/null
            info.size = len(data or b"")
            tar.addfile(info, io.BytesIO(data) if data else None)
    out.seek(0)
    return out


@pytest.fixture
def container(engine, busybox_tar: Path, store_root: Path):  # type: ignore[no-untyped-def]
    engine.images.import_(str(busybox_tar), "busybox:latest", changes=['CMD ["sh"]'])
    record = engine.containers.create("busybox", ["true"], name="target")
    yield record.name
    engine.containers.remove(record.id, force=True)
    assert dockyard_mounts(store_root) == []


def test_device_nodes_are_refused_and_nothing_is_written(engine, container) -> None:  # type: ignore[no-untyped-def]
    archive = _tar(("null", tarfile.CHRTYPE, None), ("after", tarfile.REGTYPE, b"x"))
    with pytest.raises(InvalidArgument, match="refusing to create device node null"):
        engine.containers.put_archive(container, "/tmp", archive)
    assert engine.containers.diff(container) == []


def test_a_directory_in_the_way_is_kept_unless_overwriting_is_allowed(engine, container) -> None:  # type: ignore[no-untyped-def]
    engine.containers.put_archive(container, "/tmp", _tar(("spot", tarfile.DIRTYPE, None)))
    clash = _tar(("spot", tarfile.REGTYPE, b"a file now\n"))
    with pytest.raises(InvalidArgument, match="cannot overwrite directory '/tmp/spot'"):
        engine.containers.put_archive(container, "/tmp", clash)
    assert engine.containers.stat_path(container, "/tmp/spot").mode & 0o170000 == 0o040000
    clash.seek(0)
    engine.containers.put_archive(container, "/tmp", clash, no_overwrite_dir_non_dir=False)
    out = io.BytesIO()
    engine.containers.get_archive(container, "/tmp/spot", out)
    out.seek(0)
    with tarfile.open(fileobj=out) as tar:
        member = tar.extractfile("spot")
        assert member is not None and member.read() == b"a file now\n"


def test_the_extraction_point_must_be_a_directory(engine, container) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidArgument, match="extraction point is not a directory"):
        engine.containers.put_archive(container, "/bin/sh", _tar(("x", tarfile.REGTYPE, b"x")))
