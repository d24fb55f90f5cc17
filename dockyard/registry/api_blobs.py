"""Handlers for blobs and blob uploads."""

from __future__ import annotations

import asyncio
import os
import re
import time
from collections.abc import Callable

from aiohttp import web

from dockyard.digest import Digest
from dockyard.registry.access import Identity
from dockyard.registry.blobfile import BlobResponse, DriverBlobResponse, parse_range
from dockyard.registry.content import blob_path
from dockyard.registry.errors import RegistryError
from dockyard.registry.names import is_valid_name, parse_digest
from dockyard.registry.state import RegistryState
from dockyard.registry.uploads import RangeMismatch

TOUCH_AFTER = 60.0
_CONTENT_RANGE_RE = re.compile(r"^(?:bytes[ =])?(\d+)-(\d+)(?:/(?:\d+|\*))?$")


def _range_header(offset: int) -> str:
    return f"0-{max(offset - 1, 0)}"


def _upload_headers(name: str, upload_id: str, offset: int) -> dict[str, str]:
    return {
        "Location": f"/v2/{name}/blobs/uploads/{upload_id}",
        "Range": _range_header(offset),
        "Docker-Upload-UUID": upload_id,
        "Blob-Upload-Session-ID": upload_id,
    }


def _created(name: str, digest: str) -> web.Response:
    return web.Response(
        status=201,
        headers={"Location": f"/v2/{name}/blobs/{digest}", "Docker-Content-Digest": digest},
    )


def _has_body(request: web.Request) -> bool:
    if request.headers.get("Transfer-Encoding", "").lower() == "chunked":
        return True
    return (request.content_length or 0) > 0


def _content_range(
    request: web.Request, name: str, upload_id: str, offset_now: Callable[[], int]
) -> int | None:
    """The start of a Content-Range header; a malformed one is answered with 416."""
    header = request.headers.get("Content-Range")
    if header is None:
        return None
    match = _CONTENT_RANGE_RE.match(header.strip())
    if not match:
        raise _range_error(name, upload_id, offset_now())
    start, end = int(match.group(1)), int(match.group(2))
    length = request.content_length
    if end < start or (length is not None and length != end - start + 1):
        raise _range_error(name, upload_id, offset_now())
    return start


def _range_error(name: str, upload_id: str, offset: int) -> RegistryError:
    return RegistryError(
        "BLOB_UPLOAD_INVALID",
        f"chunk must start at offset {offset}",
        message="invalid content range",
        status=416,
        headers=_upload_headers(name, upload_id, offset),
    )


# -- blobs ----------------------------------------------------------------------------


async def get_blob(
    request: web.Request, state: RegistryState, identity: Identity, name: str, digest: str
) -> web.StreamResponse:
    parsed = parse_digest(digest)
    text = str(parsed)
    found = state.content.linked(name, parsed)
    if found is None:
        raise RegistryError("BLOB_UNKNOWN", text)
    path = state.content.local_path(parsed)
    if path is not None:
        present = os.path.exists(path)
    else:
        present = await asyncio.to_thread(state.driver.stat, blob_path(parsed)) is not None
    if not present:
        raise RegistryError("BLOB_UNKNOWN", text)
    size, linked = found
    now = time.time()
    if request.method == "HEAD" and now - linked > TOUCH_AFTER:
        # "this layer exists" lets a client skip the upload: keep the blob from gc a while
        if not await asyncio.to_thread(state.content.touch, name, parsed, now):
            raise RegistryError("BLOB_UNKNOWN", text)
    headers = {
        "Docker-Content-Digest": text,
        "Etag": f'"{text}"',
        "Cache-Control": "max-age=31536000",
        "Content-Type": "application/octet-stream",
    }
    if request.headers.get("If-None-Match") == f'"{text}"':
        return web.Response(status=304, headers=headers)
    if request.method == "GET" and path is None:
        url = await asyncio.to_thread(state.driver.redirect_url, blob_path(parsed))
        if url is not None:  # the client fetches from the object store (its Range too)
            return web.Response(status=307, headers={**headers, "Location": url})
    chosen = parse_range(request.headers.get("Range"), size)
    if chosen is False:
        response = web.Response(status=416, headers=headers)
        response.headers["Content-Range"] = f"bytes */{size}"
        return response
    offset, count, status = (0, size, 200) if chosen is None else (chosen[0], chosen[1], 206)
    if path is not None:
        response: web.StreamResponse = BlobResponse(
            path, size, offset, count, status, state.blob_sender
        )
    else:
        response = DriverBlobResponse(state.driver, blob_path(parsed), size, offset, count, status)
    response.headers.update(headers)
    return response


