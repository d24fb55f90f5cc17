"""Fast paths for commands whose start-up is their whole cost: plain `images`, and
the arguments of plain `load` and `import` (parsed without argparse).

``dockyard images`` must answer faster than ``docker images`` (a Go binary plus a
daemon round trip). The general path loads argparse, the template engine, the
reference grammar and the store's record types; this one reads the two tables it
needs with sqlite3 and prints the default table itself. It takes only the plain
forms (``[--root DIR] images|image ls [-a] [-q] [--no-trunc]``) and declines
(returns None) on anything else, before printing anything: the general path then
runs as usual and prints the same output.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import Any

_FLAGS = {"-a": "all", "--all": "all", "-q": "quiet", "--quiet": "quiet", "--no-trunc": "no_trunc"}
_COMBINED = {"a": "all", "q": "quiet"}


def _split_root(argv: list[str]) -> tuple[str | None, list[str]]:
    """A leading ``--root DIR`` (or ``--root=DIR``) and the rest of the command line."""
    if argv[:1] == ["--root"] and len(argv) > 2:
        return argv[1], argv[2:]
    if argv[:1] and argv[0].startswith("--root="):
        return argv[0][len("--root=") :], argv[1:]
    return None, argv


def _options(argv: list[str]) -> tuple[str | None, dict[str, bool]] | None:
    root, argv = _split_root(argv)
    if argv[:1] == ["images"]:
        rest = argv[1:]
    elif argv[:2] in (["image", "ls"], ["image", "list"]):
        rest = argv[2:]
    else:
        return None
    flags = {"all": False, "quiet": False, "no_trunc": False}
    for arg in rest:
        if arg in _FLAGS:
            flags[_FLAGS[arg]] = True
        elif (
            len(arg) > 2
            and arg[0] == "-"
            and arg[1] != "-"
            and all(c in _COMBINED for c in arg[1:])
        ):
            for c in arg[1:]:
                flags[_COMBINED[c]] = True
        else:
            return None
    return root, flags


def _familiar_repo(name: str) -> str:
    domain, _, path = name.partition("/")
    if domain == "docker.io":
        if path.startswith("library/") and "/" not in path[8:]:
            return path[8:]
        return path
    return name


def images(argv: list[str]) -> int | None:
    """Print `images` for the plain forms; None when the general path must run."""
    parsed = _options(argv)
    if parsed is None:
        return None
    root, flags = parsed
    root = root or os.environ.get("DOCKYARD_ROOT") or "/var/lib/dockyard"
    path = os.path.join(root, "dockyard.db")
    if not os.path.isfile(path):
        return None  # the general path creates the store
    try:  # the C module alone: sqlite3's Python wrapper imports datetime for its adapters
        import _sqlite3 as sqlite3
    except ImportError:  # pragma: no cover - another Python's layout
        import sqlite3  # type: ignore[no-redef]

    try:
        db = sqlite3.connect(path, timeout=60, isolation_level=None)
        try:
            if db.execute("PRAGMA user_version").fetchone()[0] != 1:
                return None
            image_rows = db.execute(
                "SELECT id, parent, top_chain, created, size, added, last_tag_time FROM images"
            ).fetchall()
            refs = db.execute("SELECT name, image_id, kind FROM refs ORDER BY name").fetchall()
        finally:
            db.close()
    except sqlite3.Error:
        return None

    from dockyard.humanize import human_size, time_ago
    from dockyard.timeutil import parse_rfc3339_or_zero

    # image id -> (repo -> tags), (repo -> digest count)
    tags_of: dict[str, dict[str, list[str]]] = {}
    digest_repos_of: dict[str, set[str]] = {}
    for name, image_id, kind in refs:
        if kind == "tag":
            slash = name.rfind("/")
            colon = name.rfind(":")
            if colon <= slash or "@" in name:
                return None
            tags_of.setdefault(image_id, {}).setdefault(_familiar_repo(name[:colon]), []).append(
                name[colon + 1 :]
            )
        else:
            repo, at, _ = name.partition("@")
            if not at:
                return None
            digest_repos_of.setdefault(image_id, set()).add(_familiar_repo(repo))
    parents = {row[1] for row in image_rows if row[1]}
    listed = []
    for image_id, _parent, _top, created, size, _added, _ltt in image_rows:
        tags = tags_of.get(image_id, {})
        digest_repos = digest_repos_of.get(image_id, set())
        if not tags and not digest_repos and not flags["all"] and image_id in parents:
            continue  # an intermediate parent of a tagged child: shown with -a only
        listed.append((parse_rfc3339_or_zero(created), image_id, size, tags, digest_repos))
    listed.sort(key=lambda item: item[0], reverse=True)

    rows: list[tuple[str, ...]] = []
    for created, image_id, size, tags, digest_repos in listed:
        shown_id = image_id if flags["no_trunc"] else image_id.split(":", 1)[1][:12]
        if flags["quiet"]:
            count = sum(len(t) for t in tags.values()) + len(digest_repos - tags.keys())
            rows.extend([(shown_id,)] * max(count, 1))
            continue
        since = time_ago(created)
        human = human_size(size, 3)
        image_rows_out = [
            (repo, tag, shown_id, since, human)
            for repo in sorted(tags)
            for tag in sorted(tags[repo])
        ]
        image_rows_out += [
            (repo, "<none>", shown_id, since, human) for repo in sorted(digest_repos - tags.keys())
        ]
        rows.extend(image_rows_out or [("<none>", "<none>", shown_id, since, human)])

    if flags["quiet"]:
        out = "".join(row[0] + "\n" for row in rows)
    else:
        table = [("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"), *rows]
        if not all(cell.isascii() for row in table for cell in row):
            return None  # wide characters: the general tabwriter measures them
        # docker's tabwriter(minwidth 10, padding 3): every column but the last
        widths = [max(10, max(len(row[i]) for row in table) + 3) for i in range(4)]
        out = "".join(
            "".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
            + row[4]
            + "\n"
            for row in table
        )
    try:
        sys.stdout.write(out)
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    return 0


# load's and import's options: flag -> (attribute, takes a value, repeats)
_LOAD_OPTIONS = {"-i": ("input", True, False), "--input": ("input", True, False),
                 "-q": ("quiet", False, False), "--quiet": ("quiet", False, False)}  # fmt: skip
_IMPORT_OPTIONS = {"-m": ("message", True, False), "--message": ("message", True, False),
                   "-c": ("change", True, True), "--change": ("change", True, True)}  # fmt: skip

_ARCHIVE_HANDLERS = {
    "load": ("dockyard.cli.cmd_archive", "cmd_load"),
    "import": ("dockyard.cli.cmd_images", "cmd_import"),
}


def archive_command(argv: list[str]) -> Any:
    """The arguments of ``[--root DIR] load|import ...`` in their plain forms, as
    argparse gives them (the same handler), without importing argparse and building
    the parser (~3.5 ms of these commands' start-up); None for anything else (help,
    abbreviations, a value that looks like an option, a usage error): the general
    path then parses as usual."""
    root, argv = _split_root(argv)
    if argv[:1] == ["load"]:
        options, values, most = _LOAD_OPTIONS, {"input": None, "quiet": False}, 0
    elif argv[:1] == ["import"]:
        options, values, most = _IMPORT_OPTIONS, {"message": None, "change": []}, 2
    else:
        return None
    positionals: list[str] = []
    words = iter(argv[1:])
    for word in words:
        if word == "-" or not word.startswith("-"):
            positionals.append(word)
            continue
        flag, equals, value = (
            word.partition("=") if word.startswith("--") else (word[:2], "", word[2:])
        )
        known = options.get(flag)
        if known is None:
            return None
        name, takes_value, repeats = known
        if not takes_value:
            if equals or value:
                return None
            values[name] = True
            continue
        if not equals and not value:
            value = next(words, "-")
        if not value or value.startswith("-"):
            return None  # argparse's rules for such values are its own
        if repeats:
            values[name].append(value)
        else:
            values[name] = value
    if len(positionals) > most or (most and not positionals):
        return None
    import importlib
    from types import SimpleNamespace

    if argv[0] == "import":
        values["file"] = positionals[0]
        values["reference"] = positionals[1] if len(positionals) > 1 else None
    # by name, as main.py loads command modules (they import main: no import cycle)
    module, name = _ARCHIVE_HANDLERS[argv[0]]
    handler = getattr(importlib.import_module(module), name)
    return SimpleNamespace(root=root, command=argv[0], **values, handler=handler)
