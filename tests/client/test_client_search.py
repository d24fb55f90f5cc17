"""search: Docker's columns, truncation, filters, limit, --format, REGISTRY/TERM and the
default index from daemon.json; against our own index server and dockyard's registry."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.client.registries import (
    start_dockyard_registry,
    stop_process,
)

LONG = "The Swiss Army Knife of Embedded Linux, in one small static binary"


@pytest.fixture
def index(faulty):  # type: ignore[no-untyped-def]
    faulty.search_results = [
        {
            "name": "busybox",
            "description": LONG,
            "star_count": 3000,
            "is_official": True,
            "is_automated": False,
        },
        {
            "name": "someone/busybox",
            "description": "two\nlines",
            "star_count": 12,
            "is_official": False,
            "is_automated": True,
        },
        {
            "name": "other/busybox-tools",
            "description": "",
            "star_count": 0,
            "is_official": False,
            "is_automated": False,
        },
    ]
    return faulty


def test_search_table(cli, client_env, index):  # type: ignore[no-untyped-def]
    result = cli("search", f"{index.host}/busybox")
    assert result.stdout.splitlines() == [
        "NAME                  DESCRIPTION                                     STARS     OFFICIAL   AUTOMATED",
        "busybox               The Swiss Army Knife of Embedded Linux, in o…   3000      [OK]       ",
        "someone/busybox       two lines                                       12                   [OK]",
        "other/busybox-tools                                                   0                    ",
    ]
    assert index.search_queries == [{"q": "busybox", "n": "25"}]


def test_search_no_trunc_limit_filters_format(cli, client_env, index):  # type: ignore[no-untyped-def]
    full = cli("search", "--no-trunc", f"{index.host}/busybox").stdout
    assert LONG in full
    cli("search", "--limit", "2", f"{index.host}/busybox")
    assert index.search_queries[-1] == {"q": "busybox", "n": "2"}
    starred = cli(
        "search", "--filter", "stars=10", "--format", "{{.Name}}", f"{index.host}/busybox"
    )
    assert starred.stdout == "busybox\nsomeone/busybox\n"
    official = cli(
        "search",
        "-f",
        "is-official=true",
        "--format",
        "{{.Name}} {{.IsOfficial}}",
        f"{index.host}/busybox",
    )
    assert official.stdout == "busybox [OK]\n"
    automated = cli("search", "-f", "is-automated=true", "--format", "{{.Name}}", f"{index.host}/b")
    assert automated.stdout == "someone/busybox\n"
    bad = cli("search", "--limit", "101", f"{index.host}/busybox", check=False)
    assert bad.returncode == 1
    assert bad.stderr == "Error: limit 101 is outside the range of [1, 100]\n"
    wrong = cli("search", "-f", "color=blue", f"{index.host}/busybox", check=False)
    assert wrong.stderr == "Error: invalid filter 'color'\n"


def test_plain_term_uses_the_default_index_from_daemon_json(cli, client_env, index):  # type: ignore[no-untyped-def]
    (client_env / "daemon.json").write_text(json.dumps({"index-server": f"http://{index.host}"}))
    result = cli("search", "--format", "{{.Name}}", "busybox-tools")
    assert result.stdout == "other/busybox-tools\n"


def test_search_dockyard_registry(cli, client_env, tmp_path, busybox_tar):  # type: ignore[no-untyped-def]
    storage = tmp_path / "dockyard-registry"
    server = start_dockyard_registry(storage)
    try:
        cli("import", str(busybox_tar), "busybox:latest")
        cli("tag", "busybox", f"{server.host}/library/busybox:latest")
        cli("push", f"{server.host}/library/busybox:latest")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "dockyard.cli.main",
                "registry",
                "repo",
                "set-official",
                "library/busybox",
                "--storage",
                str(storage),
            ],
            check=True,
            capture_output=True,
        )
        result = cli("search", "--format", "{{.Name}}|{{.IsOfficial}}", f"{server.host}/busybox")
        assert "library/busybox|[OK]" in result.stdout.splitlines() or (
            "busybox|[OK]" in result.stdout.splitlines()
        )
    finally:
        stop_process(server.process)
