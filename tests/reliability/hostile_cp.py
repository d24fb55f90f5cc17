"""`cp` against a container whose tree is full of symlinks pointing at the host.

Each copy either stays inside the container (and the host's files are untouched) or
is refused with one line; copying out never hands over a host file the container
only points to.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

SECRET = b"host secret, not the container's\n"


@dataclass
class CpCase:
    name: str
    args: list[str]  # {outside}, {src}, {dest} are replaced


def container_setup(outside: Path) -> str:
    """The shell script that plants the symlinks in the container."""
    return " && ".join(
        [
            "mkdir -p /dir /tree /deep/a/b",
            f"ln -s {outside}/sentinel /dir/name",
            f"ln -s {outside} /tree/sub",
            f"ln -s ../../../../../../../../..{outside} /deep/a/b/up",
            "ln -s / /abs",
            f"ln -s {outside}/secret /secretlink",
            f"ln -s {outside} /outlink",
        ]
    )


CASES: list[CpCase] = [
    CpCase("into-file-onto-absolute-symlink", ["{src}/name", "cpc:/dir"]),
    CpCase("into-file-named-as-symlink", ["{src}/name", "cpc:/dir/name"]),
    CpCase("into-tree-through-symlinked-subdir", ["{src}/tree", "cpc:/"]),
    CpCase("into-path-with-dotdot", ["{src}/name", "cpc:/../../../../..{outside}/"]),
    CpCase("into-relative-escaping-symlink", ["{src}/name", "cpc:/deep/a/b/up/"]),
    CpCase("into-through-root-symlink", ["{src}/name", "cpc:/abs{outside}/"]),
    CpCase("into-directory-symlink-target", ["{src}/name", "cpc:/outlink"]),
    CpCase("out-symlink-to-host-file", ["cpc:/secretlink", "{dest}/got"]),
    CpCase("out-follow-symlink-to-host-file", ["-L", "cpc:/secretlink", "{dest}/got"]),
    CpCase("out-path-with-dotdot", ["cpc:/../../../../..{outside}/secret", "{dest}/got"]),
    CpCase("out-through-root-symlink", ["cpc:/abs{outside}/secret", "{dest}/got"]),
    CpCase("out-directory-symlink-followed", ["-L", "cpc:/outlink", "{dest}/got"]),
]


def make_sources(src: Path) -> None:
    src.mkdir(parents=True, exist_ok=True)
    (src / "name").write_bytes(b"from the host\n")
    (src / "tree" / "sub").mkdir(parents=True, exist_ok=True)
    (src / "tree" / "sub" / "f").write_bytes(b"from the host\n")


def leaked(dest: Path) -> list[str]:
    """Files under ``dest`` holding the host's secret."""
    found = []
    for path in dest.rglob("*"):
        if path.is_file() and not path.is_symlink() and SECRET in path.read_bytes():
            found.append(str(path))
    return found
