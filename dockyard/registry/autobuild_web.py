"""Automated builds on the web page (`/r/NAME/build`: status, log, a Build button) and in
the API (`GET|POST /v1/autobuild/NAME`). A build runs as `dockyard registry build` in a
child process (the builder starts containers; the server's event loop stays free)."""

from __future__ import annotations

import asyncio
import sys
import time
from html import escape

from aiohttp import web

from dockyard.registry import autobuild
from dockyard.registry.access import Identity
from dockyard.registry.api import error_response, json_response
from dockyard.registry.errors import RegistryError
from dockyard.registry.names import is_valid_name
from dockyard.registry.state import RegistryState, state_of
from dockyard.registry.web import html, web_identity


def _address(state: RegistryState) -> str:
    host = state.config.host
    if host in ("", "0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    return f"{host}:{state.config.port}"


async def _run(state: RegistryState, repo: str) -> None:
    metadata = ["--metadata", state.config.metadata] if state.config.metadata else []
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "dockyard.cli.main", "registry", "build", repo,
        "--storage", state.config.storage, *metadata, "--registry", _address(state),
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )  # fmt: skip
    await process.wait()


def start(state: RegistryState, repo: str) -> bool:
    """Start a build unless one runs; False when one does."""
    entry = autobuild.get(state.meta, repo)
    if entry is None:
        raise RegistryError("NAME_UNKNOWN", {"name": repo}, message="not an automated repository")
    if entry.status == "building" and entry.started and time.time() - entry.started < 3600:
        return False
    autobuild.set_status_queued(state.meta, repo)
    state.background(_run(state, repo))
    return True


def _may_build(state: RegistryState, identity: Identity, repo: str) -> bool:
    return state.access.permitted(identity, repo, "push") and not (
        identity.anonymous and not state.access.is_open()
    )


def _status(entry: autobuild.AutomatedBuild) -> dict:
    return {
        "repository": entry.repo,
        "status": entry.status,
        "tag": entry.tag,
        "image": entry.image,
        "started": entry.started,
        "finished": entry.finished,
        "log": entry.log,
    }


async def api(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    name = request.match_info["name"]
    try:
        if not is_valid_name(name):
            raise RegistryError("NAME_INVALID", {"name": name})
        action = "push" if request.method == "POST" else "pull"
        await state.access.authorize(request, name, action)
        entry = autobuild.get(state.meta, name)
        if entry is None:
            raise RegistryError("NAME_UNKNOWN", {"name": name}, message="not automated")
        if request.method == "POST":
            started = start(state, name)
            entry = autobuild.get(state.meta, name) or entry
            return json_response(_status(entry), status=202 if started else 409)
        return json_response(_status(entry))
    except RegistryError as error:
        return error_response(error)


async def page(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    identity = await web_identity(request, state)
    name = request.match_info["name"]
    entry = autobuild.get(state.meta, name) if is_valid_name(name) else None
    if entry is None or not state.access.may_pull(identity, name):
        raise web.HTTPNotFound()
    if request.method == "POST":
        if not _may_build(state, identity, name):
            raise web.HTTPSeeOther("/login") if identity.anonymous else web.HTTPForbidden()
        start(state, name)
        raise web.HTTPSeeOther(f"/r/{name}/build")
    finished = (
        time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(entry.finished))
        if entry.finished
        else "-"
    )
    button = ""
    if _may_build(state, identity, name):
        button = '<form method="post"><button type="submit">Build now</button></form>'
    body = (
        f"<h1>{escape(name)}: automated build</h1>"
        f'<p>Status: <strong class="build-status">{escape(entry.status)}</strong>'
        f" &middot; tag <code>{escape(entry.tag)}</code> &middot; finished {finished}"
        f"{' &middot; image <code>' + escape(entry.image[:19]) + '</code>' if entry.image else ''}"
        f"</p>{button}<h2>Log</h2>"
        f'<pre class="pull build-log">{escape(entry.log) or "(no build yet)"}</pre>'
        f'<p><a href="/r/{escape(name)}">back to the repository</a></p>'
    )
    return html(f"{name} build", body, identity, state)


def add_routes(app: web.Application) -> None:
    """Before the web page's catch-all /r/NAME route."""
    app.router.add_get("/r/{name:.+}/build", page)
    app.router.add_post("/r/{name:.+}/build", page)
    app.router.add_get("/v1/autobuild/{name:.+}", api)
    app.router.add_post("/v1/autobuild/{name:.+}", api)
