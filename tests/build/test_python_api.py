"""engine.images.build: Docker's build messages from the Python API."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from tests.containers.support import NEEDS_RUNTIME

pytestmark = NEEDS_RUNTIME


def test_build_yields_docker_messages(build_store: Path, tmp_path: Path) -> None:
    from dockyard import Engine
    from dockyard.build.builder import BuildError

    (tmp_path / "Dockerfile").write_text("FROM busybox\nRUN echo from-python\nENV A=1\n")
    with Engine(build_store) as engine:
        events = list(engine.images.build(tmp_path, tags=["api-built:1"]))
        text = "".join(e.get("stream", "") for e in events)
        assert "Step 2/3 : RUN echo from-python\n" in text and "from-python\n" in text
        ids = [e["aux"]["ID"] for e in events if "aux" in e]
        assert len(ids) == 1 and text.endswith("Successfully tagged api-built:1\n")
        assert str(engine.images.resolve("api-built:1")) == ids[0]
        raw = io.BytesIO()
        with tarfile.open(fileobj=raw, mode="w") as tar:
            data = b"FROM busybox\nRUN exit 7\n"
            info = tarfile.TarInfo("Dockerfile")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        raw.seek(0)
        with pytest.raises(BuildError) as failed:
            list(engine.images.build(raw))
        assert failed.value.code == 7
        assert str(failed.value) == "The command '/bin/sh -c exit 7' returned a non-zero code: 7"
