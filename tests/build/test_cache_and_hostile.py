"""The build cache (an unchanged rebuild makes nothing, a change rebuilds from the step
that depends on it) and hostile contexts (refused or confined, nothing written outside,
the store unchanged)."""

from __future__ import annotations

import io
import os
import tarfile
from pathlib import Path

from tests.containers.support import NEEDS_RUNTIME

pytestmark = NEEDS_RUNTIME

DOCKERFILE = """FROM busybox
COPY a.txt /a.txt
RUN cat /a.txt > /copy-of-a
COPY b.txt /b.txt
ENV DONE=1
"""


def _images(dy) -> set[str]:  # type: ignore[no-untyped-def]
    return set(dy("images", "-a", "-q", "--no-trunc").stdout.split())


def _containers(dy) -> set[str]:  # type: ignore[no-untyped-def]
    return set(os.listdir(dy.root / "containers"))


def _steps(output: str) -> list[str]:
    """'cache' or 'built' per step after FROM."""
    kinds = []
    for block in output.split("Step ")[2:]:
        kinds.append("cache" if " ---> Using cache" in block else "built")
    return kinds


def test_unchanged_rebuild_makes_nothing_and_a_change_rebuilds_from_its_step(
    dy, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    (context / "a.txt").write_text("a\n")
    (context / "b.txt").write_text("b\n")
    first = dy("build", "-t", "cache-test", str(context))
    assert _steps(first.stdout) == ["built"] * 4
    images, containers = _images(dy), _containers(dy)
    again = dy("build", "-t", "cache-test", str(context))
    assert _steps(again.stdout) == ["cache"] * 4
    assert _images(dy) == images and _containers(dy) == containers
    assert again.stdout.split()[-4] == first.stdout.split()[-4]  # same image ID
    (context / "b.txt").write_text("b changed\n")
    os.utime(context / "a.txt", (1, 1))  # mtimes are not part of the key
    assert _steps(dy("build", str(context)).stdout) == ["cache", "cache", "built", "built"]
    (context / "a.txt").write_text("a changed\n")
    assert _steps(dy("build", str(context)).stdout) == ["built"] * 4
    assert _steps(dy("build", "--no-cache", str(context)).stdout) == ["built"] * 4


def _refused(dy, context: Path, *extra: str, stdin: bytes | None = None) -> str:  # type: ignore[no-untyped-def]
    images, containers = _images(dy), _containers(dy)
    result = dy("build", *extra, "-" if stdin is not None else str(context), stdin=stdin,
                check=False)  # fmt: skip
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert _images(dy) == images and _containers(dy) == containers
    return result.stderr


def test_copy_outside_the_context_is_refused(dy, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "secret").write_text("outside\n")
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nCOPY ../secret /x\n")
    assert "forbidden path outside the build context" in _refused(dy, context)


def test_symlinks_pointing_outside_stay_inside_the_context(dy, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "secret").write_text("outside\n")
    context = tmp_path / "ctx"
    context.mkdir()
    os.symlink(str(tmp_path / "secret"), context / "abs-link")
    os.symlink("../secret", context / "rel-link")
    for link in ("abs-link", "rel-link"):
        (context / "Dockerfile").write_text(f"FROM busybox\nCOPY {link} /x\n")
        assert "file not found in build context" in _refused(dy, context)


def test_an_absolute_source_is_relative_to_the_context(dy, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "a.txt").write_text("in the context\n")
    (context / "Dockerfile").write_text("FROM busybox\nCOPY /a.txt /etc/passwd.d/\n")
    dy("build", "-t", "abs-source", str(context))
    out = dy("run", "--rm", "abs-source", "cat", "/etc/passwd.d/a.txt").stdout
    assert out == "in the context\n"


def _tar(entries: list[tuple[str, bytes]]) -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in entries:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return raw.getvalue()


def test_an_escaping_add_archive_writes_nothing_outside(dy, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "evil.tar").write_bytes(_tar([("../../../../../../tmp/dockyard-build-evil", b"x")]))
    (context / "Dockerfile").write_text("FROM busybox\nADD evil.tar /x/\n")
    _refused(dy, context)
    assert not Path("/tmp/dockyard-build-evil").exists()


def test_an_escaping_context_tar_is_refused(dy, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    stream = _tar([("Dockerfile", b"FROM busybox\n"), ("../../dockyard-build-escape", b"x")])
    assert "outside the context" in _refused(dy, tmp_path, stdin=stream)
    assert not (tmp_path.parent.parent / "dockyard-build-escape").exists()


def test_a_huge_context_stream_is_refused(dy, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    info = tarfile.TarInfo("huge")
    info.size = 1 << 40  # a terabyte announced; the stream ends long before
    header = info.tobuf()
    stream = _tar([("Dockerfile", b"FROM busybox\n")])[:1024] + header + b"\0" * (1 << 20)
    assert "larger than the limit" in _refused(dy, tmp_path, stdin=stream)


def test_dockerignore_hides_files_and_cannot_reach_outside(dy, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "outside").write_text("x\n")
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "secret").write_text("s\n")
    (context / ".dockerignore").write_text("secret\n!../outside\n/../../x\n")
    (context / "Dockerfile").write_text("FROM busybox\nCOPY secret /s\n")
    assert "excluded by .dockerignore" in _refused(dy, context)
    (context / "Dockerfile").write_text("FROM busybox\nCOPY . /ctx/\n")
    dy("build", "-t", "ignore-test", str(context))
    listing = dy("run", "--rm", "ignore-test", "ls", "-a", "/ctx").stdout.split()
    assert sorted(listing) == [".", "..", ".dockerignore", "Dockerfile"]


def test_a_dockerfile_on_stdin_and_a_tar_on_stdin(dy, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = dy("build", "-q", "-", stdin=b"FROM busybox\nENV FROM_STDIN=1\n").stdout.strip()
    assert out.startswith("sha256:")
    stream = _tar([("Dockerfile", b"FROM busybox\nCOPY f /f\n"), ("f", b"from the tar\n")])
    dy("build", "-t", "tar-context", "-", stdin=stream)
    assert dy("run", "--rm", "tar-context", "cat", "/f").stdout == "from the tar\n"


def test_builder_prune_removes_what_a_changed_rebuild_left(dy, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text("FROM busybox\nCOPY f /f\nRUN cat /f > /g\n")
    (context / "f").write_text("one\n")
    first = dy("build", "-q", "-t", "prune-test", str(context)).stdout.strip()
    (context / "f").write_text("two\n")
    dy("build", "-q", "-t", "prune-test", str(context))
    out = dy("builder", "prune", "-f").stdout
    assert out.startswith("Deleted build cache objects:\n")
    assert first.removeprefix("sha256:") in out
    assert out.rstrip().splitlines()[-1].startswith("Total reclaimed space: ")
    assert first not in _images(dy)


def test_a_symlink_in_the_image_cannot_send_copy_outside(dy, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "f").write_text("stays inside\n")
    (context / "Dockerfile").write_text(
        "FROM busybox\nRUN ln -s ../../../../../../../tmp /up && ln -s /tmp /abs\n"
        "COPY f /up/dockyard-build-dest-escape\nCOPY f /abs/dockyard-build-dest-escape2\n"
    )
    dy("build", "-t", "dest-escape", str(context))
    assert not Path("/tmp/dockyard-build-dest-escape").exists()
    assert not Path("/tmp/dockyard-build-dest-escape2").exists()
    out = dy("run", "--rm", "dest-escape", "cat", "/tmp/dockyard-build-dest-escape",
             "/tmp/dockyard-build-dest-escape2").stdout  # fmt: skip
    assert out == "stays inside\n" * 2
