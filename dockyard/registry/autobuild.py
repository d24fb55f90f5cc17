"""Automated builds: a repository whose images the registry builds from their source.

An administrator marks a repository automated with a source (a directory or a context
tar, a Dockerfile path inside it, the tag to build, the network of RUN steps: none by
default). `dockyard registry build REPO` (or the repository's owner through the trigger
endpoint or the web page) runs dockyard's builder on that source in a build store of
the registry's own (its storage directory's `autobuild/`), with the FROM images pulled
from this registry, and pushes the result into the repository over the registry's own
HTTP API. The build's status and log are kept with the repository; `/v1/search` reports
the repository as automated.

Schema: one table of its own (`automated_builds`, migration 4). The builds' own store
(base images, intermediate images) is a local directory: `autobuild/` in a local
storage directory, or DOCKYARD_REGISTRY_BUILD_ROOT.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass

from dockyard import Engine, reference
from dockyard.build import context as contexts
from dockyard.build.builder import BuildOptions, build, split_stages
from dockyard.build.parser import parse
from dockyard.errors import DockyardError, InvalidArgument
from dockyard.registry.accounts import Accounts
from dockyard.registry.metadata import Metadata

BUILD_ACCOUNT = "autobuild"
MAX_LOG = 256 * 1024


@dataclass
class AutomatedBuild:
    repo: str
    source: str
    dockerfile: str
    tag: str
    network: str
    status: str
    log: str
    started: float | None
    finished: float | None
    image: str


def work_root(storage: str) -> str:
    """Where builds keep their store and the build account's password."""
    explicit = os.environ.get("DOCKYARD_REGISTRY_BUILD_ROOT")
    if explicit:
        return explicit
    if "://" in storage:
        raise InvalidArgument(
            "automated builds need a local directory: set DOCKYARD_REGISTRY_BUILD_ROOT"
        )
    return os.path.join(storage, "autobuild")


def set_automated(
    meta: Metadata, repo: str, source: str, dockerfile: str = "Dockerfile",
    tag: str = "latest", network: str = "none",
) -> None:  # fmt: skip
    if network not in ("none", "host"):
        raise ValueError(f"network {network}: automated builds use none or host")
    with meta.write() as db:
        db.execute(
            "INSERT INTO automated_builds (repo, source, dockerfile, tag, network)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (repo) DO UPDATE SET source = excluded.source,"
            " dockerfile = excluded.dockerfile, tag = excluded.tag, network = excluded.network",
            (repo, source, dockerfile, tag, network),
        )
        db.execute(
            "INSERT INTO repositories (name, created) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
            (repo, time.time()),
        )


def unset_automated(meta: Metadata, repo: str) -> bool:
    with meta.write() as db:
        return db.execute("DELETE FROM automated_builds WHERE repo = ?", (repo,)).rowcount > 0


def get(meta: Metadata, repo: str) -> AutomatedBuild | None:
    row = meta.one(
        "SELECT repo, source, dockerfile, tag, network, status, log, started, finished, image"
        " FROM automated_builds WHERE repo = ?",
        repo,
    )
    return AutomatedBuild(*row) if row else None


def automated_names(meta: Metadata) -> set[str]:
    return {row[0] for row in meta.all("SELECT repo FROM automated_builds")}


def set_status_queued(meta: Metadata, repo: str) -> None:
    _record(meta, repo, status="building", started=time.time(), finished=None)


def _record(meta: Metadata, repo: str, **values: object) -> None:
    columns = ", ".join(f"{key} = ?" for key in values)
    with meta.write() as db:
        db.execute(
            f"UPDATE automated_builds SET {columns} WHERE repo = ?", (*values.values(), repo)
        )


# ---------------------------------------------------------------- running a build


def _credentials(meta: Metadata, root: str, repo: str) -> dict | None:
    """The build's own account (only when the registry has accounts: creating one would
    close an open registry), allowed to pull and push the repository."""

    accounts = Accounts(meta)
    if not accounts.has_users():
        return None
    path = os.path.join(root, "credentials")
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    if accounts.get(BUILD_ACCOUNT) is None or not os.path.exists(path):
        password = secrets.token_urlsafe(24)
        if accounts.get(BUILD_ACCOUNT) is None:
            accounts.add(BUILD_ACCOUNT, password)
        else:
            accounts.set_password(BUILD_ACCOUNT, password)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(password)
    with open(path) as source:
        password = source.read().strip()
    if "push" not in accounts.granted(repo, BUILD_ACCOUNT):
        accounts.grant(repo, BUILD_ACCOUNT, ["pull", "push"])
    return {"username": BUILD_ACCOUNT, "password": password}


def _bases(text: str) -> list[str]:
    """The images the Dockerfile's stages start from (not scratch, not earlier stages)."""

    _, stages = split_stages(parse(text))
    names: set[str] = set()
    bases = []
    for stage in stages:
        base = stage.base
        if base.lower() not in names and base != "scratch" and "$" not in base:
            bases.append(base)
        if stage.name:
            names.add(stage.name)
    return bases


def run_build(meta: Metadata, storage: str, repo: str, registry: str, log=print) -> AutomatedBuild:  # type: ignore[no-untyped-def]
    """Build the repository's source and push it to ``registry`` (HOST:PORT of this
    registry); the status and log are recorded whatever happens."""

    entry = get(meta, repo)
    if entry is None:
        raise DockyardError(f"{repo} is not an automated repository")
    _record(meta, repo, status="building", log="", started=time.time(), finished=None)
    lines: list[str] = []

    def note(text: str) -> None:
        lines.append(text)
        log(text.rstrip("\n"))

    status, image = "failed", ""
    root = work_root(storage)
    engine = Engine(os.path.join(root, "store"))
    try:
        auth = _credentials(meta, root, repo)
        if os.path.isdir(entry.source):
            path = os.path.join(entry.source, entry.dockerfile)
            context = contexts.from_directory(entry.source, path, None, str(engine.store.tmp))
        else:
            with open(entry.source, "rb") as stream:
                context = contexts.from_tar(stream, entry.dockerfile, str(engine.store.tmp))
        with context:
            for base in _bases(context.dockerfile):
                ref = reference.parse(base).with_default_tag()
                here = f"{registry}/{ref.path}:{ref.tag}"
                note(f"pulling {base} from {here}\n")
                engine.images.pull(here, auth=auth)
                engine.images.tag(here, base)
            target = f"{registry}/{repo}:{entry.tag}"
            options = BuildOptions(tags=[target], network=entry.network)
            for event in build(engine.store, context, options, engine.images, engine.containers):
                if "stream" in event:
                    note(event["stream"])
                elif "aux" in event:
                    image = event["aux"].get("ID", image)
        note(f"pushing {target}\n")
        engine.images.push(target, auth=auth)
        status = "success"
    except (DockyardError, OSError) as error:
        note(f"ERROR: {error}\n")
    finally:
        engine.close()
        text = "".join(lines)[-MAX_LOG:]
        _record(meta, repo, status=status, log=text, finished=time.time(), image=image)
    result = get(meta, repo)
    assert result is not None
    return result
