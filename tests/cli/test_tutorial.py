"""The tutorial end to end through the CLI, debian:bookworm standing in for ubuntu:14.04:
a real `run -i -t` session on a pseudo-terminal, two commits, inspect, history, Docker's
rmi rules, export/import and a run of the imported image (issue 3's must-show)."""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from dockyard.devtools.baseimages import BASE_IMAGES
from tests.clirunner import Cli
from tests.containers.support import Session, dockyard_mounts, processes_under

pytestmark = pytest.mark.skipif(
    os.geteuid() != 0 or not (shutil.which("crun") or shutil.which("runc")),
    reason="needs root and an OCI runtime",
)

BASH_PROMPT = b":/# "


def test_tutorial(tmp_path: Path, debian_tar: Path) -> None:
    root = tmp_path / "store"
    cli = Cli(root, tmp_path)
    changes = [arg for change in BASE_IMAGES["debian"]["changes"] for arg in ("--change", change)]
    base_id = cli("import", *changes, str(debian_tar), "debian:bookworm").stdout.strip()
    try:
        # run -i -t: an interactive bash on a real pseudo-terminal
        session = Session(
            root, "run", "-i", "-t", "--network", "none", "--name", "commit_test", "debian:bookworm"
        )
        session.expect(BASH_PROMPT, timeout=30)
        session.send(b"echo first_test! >> first\r")
        session.expect(BASH_PROMPT)
        session.send(b"cat first; tty\r")
        out = session.expect(BASH_PROMPT)
        assert b"first_test!" in out and b"/dev/pts/0" in out
        session.send(b"exit\r")
        assert session.wait() == 0

        assert "A /first" in cli("container", "diff", "commit_test").stdout.splitlines()
        first = cli(
            "commit",
            "-a",
            "yceffort-test",
            "-m",
            "my first commit",
            "commit_test",
            "commit_test:first",
        ).stdout.strip()
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", first)
        images = cli("images").stdout.splitlines()
        assert images[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
        assert images[1].split()[:3] == ["commit_test", "first", first[7:19]]

        cli(
            "run",
            "-i",
            "--network",
            "none",
            "--name",
            "commit_test2",
            "commit_test:first",
            "sh",
            "-c",
            "echo second_test! >> second",
        )
        assert cli("container", "diff", "commit_test2").stdout == "A /second\n"
        second = cli(
            "commit",
            "-a",
            "yceffort",
            "-m",
            "my second commit",
            "commit_test2",
            "commit_test:second",
        ).stdout.strip()

        # inspect: the child's layers are the parent's plus one
        inspected = {
            name: json.loads(cli("inspect", name).stdout)[0]
            for name in ("debian:bookworm", "commit_test:first", "commit_test:second")
        }
        base_layers = inspected["debian:bookworm"]["RootFS"]["Layers"]
        first_layers = inspected["commit_test:first"]["RootFS"]["Layers"]
        second_layers = inspected["commit_test:second"]["RootFS"]["Layers"]
        assert first_layers[:-1] == base_layers and len(first_layers) == len(base_layers) + 1
        assert second_layers[:-1] == first_layers
        assert inspected["commit_test:first"]["Parent"] == base_id
        assert inspected["commit_test:second"]["Parent"] == first
        assert inspected["commit_test:first"]["Author"] == "yceffort-test"
        assert inspected["commit_test:second"]["Comment"] == "my second commit"
        assert inspected["commit_test:second"]["Config"]["Cmd"] == [
            "sh",
            "-c",
            "echo second_test! >> second",
        ]
        assert inspected["commit_test:first"]["Size"] - inspected["debian:bookworm"]["Size"] >= 12

        history = cli(
            "history",
            "--format",
            "{{.ID}}|{{.CreatedBy}}|{{.Size}}|{{.Comment}}",
            "commit_test:second",
        ).stdout
        assert history.splitlines() == [
            f"{second[7:19]}|sh -c echo second_test! >> second|13B|my second commit",
            f"{first[7:19]}|{history.splitlines()[1].split('|')[1]}|{history.splitlines()[1].split('|')[2]}|my first commit",
            f"{base_id[7:19]}||117MB|Imported from -",
        ]
        assert cli(
            "run",
            "--rm",
            "--network",
            "none",
            "commit_test:second",
            "sh",
            "-c",
            "cat /first /second",
        ).stdout == ("first_test!\nsecond_test!\n")

        # rmi: Docker's conflict, then untag-only, then the child with four Deleted lines
        conflict = cli("rmi", "commit_test:first", check=False)
        assert conflict.returncode == 1
        assert re.fullmatch(
            r'Error: conflict: unable to remove repository reference "commit_test:first" \(must force\)'
            rf" - container [0-9a-f]{{12}} is using its referenced image {first[7:19]}\n",
            conflict.stderr,
        )
        cli("run", "--network", "none", "--name", "both", "commit_test:second", "true")
        cli("export", "-o", "both.tar", "both")
        assert cli("rm", "commit_test2", "both").stdout == "commit_test2\nboth\n"
        assert cli("rmi", "commit_test:first").stdout == "Untagged: commit_test:first\n"
        removed = cli("rmi", "commit_test:second").stdout.splitlines()
        assert removed[0] == "Untagged: commit_test:second"
        assert removed[1] == f"Deleted: {second}" and removed[3] == f"Deleted: {first}"
        assert len(removed) == 5 and all(
            line.startswith("Deleted: sha256:") for line in removed[1:]
        )

        # export / import, and the imported image still holds both files
        cli(
            "import",
            "-m",
            "imported from export",
            "--change",
            'CMD ["sh"]',
            "both.tar",
            "exported:latest",
        )
        assert cli(
            "run", "--rm", "--network", "none", "exported:latest", "cat", "/first", "/second"
        ).stdout == ("first_test!\nsecond_test!\n")
        assert cli("check").stdout == "store is consistent\n"
    finally:
        for name in os.listdir(root / "containers") if (root / "containers").is_dir() else []:
            cli("rm", "-f", name, check=False)
    assert dockyard_mounts(root) == []
    assert processes_under(root) == []
