"""CLI start-up: only the module of the command named is loaded, and the `images`
fast path prints exactly what the general path prints."""

from __future__ import annotations

import argparse
import io
import subprocess
import sys
import time
import types
from contextlib import redirect_stdout

import pytest

from dockyard import reference
from dockyard.cli import fast
from dockyard.cli.main import COMMAND_MODULE, build_parser
from tests.cli.imagefactory import child_image


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def test_every_command_loads_from_its_own_module(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    full = _subcommands(build_parser())
    assert set(full) <= set(COMMAND_MODULE), "add new commands to COMMAND_MODULE"
    for name, parser in full.items():
        alone = _subcommands(build_parser(name))
        assert alone[name].format_help() == parser.format_help(), name
    # a command that the module the map names lacks: the full parser answers
    monkeypatch.setitem(COMMAND_MODULE, "images", "dockyard.cli.cmd_archive")
    assert "images" in _subcommands(build_parser("images"))


def _general(store_root, argv: list[str]) -> str:  # type: ignore[no-untyped-def]
    args = build_parser(argv[0]).parse_args(["--root", str(store_root), *argv])
    out = io.StringIO()
    with redirect_stdout(out):
        assert args.handler(args) == 0
    return out.getvalue()


def _fast(store_root, argv: list[str]) -> str | None:  # type: ignore[no-untyped-def]
    out = io.StringIO()
    with redirect_stdout(out):
        code = fast.images(["--root", str(store_root), *argv])
    return None if code is None else out.getvalue()


FORMS = [
    ["images"],
    ["images", "-a"],
    ["images", "-q"],
    ["images", "-aq"],
    ["images", "--no-trunc"],
    ["images", "-q", "--no-trunc", "--all"],
    ["image", "ls"],
    ["image", "list", "-a"],
]


@pytest.fixture
def varied_store(engine, busybox_tar, store_root):  # type: ignore[no-untyped-def]
    base = engine.images.import_(str(busybox_tar), "busybox:latest", changes=['CMD ["sh"]'])
    engine.store.set_tag(reference.parse("busybox:1.36"), base)
    engine.store.set_tag(reference.parse("registry.example:5000/team/busybox:v1"), base)
    engine.store.set_tag(reference.parse("someone/busybox:latest"), base)
    time.sleep(1.1)
    # an untagged parent (shown with -a only) under a tagged child
    middle = child_image(engine, "busybox", {"a": b"a\n"}, "middle:1")
    child_image(engine, "middle:1", {"b": b"b\n"}, "top:1")
    engine.store.db.execute("DELETE FROM refs WHERE image_id = ?", (str(middle),))
    # a dangling image and an image known only by digest
    child_image(engine, "busybox", {"c": b"c\n"})
    by_digest = child_image(engine, "busybox", {"d": b"d\n"})
    digest = "sha256:" + "ab" * 32
    engine.store.set_tag(reference.parse(f"docker.io/library/pulled@{digest}"), by_digest)
    engine.store.set_tag(reference.parse(f"example.com/x/pulled@{digest}"), by_digest)
    return store_root


@pytest.mark.parametrize("argv", FORMS, ids=" ".join)
def test_fast_images_prints_what_the_general_path_prints(varied_store, argv, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # one clock for both paths: under load a second could pass between them
    # ("1 second ago" against "2 seconds ago" in CREATED)
    now = time.time()
    monkeypatch.setattr("dockyard.humanize.time", types.SimpleNamespace(time=lambda: now))
    fast_out = _fast(varied_store, argv)
    assert fast_out is not None
    assert fast_out == _general(varied_store, argv)


def test_fast_path_declines_what_it_does_not_handle(varied_store) -> None:  # type: ignore[no-untyped-def]
    for argv in (["images", "busybox"], ["images", "--digests"], ["images", "-f", "dangling=true"],
                 ["images", "--format", "{{.ID}}"], ["images", "-x"], ["ps"], ["image", "rm", "x"]):  # fmt: skip
        assert _fast(varied_store, argv) is None, argv
    assert fast.images(["--root", str(varied_store / "nothing-here"), "images"]) is None


def test_images_starts_without_argparse_or_the_store(varied_store) -> None:  # type: ignore[no-untyped-def]
    code = (
        "import sys; from dockyard.cli.main import main; main(['--root', sys.argv[1], 'images']);"
        "bad = {'argparse', 'dataclasses', 'typing', 're', 'pathlib', 'dockyard.store', 'datetime'} & set(sys.modules);"
        "print(sorted(bad), file=sys.stderr)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(varied_store)], capture_output=True, text=True, check=True
    )
    assert result.stderr.strip() == "[]"
    assert result.stdout.startswith("REPOSITORY")


# Modules the everyday commands must not load at start-up (each costs milliseconds of
# every command: dataclasses pulls in inspect, ast, dis and tokenize; secrets and
# tempfile pull in random; shutil pulls in bz2 and lzma; hashlib loads OpenSSL).
HEAVY = {
    "dataclasses", "inspect", "typing", "secrets", "random", "tempfile", "shutil", "platform",
    "subprocess", "ctypes", "traceback", "shlex", "bz2", "lzma", "resource", "termios",
}  # fmt: skip


def _loaded_after(code: str, *argv: str) -> set[str]:
    probe = f"import sys\n{code}\nprint(' '.join(sorted(sys.modules)), file=sys.stderr)"
    result = subprocess.run(
        [sys.executable, "-c", probe, *argv], capture_output=True, text=True, check=True
    )
    return set(result.stderr.split())


def test_run_path_imports_stay_light() -> None:
    """What `run`, `create`, `start` and `rm` load before they fork the monitor
    (no container runtime needed: the modules and the parser, not a container)."""
    loaded = _loaded_after(
        "from dockyard.cli.main import build_parser\n"
        "args = build_parser('run').parse_args(['run', '--rm', 'busybox', 'true'])\n"
        "import dockyard.engine, dockyard.engine.containers\n"
        "import dockyard.containers.lifecycle, dockyard.containers.create\n"
        "import dockyard.imageops.resolve, dockyard.runtime.ocirt"
    )
    assert HEAVY & loaded == set()
    assert "hashlib" not in loaded


@pytest.mark.parametrize(
    "argv",
    [["history", "busybox"], ["inspect", "busybox"], ["tag", "busybox", "light:1"], ["ps", "-a"],
     ["rmi", "light:2"], ["images", "--digests"]],
    ids=" ".join,
)  # fmt: skip
def test_everyday_commands_start_light(engine, busybox_tar, store_root, argv) -> None:  # type: ignore[no-untyped-def]
    image = engine.images.import_(str(busybox_tar), "busybox:latest")
    engine.store.set_tag(reference.parse("light:2"), image)
    loaded = _loaded_after(
        "from dockyard.cli.main import main\nmain(['--root', sys.argv[1], *sys.argv[2:]])",
        str(store_root),
        *argv,
    )
    assert HEAVY & loaded == set()
    assert "dockyard.cli.cmd_archive" not in loaded


def test_build_loads_the_url_downloader_only_for_add_urls() -> None:
    """A (cached) build imports no HTTP client: urllib.request, http.client and email
    cost ~18 ms of every build and only ADD <url> needs them."""
    loaded = _loaded_after(
        "from dockyard.cli.main import build_parser\n"
        "build_parser('build').parse_args(['build', '-t', 'x', '.'])\n"
        "import dockyard.cli.cmd_build, dockyard.build.builder, dockyard.engine.images"
    )
    assert "dockyard.build.builder" in loaded
    assert {
        "urllib.request",
        "http.client",
        "email.utils",
        "dockyard.build.remote",
    } & loaded == set()


def test_load_import_and_save_run_without_asyncio(
    engine, busybox_tar, store_root, tmp_path
) -> None:  # type: ignore[no-untyped-def]
    """Between the store and files the copy needs no event loop: these verbs never
    import asyncio (with ssl, concurrent.futures and logging: ~40 ms of start-up), nor
    platform (the host's architecture is os.uname's); load and import not argparse."""
    archive = tmp_path / "busybox.tar"
    run = "from dockyard.cli.main import main\nassert main(['--root', sys.argv[1], *sys.argv[2:]]) == 0"
    for argv in (
        ["import", str(busybox_tar), "busybox:latest"],
        ["save", "-o", str(archive), "busybox:latest"],
        ["rmi", "busybox:latest"],
        ["load", "-i", str(archive)],
    ):
        loaded = _loaded_after(run, str(store_root), *argv)
        unwanted = {"asyncio", "ssl", "concurrent.futures", "logging", "platform"}
        if argv[0] in ("load", "import"):
            unwanted.add("argparse")  # fast.archive_command parses these forms
        assert unwanted & loaded == set(), argv
    assert engine.store.lookup_ref(reference.parse("busybox:latest")) is not None


ARCHIVE_FORMS = [
    ["load"],
    ["load", "-i", "a.tar"],
    ["load", "--input", "a.tar", "-q"],
    ["load", "--input=a.tar", "--quiet"],
    ["load", "-ia.tar", "-i", "b.tar"],
    ["--root", "/somewhere", "load", "-q"],
    ["--root=/somewhere", "load", "-i", "x y.tar"],
    ["import", "rootfs.tar"],
    ["import", "-", "name:tag"],
    ["import", "http://example.com/rootfs.tar", "example.com/x/y:1"],
    ["import", "-m", "a message", "rootfs.tar", "r"],
    ["import", "--message=m", "-c", 'CMD ["sh"]', "--change", "ENV A=1", "-cUSER x", "f.tar"],
    ["import", "f.tar", "r:1", "--change=WORKDIR /w", "--message", "m"],
]
DECLINED_FORMS = [
    ["load", "--help"],
    ["load", "-x"],
    ["load", "--in", "a.tar"],
    ["load", "-i"],
    ["load", "-i", "-"],
    ["load", "-qi", "a.tar"],
    ["load", "--quiet=yes"],
    ["load", "extra"],
    ["load", "--", "a.tar"],
    ["import"],
    ["import", "a", "b", "c"],
    ["import", "-m", "-x", "f.tar"],
    ["import", "-h"],
    ["image", "import", "f.tar"],
    ["images"],
]


@pytest.mark.parametrize("argv", ARCHIVE_FORMS, ids=" ".join)
def test_load_and_import_arguments_without_argparse_are_argparses(argv) -> None:  # type: ignore[no-untyped-def]
    words = [word for word in argv if not word.startswith("--root")]
    command = next(word for word in words if word in ("load", "import"))
    expected = build_parser(command).parse_args(argv)
    parsed = fast.archive_command(argv)
    assert parsed is not None
    assert vars(parsed) == vars(expected)


@pytest.mark.parametrize("argv", DECLINED_FORMS, ids=" ".join)
def test_archive_fast_arguments_decline_the_rest(argv) -> None:  # type: ignore[no-untyped-def]
    assert fast.archive_command(argv) is None
