"""`images`, `history`, `inspect` and `tag` output and filters, as Docker prints them."""

from __future__ import annotations

import json
import os
import pty
import re
import sys
import time

import pytest

from tests.cli.imagefactory import child_image


@pytest.fixture
def images(engine, busybox_tar):  # type: ignore[no-untyped-def]
    base = engine.images.import_(str(busybox_tar), "busybox:latest", changes=['CMD ["sh"]'])
    time.sleep(1.1)
    labelled = engine.images.import_(
        str(busybox_tar), "labelled:1", changes=["LABEL tier=web", "LABEL env=prod"]
    )
    time.sleep(1.1)
    child = child_image(engine, "busybox", {"first": b"first_test!\n"}, "commit_test:first", "c1")
    return base, labelled, child


def column(text: str, index: int) -> list[str]:
    return [line.split()[index] for line in text.splitlines()[1:]]


def test_table_quiet_and_notrunc(cli, images) -> None:  # type: ignore[no-untyped-def]
    base, labelled, child = images
    out = cli("images").stdout
    assert out.splitlines()[0].startswith("REPOSITORY    TAG       IMAGE ID       CREATED   ")
    assert column(out, 0) == ["commit_test", "labelled", "busybox"]  # newest first
    assert column(out, 2) == [child.short, labelled.short, base.short]
    assert cli("images", "-q").stdout.split() == [child.short, labelled.short, base.short]
    assert cli("images", "-q", "--no-trunc").stdout.split() == [
        str(child),
        str(labelled),
        str(base),
    ]
    assert cli("images", "commit_test").stdout.count("\n") == 2
    digests = cli("images", "--digests").stdout.splitlines()
    assert digests[0].split()[:4] == ["REPOSITORY", "TAG", "DIGEST", "IMAGE"]
    assert all(line.split()[2] == "<none>" for line in digests[1:])


def test_filters(cli, images) -> None:  # type: ignore[no-untyped-def]
    base, labelled, child = images
    assert cli("images", "-q", "-f", "label=tier=web").stdout.split() == [labelled.short]
    assert cli("images", "-q", "-f", "label=tier").stdout.split() == [labelled.short]
    assert cli("images", "-q", "-f", "before=labelled:1").stdout.split() == [base.short]
    assert cli("images", "-q", "-f", "since=labelled:1").stdout.split() == [child.short]
    assert cli("images", "-q", "-f", "reference=comm*").stdout.split() == [child.short]
    assert cli("images", "-q", "-f", "dangling=true").stdout == ""
    bad = cli("images", "-f", "nosuch=1", check=False)
    assert bad.returncode == 1 and bad.stderr == "Error: invalid filter 'nosuch'\n"


def test_formats(cli, images) -> None:  # type: ignore[no-untyped-def]
    base, _labelled, child = images
    assert cli("images", "--format", "{{.Repository}}:{{.Tag}}").stdout.splitlines() == [
        "commit_test:first",
        "labelled:1",
        "busybox:latest",
    ]
    rows = [json.loads(line) for line in cli("images", "--format", "json").stdout.splitlines()]
    assert sorted(rows[0]) == [
        "Containers",
        "CreatedAt",
        "CreatedSince",
        "Digest",
        "ID",
        "Repository",
        "SharedSize",
        "Size",
        "Tag",
        "UniqueSize",
        "VirtualSize",
    ]
    assert rows[2]["Size"] == "1.99MB" and rows[2]["Digest"] == "<none>"
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d \+0000 UTC", rows[0]["CreatedAt"])
    table = cli("images", "--format", "table {{.ID}}\t{{.Repository}}").stdout.splitlines()
    assert table[0] == "IMAGE ID       REPOSITORY"
    history = cli("history", "commit_test:first").stdout.splitlines()
    assert history[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert history[1].split()[0] == child.short and history[1].endswith("c1")
    exact = cli("history", "-H=false", "commit_test:first").stdout.splitlines()
    assert "CREATED AT" in exact[0] and exact[1].split()[-2] == "12"
    assert cli("history", "-q", "commit_test:first").stdout.split() == [child.short, base.short]
    inspect = json.loads(cli("inspect", "busybox").stdout)[0]
    assert list(inspect)[:5] == ["Id", "RepoTags", "RepoDigests", "Parent", "Comment"]
    assert inspect["Config"]["Cmd"] == ["sh"] and inspect["Size"] == inspect["VirtualSize"]
    assert inspect["Metadata"]["LastTagTime"].endswith("Z")


def test_tag_errors(cli, images) -> None:  # type: ignore[no-untyped-def]
    cases = {
        ("x", "UPPER:case"): 'Error parsing reference: "UPPER:case" is not a valid repository/tag:'
        " invalid reference format: repository name (library/UPPER) must be lowercase\n",
        ("busybox:latest", "bb:bad tag"): 'Error parsing reference: "bb:bad tag" is not a valid'
        " repository/tag: invalid reference format\n",
        ("nosuchimage:latest", "foo:bar"): "Error: No such image: nosuchimage:latest\n",
    }
    for (source, target), message in cases.items():
        result = cli("tag", source, target, check=False)
        assert (result.returncode, result.stderr) == (1, message)
    cli("tag", "busybox", "commit_test:first")  # moves a tag silently
    assert cli("inspect", "-f", "{{.Id}}", "commit_test:first").stdout.strip() == str(images[0])


def test_load_draws_progress_bars_on_a_terminal(cli, tmp_path, images) -> None:  # type: ignore[no-untyped-def]
    archive = tmp_path / "bb.tar"
    cli("save", "-o", str(archive), "busybox")
    cli("rmi", "-f", "busybox", "labelled:1", "commit_test:first")
    pid, fd = pty.fork()
    if pid == 0:
        os.environ["DOCKYARD_ROOT"] = str(cli.root)
        os.execv(
            sys.executable, [sys.executable, "-m", "dockyard.cli.main", "load", "-i", str(archive)]
        )
    output = b""
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        output += chunk
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    text = output.decode()
    assert re.search(
        r"\x1b\[1A\x1b\[2K\r[0-9a-f]{12}: Loading layer \[=+>\]\s+2\.\d+MB/2\.\d+MB", text
    )
    assert text.rstrip().endswith("Loaded image: busybox:latest")


def test_reference_filter_lists_only_matching_names(cli, images) -> None:  # type: ignore[no-untyped-def]
    cli("tag", "busybox:latest", "mybusybox:v1")
    rows = cli("images", "--format", "{{.Repository}}:{{.Tag}}", "busybox").stdout.splitlines()
    assert rows == ["busybox:latest"]
    rows = cli("images", "--format", "{{.Repository}}:{{.Tag}}", "-f", "reference=*busybox").stdout
    assert rows.splitlines() == ["busybox:latest", "mybusybox:v1"]
