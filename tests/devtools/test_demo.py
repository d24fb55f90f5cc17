"""The README's main job walks the whole tutorial; every step must behave as expected."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not (shutil.which("crun") or shutil.which("runc")),
    reason="needs root and an OCI runtime",
)


def test_main_job_walks_the_tutorial(debian_tar, busybox_tar) -> None:  # type: ignore[no-untyped-def]
    result = subprocess.run(
        [sys.executable, "-m", "dockyard.devtools.demo"],
        capture_output=True,
        text=True,
        timeout=1200,
    )
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-2000:]
    assert out.rstrip().endswith("all steps behaved as expected")
    for expected in (
        "$ dockyard commit -a 'yceffort-test' -m 'my first commit' commit_test commit_test:first",
        "Untagged: commit_test:first",
        "first_test!\nsecond_test!",
        "Loaded image: busybox:latest",
        "NAME      DESCRIPTION           STARS     OFFICIAL   AUTOMATED",
        "busybox   Busybox base image.   0         [OK]",
        "Status: Downloaded newer image for",
        "shared!",
        "Step 3/3 : RUN echo second_test! >> second\n ---> Using cache",
        "Successfully tagged commit_test:built",
        "/bin/sh -c echo second_test! >> second",
        "automated build of yceffort/commit_test: success",
        "yceffort/commit_test   The tutorial image, from its Dockerfile.   0                    [OK]",
        'build-status">success',
    ):
        assert expected in out, expected
    assert out.count("Deleted: sha256:") >= 4
