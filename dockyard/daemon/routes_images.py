"""Image routes: list, inspect, history, tag, remove, pull/import, push, save, load,
search, prune, commit."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from dockyard import reference
from dockyard.daemon import registryops, workers
from dockyard.daemon.bridge import BodyReader, ResponseWriter
from dockyard.daemon.errors import bad_request
from dockyard.daemon.middleware import Routes, query_bool, query_filters, query_int
from dockyard.daemon.progress import JsonStream, LayerProgress, StreamFailed, run_streaming
from dockyard.errors import InvalidReference, NotFound

routes = Routes()

IMAGE_FILTERS = ("dangling", "reference", "before", "since", "label")


def _image_name(request: web.Request) -> str:
    return request.match_info["name"]


def _events(request: web.Request) -> Any:
    return request.app["events"]


# ---------------------------------------------------------------- list, inspect, history


class _UnfilteredListings:
    """The JSON bodies of `GET /images/json` without filters (with and without `all`),
    kept while the store's database is unchanged. The event loop thread's connection
    only ever reads, so its `PRAGMA data_version` changes exactly when another
    connection (a worker thread, a CLI process) has committed since the last look."""

    def __init__(self) -> None:
        self.version: int | None = None
        self.bodies: dict[bool, bytes] = {}

    def body(self, engine: Any, all_images: bool) -> bytes:
        version = engine.store.db.execute("PRAGMA data_version").fetchone()[0]
        if version != self.version:
            self.version, self.bodies = version, {}
        body = self.bodies.get(all_images)
        if body is None:
            listing = [s.to_api() for s in engine.images.list(all=all_images)]
            body = self.bodies[all_images] = json.dumps(listing).encode()
        return body


_unfiltered = _UnfilteredListings()


@routes.get("/images/json")
async def list_images(request: web.Request) -> web.StreamResponse:
    filters = query_filters(request)
    for key in filters:
        if key not in IMAGE_FILTERS:
            raise bad_request(f"invalid filter '{key}'")
    if request.query.get("filter"):  # API < 1.28: a reference as `filter`
        filters.setdefault("reference", []).append(request.query["filter"])
    all_images = query_bool(request, "all")
    if not filters:  # what `docker images` asks: answered on the loop thread
        body = workers.on_loop_thread(_unfiltered.body, all_images)
        return web.Response(body=body, content_type="application/json", charset="utf-8")

    def job(engine: Any) -> list[dict[str, Any]]:
        # with a reference filter the engine lists only the matching names, as Docker does
        return [s.to_api() for s in engine.images.list(all=all_images, filters=filters)]

    return web.json_response(await workers.with_engine(job))


@routes.get("/images/{name:.+}/json")
async def inspect_image(request: web.Request) -> web.StreamResponse:
    name = _image_name(request)
    try:
        document = await workers.with_engine(lambda e: e.images.inspect(name))
    except (NotFound, InvalidReference) as error:
        # Docker 20.10's LookupImage wraps the error this way
        raise NotFound(f"no such image: {name}: {error}") from None
    return web.json_response(document)


@routes.get("/images/{name:.+}/history")
async def history(request: web.Request) -> web.StreamResponse:
    name = _image_name(request)
    return web.json_response(await workers.with_engine(lambda e: e.images.history(name)))


# ---------------------------------------------------------------- tag, remove


@routes.post("/images/{name:.+}/tag")
async def tag(request: web.Request) -> web.StreamResponse:
    name = _image_name(request)
    repo = request.query.get("repo", "")
    tag_text = request.query.get("tag", "")
    if not repo:
        raise bad_request("repository name must have at least one component")
    target = f"{repo}:{tag_text}" if tag_text else repo
    ref = reference.parse(target)  # Docker's own message on a bad name
    if ref.digest is not None:
        raise bad_request("refusing to create a tag with a digest reference")

    def job(engine: Any) -> str:
        engine.images.tag(name, target)
        return str(engine.images.resolve(target))

    image_id = await workers.with_engine(job)
    _events(request).publish("image", "tag", image_id, {"name": ref.with_default_tag().familiar()})
    return web.Response(status=201)


@routes.delete("/images/{name:.+}")
async def remove_image(request: web.Request) -> web.StreamResponse:
    name = _image_name(request)
    force = query_bool(request, "force")
    prune = not query_bool(request, "noprune")
    items = await workers.with_engine(lambda e: e.images.remove(name, force=force, prune=prune))
    bus = _events(request)
    for item in items:
        if "Untagged" in item:
            bus.publish("image", "untag", item["Untagged"], {"name": item["Untagged"]})
        elif "Deleted" in item:
            bus.publish("image", "delete", item["Deleted"], {"name": item["Deleted"]})
    return web.json_response(items)


# ---------------------------------------------------------------- create: pull or import


@routes.post("/images/create")
async def create_image(request: web.Request) -> web.StreamResponse:
    if request.query.get("fromSrc"):
        return await _import(request)
    if request.query.get("fromImage"):
        return await _pull(request)
    raise bad_request("fromImage or fromSrc is required")


async def _pull(request: web.Request) -> web.StreamResponse:
    image = request.query["fromImage"]
    tag_text = request.query.get("tag", "")
    if tag_text:
        name = f"{image}@{tag_text}" if tag_text.startswith("sha256:") else f"{image}:{tag_text}"
    else:
        name = image
    reference.parse(name)
    platform = request.query.get("platform") or None
    auth = registryops.decode_registry_auth(request.headers.get("X-Registry-Auth"))
    stream = JsonStream(request)

    def job(emit: Any) -> list:
        return registryops.pull(workers.engine(), name, emit, platform, auth)

    try:
        results = await run_streaming(stream, job)
    except StreamFailed:
        return await stream.finish()
    for result in results or []:
        image_id = str(getattr(result, "image_id", ""))
        ref = getattr(result, "reference", None)
        label = ref.familiar() if ref is not None else name
        _events(request).publish("image", "pull", image_id or label, {"name": label})
    return await stream.finish()


async def _import(request: web.Request) -> web.StreamResponse:
    source = request.query["fromSrc"]
    repo = request.query.get("repo", "")
    tag_text = request.query.get("tag", "")
    repo_tag = None
    if repo:
        repo_tag = f"{repo}:{tag_text}" if tag_text else repo
        reference.parse(repo_tag)
    message = request.query.get("message") or None
    changes = request.query.getall("changes", [])
    loop = asyncio.get_running_loop()

    def job(engine: Any) -> str:
        if source == "-":
            body: Any = BodyReader(request.content, loop)
            return str(engine.images.import_(body, repo_tag, message=message, changes=changes))
        return str(engine.images.import_(source, repo_tag, message=message, changes=changes))

    image_id = await workers.with_engine(job)
    _events(request).publish("image", "import", image_id, {"name": repo_tag or image_id})
    stream = JsonStream(request)
    await stream.send({"status": image_id})
    return await stream.finish()


# ---------------------------------------------------------------- push, search


@routes.post("/images/{name:.+}/push")
async def push(request: web.Request) -> web.StreamResponse:
    name = _image_name(request)
    tag_text = request.query.get("tag", "")
    target = f"{name}:{tag_text}" if tag_text else name
    reference.parse(target)
    auth = registryops.decode_registry_auth(request.headers.get("X-Registry-Auth"))
    stream = JsonStream(request)

    def job(emit: Any) -> Any:
        return registryops.push(workers.engine(), target, emit, auth)

    try:
        await run_streaming(stream, job)
    except StreamFailed:
        return await stream.finish()
    _events(request).publish("image", "push", target, {"name": target})
    return await stream.finish()


@routes.get("/images/search")
async def search(request: web.Request) -> web.StreamResponse:
    term = request.query.get("term", "")
    if not term:
        raise bad_request("term is required")
    limit = query_int(request, "limit")
    filters = query_filters(request)
    for key in filters:
        if key not in ("stars", "is-official", "is-automated"):
            raise bad_request(f"invalid filter '{key}'")
    auth = registryops.decode_registry_auth(request.headers.get("X-Registry-Auth"))
    results = await workers.with_engine(registryops.search, term, limit, filters, auth)
    return web.json_response(results)


# ---------------------------------------------------------------- save, load


async def _save(request: web.Request, names: list[str]) -> web.StreamResponse:
    if not names:
        raise bad_request("no image names given")
    loop = asyncio.get_running_loop()

    def make_response() -> web.StreamResponse:
        response = web.StreamResponse(status=200)
        response.content_type = "application/x-tar"
        return response

    writer = ResponseWriter(request, loop, make_response)

    def job(engine: Any) -> None:
        engine.images.save(names, writer)
        writer.flush()

    try:
        await workers.with_engine(job)
    except Exception:
        if writer.response is None:
            raise
        # the tar is cut short: the client must not take it for a whole archive
        if request.transport is not None:
            request.transport.abort()
        return writer.response
    for name in names:
        _events(request).publish("image", "save", name, {"name": name})
    return await writer.finish()


@routes.get("/images/get")
async def save_many(request: web.Request) -> web.StreamResponse:
    return await _save(request, request.query.getall("names", []))


@routes.get("/images/{name:.+}/get")
async def save_one(request: web.Request) -> web.StreamResponse:
    return await _save(request, [_image_name(request)])


@routes.post("/images/load")
async def load(request: web.Request) -> web.StreamResponse:
    quiet = query_bool(request, "quiet")
    loop = asyncio.get_running_loop()
    stream = JsonStream(request)

    def job(emit: Any) -> Any:
        bars: dict[str, LayerProgress] = {}

        def progress(short: str, done: int, total: int) -> None:
            bar = bars.get(short)
            if bar is None:
                bar = bars[short] = LayerProgress(emit, "Loading layer", short)
            bar(done, total)

        body = BodyReader(request.content, loop)
        report = workers.engine().images.load(body, progress=None if quiet else progress)
        for line in report.lines:
            emit({"stream": line + "\n"})
        return report

    await stream.start()  # Docker reports load errors inside the stream
    try:
        report = await run_streaming(stream, job)
    except StreamFailed:
        return await stream.finish()
    for image_id in getattr(report, "image_ids", []):
        _events(request).publish("image", "load", str(image_id), {"name": str(image_id)})
    return await stream.finish()


# ---------------------------------------------------------------- prune, commit


@routes.post("/images/prune")
async def prune(request: web.Request) -> web.StreamResponse:
    filters = query_filters(request)
    for key in filters:
        if key not in ("dangling", "until", "label"):
            raise bad_request(f"invalid filter '{key}'")
    dangling = [v.lower() for v in filters.get("dangling", [])]
    all_images = bool(dangling) and dangling[-1] in ("false", "0")
    if filters.get("until") or filters.get("label"):
        raise bad_request("the until and label prune filters are not supported by dockyard")
    report = await workers.with_engine(lambda e: e.images.prune(all=all_images))
    bus = _events(request)
    for item in report.deleted:
        if "Untagged" in item:
            bus.publish("image", "untag", item["Untagged"], {"name": item["Untagged"]})
        elif "Deleted" in item:
            bus.publish("image", "delete", item["Deleted"], {"name": item["Deleted"]})
    return web.json_response(
        {"ImagesDeleted": report.deleted or None, "SpaceReclaimed": report.reclaimed}
    )


@routes.post("/commit")
async def commit(request: web.Request) -> web.StreamResponse:
    container = request.query.get("container", "")
    if not container:
        raise bad_request("container is required")
    repo = request.query.get("repo", "")
    tag_text = request.query.get("tag", "")
    repo_tag = None
    if repo:
        repo_tag = f"{repo}:{tag_text}" if tag_text else repo
        reference.parse(repo_tag)
    changes = request.query.getall("changes", [])
    body = await request.read()
    if body.strip():
        try:
            extra = json.loads(body)
        except ValueError:
            raise bad_request("invalid JSON body") from None
        changes += _config_as_changes(extra or {})
    author = request.query.get("author", "")
    message = request.query.get("comment", "")
    pause = query_bool(request, "pause", True)

    def job(engine: Any) -> tuple[Any, Any]:
        image_id = engine.containers.commit(
            container, repo_tag, author=author, message=message, changes=changes, pause=pause
        )
        return image_id, engine.containers.get(container)

    image_id, record = await workers.with_engine(job)
    _events(request).publish(
        "container",
        "commit",
        record.id,
        {
            "comment": message,
            "imageID": str(image_id),
            "name": record.name,
            "image": record.image_name,
        },
    )
    return web.json_response({"Id": str(image_id)}, status=201)


def _config_as_changes(config: dict[str, Any]) -> list[str]:
    """A Config in the commit body (docker SDK's `conf`) as Dockerfile changes."""
    changes: list[str] = []
    if config.get("Cmd"):
        changes.append("CMD " + json.dumps(config["Cmd"]))
    if config.get("Entrypoint"):
        changes.append("ENTRYPOINT " + json.dumps(config["Entrypoint"]))
    for item in config.get("Env") or []:
        changes.append(f"ENV {item}")
    if config.get("WorkingDir"):
        changes.append(f"WORKDIR {config['WorkingDir']}")
    if config.get("User"):
        changes.append(f"USER {config['User']}")
    for key, value in (config.get("Labels") or {}).items():
        changes.append(f"LABEL {json.dumps(key)}={json.dumps(value)}")
    for port in config.get("ExposedPorts") or {}:
        changes.append(f"EXPOSE {port}")
    for volume in config.get("Volumes") or {}:
        changes.append(f"VOLUME {volume}")
    if config.get("StopSignal"):
        changes.append(f"STOPSIGNAL {config['StopSignal']}")
    return changes
