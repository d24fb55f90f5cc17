"""The `dockyard` command as a plain `pip install` leaves it (no scripts/install.sh):
the sdist carries the light entry script, the wheel built from it installs that script
(not pip's console-script wrapper, which imports re), pip compiles the bytecode, and
`dockyard images` starts from that bytecode without argparse, re or the store.

Offline: the wheel is built with the venv's setuptools (no build isolation) and
installed with --no-index --no-deps into a venv of its own."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
# What the everyday `images` must not load (see tests/test_cli_startup.py).
NOT_AT_START = {"re", "enum", "argparse", "typing", "dataclasses", "pathlib", "datetime",
                "dockyard.store", "dockyard.cli.cmd_images"}  # fmt: skip


def _build(backend_call: str, source: Path, out: Path) -> Path:
    result = subprocess.run(
        [sys.executable, "-c", f"from setuptools import build_meta as b; print(b.{backend_call}({str(out)!r}))"],
        cwd=source, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return out / result.stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def pip_installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A venv holding dockyard installed by pip from a wheel built from the sdist."""
    work = tmp_path_factory.mktemp("pip-install")
    source = work / "source"
    source.mkdir()
    shutil.copy(REPO / "pyproject.toml", source)
    shutil.copytree(REPO / "dockyard", source / "dockyard",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))  # fmt: skip
    (source / "scripts").mkdir()
    shutil.copy(REPO / "scripts" / "dockyard", source / "scripts")
    dist = work / "dist"
    sdist = _build("build_sdist", source, dist)
    with tarfile.open(sdist) as archive:
        names = archive.getnames()
        assert f"{sdist.name[: -len('.tar.gz')]}/scripts/dockyard" in names
        archive.extractall(work / "unpacked", filter="data")
    unpacked = work / "unpacked" / sdist.name[: -len(".tar.gz")]
    wheel = _build("build_wheel", unpacked, dist)
    venv = work / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
         "--quiet", "--no-deps", "--no-index", "--disable-pip-version-check", str(wheel)],
        check=True,
    )  # fmt: skip
    return venv


def test_pip_installs_the_light_entry_script(pip_installed: Path) -> None:
    script = (pip_installed / "bin" / "dockyard").read_text()
    first, _, body = script.partition("\n")
    assert first == f"#!{pip_installed / 'bin' / 'python'}"
    code = [line for line in body.splitlines() if line and not line.startswith("#")]
    assert code == ["from dockyard.cli.main import run_and_exit", "run_and_exit()"]


def test_pip_installed_images_starts_from_bytecode_and_light(
    pip_installed: Path, engine, busybox_tar, store_root
) -> None:  # type: ignore[no-untyped-def]
    engine.images.import_(str(busybox_tar), "busybox:latest")
    env = dict(os.environ, DOCKYARD_ROOT=str(store_root), PYTHONDONTWRITEBYTECODE="1",
               PYTHONVERBOSE="1", PYTHONPATH="")  # fmt: skip
    result = subprocess.run(
        [str(pip_installed / "bin" / "dockyard"), "images"],
        env=env, capture_output=True, text=True, check=True, cwd=pip_installed,
    )  # fmt: skip
    assert result.stdout.splitlines()[0].split() == [
        "REPOSITORY",
        "TAG",
        "IMAGE",
        "ID",
        "CREATED",
        "SIZE",
    ]
    assert result.stdout.splitlines()[1].split()[:2] == ["busybox", "latest"]
    site = pip_installed / "lib"
    loaded_from = [
        line.split("code object from ", 1)[1].strip("'")
        for line in result.stderr.splitlines()
        if line.startswith("# code object from ")
    ]
    ours = [path for path in loaded_from if "/dockyard/" in path]
    assert ours, result.stderr[-2000:]
    assert all(path.startswith(str(site)) for path in ours), ours  # the installed copy
    assert all(path.endswith(".pyc") for path in ours), ours  # compiled by pip
    imported = {
        line.split()[1].strip("'")
        for line in result.stderr.splitlines()
        if line.startswith("import ") and not line.startswith("import time")
    }
    assert "dockyard.cli.fast" in imported
    assert NOT_AT_START & imported == set()
