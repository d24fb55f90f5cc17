"""A repository in a registry as a place images live in: read manifests and blobs,
check which blobs are there, mount, upload, and put manifests (OCI distribution spec).

Every byte read from the registry is checked against its digest before it is used.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from urllib.parse import quote

from dockyard.client.errors import ManifestUnknown, RegistryError
from dockyard.client.session import RegistrySession
from dockyard.digest import Digest
from dockyard.errors import InvalidArchive
from dockyard.oci import mediatypes as mt
from dockyard.oci.types import MAX_JSON_DOCUMENT

MANIFEST_ACCEPT = ", ".join(
    [
        mt.OCI_INDEX,
        mt.DOCKER_MANIFEST_LIST,
        mt.OCI_MANIFEST,
        mt.DOCKER_MANIFEST,
        mt.DOCKER_SCHEMA1_SIGNED + ";q=0.1",
        mt.DOCKER_SCHEMA1 + ";q=0.1",
    ]
)


@dataclass(frozen=True)
class FetchedManifest:
    body: bytes
    media_type: str
    digest: Digest


class RegistryRepository:
    """One repository (``library/busybox``) of the registry behind ``session``."""

    def __init__(self, session: RegistrySession, path: str) -> None:
        self.session = session
        self.path = path
        self.pull_scope = (f"repository:{path}:pull",)
        self.push_scope = (f"repository:{path}:pull,push",)

    def _blob_path(self, digest: Digest) -> str:
        return f"/v2/{self.path}/blobs/{digest}"

    # ------------------------------------------------------------ reading

    async def get_manifest(self, reference: str) -> FetchedManifest:
        """GET a manifest or index by tag or digest, verified against the digest asked
        for (or against the Docker-Content-Digest the registry announces)."""
        async with self.session.request(
            "GET",
            f"/v2/{self.path}/manifests/{quote(reference, safe=':')}",
            scopes=self.pull_scope,
            headers={"Accept": MANIFEST_ACCEPT},
        ) as response:
            await self.session.check(response)
            declared = response.headers.get("Content-Length")
            if declared is not None and int(declared) > MAX_JSON_DOCUMENT:
                raise InvalidArchive(f"manifest is too large ({declared} bytes)")
            body = await _read_limited(response, MAX_JSON_DOCUMENT, "manifest")
            media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
            announced = response.headers.get("Docker-Content-Digest")
        expected = None
        if reference.startswith("sha") and ":" in reference:
            expected = Digest.parse(reference)
        elif announced and Digest.is_valid(announced):
            expected = Digest.parse(announced)
        algorithm = expected.algorithm if expected else "sha256"
        actual = Digest.of_bytes(body, algorithm)
        if expected is not None and actual != expected:
            raise InvalidArchive(
                f"manifest verification failed for digest {expected}: got {actual}"
            )
        if algorithm != "sha256":
            actual = Digest.of_bytes(body)
        if not media_type or media_type in ("application/json", "text/plain"):
            try:
                media_type = json.loads(body).get("mediaType") or ""
            except (ValueError, AttributeError):
                media_type = ""
        return FetchedManifest(body, media_type, expected or actual)

    async def get_blob_bytes(self, digest: Digest, size: int) -> bytes:
        """A small blob (a config), verified."""
        if size > MAX_JSON_DOCUMENT:
            raise InvalidArchive(f"blob {digest} is too large ({size} bytes)")
        async with self.session.request(
            "GET", self._blob_path(digest), scopes=self.pull_scope
        ) as response:
            await self.session.check(response)
            body = await _read_limited(response, max(size, 1), f"blob {digest}")
        if Digest.of_bytes(body, digest.algorithm) != digest:
            raise InvalidArchive(f"blob verification failed for digest {digest}")
        return body

    async def tags(self) -> list[str]:
        """Every tag, following the Link header's pagination."""
        result: list[str] = []
        path: str | None = f"/v2/{self.path}/tags/list"
        while path:
            async with self.session.request("GET", path, scopes=self.pull_scope) as response:
                await self.session.check(response)
                body = await _read_limited(response, MAX_JSON_DOCUMENT, "tag list")
                link = response.headers.get("Link", "")
            try:
                document = json.loads(body)
            except (ValueError, RecursionError):
                raise InvalidArchive("the registry's tag list is not valid JSON") from None
            tags = document.get("tags") if isinstance(document, dict) else None
            result.extend(t for t in (tags if isinstance(tags, list) else []) if isinstance(t, str))
            path = _next_link(link)
        return result

    async def blob_size(self, digest: Digest, scopes: tuple[str, ...] | None = None) -> int | None:
        """HEAD a blob: its size when the repository has it, else None."""
        async with self.session.request(
            "HEAD", self._blob_path(digest), scopes=scopes or self.pull_scope
        ) as response:
            if response.status == 404:
                return None
            await self.session.check(response)
            length = response.headers.get("Content-Length")
            return int(length) if length is not None else 0

    @staticmethod
    def _range_header(offset: int) -> dict[str, str]:
        return {"Range": f"bytes={offset}-"} if offset else {}

    async def blob_chunks(
        self, digest: Digest, offset: int, on_status: Callable[[int, int | None], None]
    ) -> AsyncIterator[bytes]:
        """Stream a blob from ``offset`` on. ``on_status(status, total)`` learns whether
        the range was honoured (206) or the whole blob comes (200)."""
        async with self.session.request(
            "GET",
            self._blob_path(digest),
            scopes=self.pull_scope,
            headers=self._range_header(offset),
        ) as response:
            if response.status == 416 and offset:
                on_status(416, None)
                return
            await self.session.check(response)
            total = response.content_length
            on_status(response.status, total)
            connection = response.connection
            transport = connection.transport if connection is not None else None
            if transport is not None and getattr(transport, "max_size", 0) < (1 << 20):
                transport.max_size = 1 << 20  # asyncio's selector transport reads 256 KiB
            # each piece as it was received: iter_any would join what is buffered
            async for chunk, _end_of_http_chunk in response.content.iter_chunks():
                if chunk:
                    yield chunk

    # ------------------------------------------------------------ writing

    async def mount_blob(self, digest: Digest, source_path: str) -> bool:
        """Cross-repository mount; True when the registry linked the blob (201)."""
        scopes = (*self.push_scope, f"repository:{source_path}:pull")
        async with self.session.request(
            "POST",
            f"/v2/{self.path}/blobs/uploads/",
            scopes=scopes,
            params={"mount": str(digest), "from": source_path},
            allow_redirects=False,
        ) as response:
            await response.read()
            if response.status == 201:
                return True
            if response.status == 202:
                location = response.headers.get("Location")
                if location:
                    await self._cancel_upload(location)
                return False
            await self.session.check(response)
            return False

    async def start_upload(self) -> str:
        async with self.session.request(
            "POST",
            f"/v2/{self.path}/blobs/uploads/",
            scopes=self.push_scope,
            data=b"",
            allow_redirects=False,
        ) as response:
            await self.session.check(response)
            location = response.headers.get("Location")
        if not location:
            raise RegistryError(f"{self.session.host}: upload started without a Location")
        return self.absolute_url(location)

    def absolute_url(self, location: str) -> str:
        if location.startswith(("http://", "https://")):
            return location
        return self.session.url(location if location.startswith("/") else "/" + location)

    async def _cancel_upload(self, location: str) -> None:
        try:
            async with self.session.request(
                "DELETE", self.absolute_url(location), scopes=self.push_scope
            ) as response:
                await response.read()
        except RegistryError:
            pass

    async def put_manifest(self, reference: str, body: bytes, media_type: str) -> Digest:
        async with self.session.request(
            "PUT",
            f"/v2/{self.path}/manifests/{reference}",
            scopes=self.push_scope,
            headers={"Content-Type": media_type},
            data=body,
        ) as response:
            await self.session.check(response)
        return Digest.of_bytes(body)


async def _read_limited(response, limit: int, what: str) -> bytes:  # type: ignore[no-untyped-def]
    data = bytearray()
    async for chunk in response.content.iter_chunked(1 << 16):
        data += chunk
        if len(data) > limit:
            raise InvalidArchive(f"{what} is larger than expected")
    return bytes(data)


def _next_link(header: str) -> str | None:
    if 'rel="next"' not in header:
        return None
    start, end = header.find("<"), header.find(">")
    return header[start + 1 : end] if 0 <= start < end else None


def manifest_not_found(display: str, error: ManifestUnknown) -> ManifestUnknown:
    return ManifestUnknown(f"manifest for {display} not found: {error}", error.status, error.codes)