async def delete_blob(
    request: web.Request, state: RegistryState, identity: Identity, name: str, digest: str
) -> web.StreamResponse:
    parsed = parse_digest(digest)
    if not await asyncio.to_thread(state.content.unlink, name, parsed):
        raise RegistryError("BLOB_UNKNOWN", str(parsed))
    return web.Response(status=202)


# -- uploads --------------------------------------------------------------------------


async def start_upload(
    request: web.Request, state: RegistryState, identity: Identity, name: str
) -> web.StreamResponse:
    query = request.query
    mount, source = query.get("mount"), query.get("from")
    if mount and source and is_valid_name(source) and Digest.is_valid(mount):
        # a mount that cannot happen (bad arguments, no such blob, no right to read the
        # source) falls back to an ordinary upload session, as the spec says
        digest = Digest.parse(mount)
        may_read = state.access.permitted(identity, source, "pull") and (
            identity.token is None or "pull" in identity.token.get(source, ())
        )
        if may_read:
            size = await asyncio.to_thread(state.content.mount, name, source, digest, time.time())
            if size is not None:
                return _created(name, str(digest))
    if "digest" in query:
        digest = parse_digest(query["digest"])
        upload_id = await state.uploads.start(name)
        body = request.content if _has_body(request) else None
        try:
            await state.uploads.finish(name, upload_id, digest, body, None)
        except BaseException:
            await state.uploads.cancel(upload_id)
            raise
        return _created(name, str(digest))
    upload_id = await state.uploads.start(name)
    return web.Response(status=202, headers=_upload_headers(name, upload_id, 0))


async def upload_status(
    request: web.Request, state: RegistryState, identity: Identity, name: str, upload: str
) -> web.StreamResponse:
    state.uploads.check(name, upload)
    offset = state.uploads.offset(upload)
    return web.Response(status=204, headers=_upload_headers(name, upload, offset))


async def patch_upload(
    request: web.Request, state: RegistryState, identity: Identity, name: str, upload: str
) -> web.StreamResponse:
    state.uploads.check(name, upload)
    start = _content_range(request, name, upload, lambda: state.uploads.offset(upload))
    try:
        offset = await state.uploads.append(upload, request.content, start)
    except RangeMismatch as mismatch:
        raise _range_error(name, upload, mismatch.offset) from None
    return web.Response(status=202, headers=_upload_headers(name, upload, offset))


async def put_upload(
    request: web.Request, state: RegistryState, identity: Identity, name: str, upload: str
) -> web.StreamResponse:
    state.uploads.check(name, upload)
    digests = request.query.getall("digest", [])
    if not digests:
        raise RegistryError("DIGEST_INVALID", "the digest parameter is required")
    digest = parse_digest(digests[0])
    body = request.content if _has_body(request) else None
    start = None
    if body is not None:
        start = _content_range(request, name, upload, lambda: state.uploads.offset(upload))
    try:
        await state.uploads.finish(name, upload, digest, body, start)
    except RangeMismatch as mismatch:
        raise _range_error(name, upload, mismatch.offset) from None
    return _created(name, str(digest))


async def cancel_upload(
    request: web.Request, state: RegistryState, identity: Identity, name: str, upload: str
) -> web.StreamResponse:
    state.uploads.check(name, upload)
    await state.uploads.cancel(upload)
    return web.Response(status=204, headers={"Docker-Upload-UUID": upload})
