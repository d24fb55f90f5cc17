"""Shared pieces of the registry client tests: a real CNCF registry (Debian's
docker-registry) on loopback, dockyard's own registry, skopeo to put images into them,
a small in-process registry that can cut or corrupt blob downloads, and images built
in memory. Imported by the tests/test_client_*.py modules."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.processes import free_port, start_registry_process, stop_process, wait_for_port

REPO = Path(__file__).resolve().parents[2]


# ---------------------------------------------------------------- the CNCF registry


def ensure_docker_registry() -> str:
    binary = shutil.which("docker-registry")
    if binary is None:
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, capture_output=True)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", "docker-registry"],
            check=True,
            env=env,
            capture_output=True,
        )
        binary = shutil.which("docker-registry")
    if binary is None:
        pytest.skip("docker-registry (Debian) is not installable here")
    return binary


@dataclass
class CncfRegistry:
    port: int
    directory: Path
    process: subprocess.Popen
    htpasswd: Path | None = None

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"


def start_cncf_registry(directory: Path, htpasswd: Path | None = None) -> CncfRegistry:
    binary = ensure_docker_registry()
    directory.mkdir(parents=True, exist_ok=True)
    port = free_port()
    auth = ""
    if htpasswd is not None:
        auth = f"auth:\n  htpasswd:\n    realm: basic-realm\n    path: {htpasswd}\n"
    config = directory / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log:\n  level: warn\n"
        f"storage:\n  filesystem:\n    rootdirectory: {directory / 'storage'}\n"
        "  delete:\n    enabled: true\n"
        f"http:\n  addr: 127.0.0.1:{port}\n" + auth
    )
    log = open(directory / "registry.log", "wb")  # noqa: SIM115
    process = subprocess.Popen([binary, "serve", str(config)], stdout=log, stderr=log)
    try:
        wait_for_port(port, process)
    except RuntimeError:
        stop_process(process)
        raise
    return CncfRegistry(port, directory, process, htpasswd)


def htpasswd_file(path: Path, user: str, password: str) -> Path:
    """A bcrypt htpasswd line (the CNCF registry reads only bcrypt)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt

    path.write_text(f"{user}:{crypt.crypt(password, crypt.mksalt(crypt.METHOD_BLOWFISH))}\n")
    return path


# ---------------------------------------------------------------- dockyard's registry


@dataclass
class DockyardRegistry:
    port: int
    storage: Path
    process: subprocess.Popen

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"


def start_dockyard_registry(storage: Path, *extra: str) -> DockyardRegistry:
    port = free_port()
    storage.mkdir(parents=True, exist_ok=True)
    with open(storage.parent / f"dockyard-registry-{port}.log", "wb") as log:
        process = start_registry_process(port, str(storage), extra, log)
    return DockyardRegistry(port, storage, process)


# ---------------------------------------------------------------- environment


# ---------------------------------------------------------------- images


def skopeo_copy(source: str, destination: str, *extra: str) -> None:
    process = subprocess.run(
        [
            "skopeo",
            "copy",
            "-q",
            "--dest-tls-verify=false",
            "--src-tls-verify=false",
            *extra,
            source,
            destination,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    if process.returncode != 0:
        raise AssertionError(f"skopeo copy failed: {process.stderr}")


def saved_archive(engine, name: str, path: Path) -> Path:  # type: ignore[no-untyped-def]
    with open(path, "wb") as out:
        engine.images.save([name], out)
    return path


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def layer_tar(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = 1_700_000_000
            info.mode = 0o755
            archive.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


@dataclass
class MemoryImage:
    """An image in memory: gzip layers, config, manifest (OCI)."""

    config: bytes
    manifest: bytes
    blobs: dict[str, bytes] = field(default_factory=dict)
    layer_digests: list[str] = field(default_factory=list)

    @property
    def image_id(self) -> str:
        return digest_of(self.config)

    @property
    def manifest_digest(self) -> str:
        return digest_of(self.manifest)


def memory_image(layers: list[dict[str, bytes]], architecture: str = "amd64") -> MemoryImage:
    tars = [layer_tar(files) for files in layers]
    blobs = [gzip.compress(t, 1, mtime=0) for t in tars]
    config = json.dumps(
        {
            "architecture": architecture,
            "os": "linux",
            "created": "2024-01-01T00:00:00Z",
            "config": {"Cmd": ["sh"]},
            "rootfs": {"type": "layers", "diff_ids": [digest_of(t) for t in tars]},
            "history": [{"created": "2024-01-01T00:00:00Z"} for _ in tars],
        },
        separators=(",", ":"),
    ).encode()
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": digest_of(config),
                "size": len(config),
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": digest_of(b),
                    "size": len(b),
                }
                for b in blobs
            ],
        }
    ).encode()
    image = MemoryImage(config, manifest)
    image.blobs[digest_of(config)] = config
    for blob in blobs:
        image.blobs[digest_of(blob)] = blob
        image.layer_digests.append(digest_of(blob))
    return image


# ---------------------------------------------------------------- a registry that misbehaves


class FaultyRegistry:
    """A read-only registry in a background thread serving images from memory.

    ``cut_after``: the first GET of each layer blob sends the full Content-Length but
    only that many bytes, then drops the connection. ``corrupt``: layer blobs are
    served with their bytes altered. ``ignore_range``: Range requests get the whole
    blob (200). ``manifests`` maps a tag or digest to (media type, body).
    """

    def __init__(self) -> None:
        self.manifests: dict[str, tuple[str, bytes]] = {}
        self.blobs: dict[str, bytes] = {}
        self.cut_after: int | None = None
        self.corrupt = False
        self.ignore_range = False
        self.requests: list[tuple[str, str, str | None]] = []  # method, path, Range
        self.bearer: tuple[str, str] | None = None  # (user, password): token auth on
        self.tokens: set[str] = set()
        self.token_requests: list[list[str]] = []  # the scopes of each token request
        self.expire_next = False  # the next authorized request gets a 401, once
        self.search_results: list[dict] = []
        self.search_queries: list[dict[str, str]] = []
        self._cut_done: set[str] = set()
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def add_image(self, repository: str, tag: str, image: MemoryImage) -> None:
        media = "application/vnd.oci.image.manifest.v1+json"
        self.manifests[f"{repository}:{tag}"] = (media, image.manifest)
        self.manifests[f"{repository}:{image.manifest_digest}"] = (media, image.manifest)
        self.blobs.update(image.blobs)

    def start(self) -> FaultyRegistry:
        self._thread.start()
        self._ready.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

    def _run(self) -> None:
        from aiohttp import web

        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_get("/v2/", self._ping)
        app.router.add_get("/token", self._token)
        app.router.add_get("/v1/search", self._search)
        app.router.add_route("*", "/v2/{name:.+}/manifests/{reference}", self._manifest)
        app.router.add_route("*", "/v2/{name:.+}/blobs/{digest}", self._blob)
        runner = web.AppRunner(app)
        self._loop.run_until_complete(runner.setup())
        site = web.TCPSite(runner, "127.0.0.1", self.port)
        self._loop.run_until_complete(site.start())
        self._ready.set()
        self._loop.run_forever()
        self._loop.run_until_complete(runner.cleanup())

    def _challenge(self, request):  # type: ignore[no-untyped-def]
        """None when the request may go on, else the 401 response."""
        from aiohttp import web

        if self.bearer is None:
            return None
        header = request.headers.get("Authorization", "")
        token = header[len("Bearer ") :] if header.startswith("Bearer ") else None
        if token in self.tokens and not self.expire_next:
            return None
        if token in self.tokens:
            self.expire_next = False
            self.tokens.clear()
        challenge = f'Bearer realm="http://{self.host}/token",service="faulty"'
        body = {"errors": [{"code": "UNAUTHORIZED", "message": "authentication required"}]}
        return web.json_response(body, status=401, headers={"WWW-Authenticate": challenge})

    async def _ping(self, request):  # type: ignore[no-untyped-def]
        from aiohttp import web

        refused = self._challenge(request)
        return refused if refused is not None else web.json_response({})

    async def _search(self, request):  # type: ignore[no-untyped-def]
        from aiohttp import web

        self.search_queries.append(dict(request.query))
        term = request.query.get("q", "")
        limit = int(request.query.get("n", "25"))
        found = [r for r in self.search_results if term in r["name"]][:limit]
        return web.json_response(
            {"query": term, "num_results": len(found), "page_size": limit, "results": found}
        )

    async def _token(self, request):  # type: ignore[no-untyped-def]
        import base64

        from aiohttp import web

        self.token_requests.append(request.query.getall("scope", []))
        header = request.headers.get("Authorization", "")
        given = None
        if header.startswith("Basic "):
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            given = (user, password)
        if given != self.bearer:
            return web.json_response({"details": "incorrect username or password"}, status=401)
        token = f"token-{len(self.token_requests)}"
        self.tokens.add(token)
        return web.json_response({"token": token, "expires_in": 300})

    async def _manifest(self, request):  # type: ignore[no-untyped-def]
        from aiohttp import web

        key = f"{request.match_info['name']}:{request.match_info['reference']}"
        self.requests.append((request.method, request.path, None))
        refused = self._challenge(request)
        if refused is not None:
            return refused
        if key not in self.manifests:
            body = {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "manifest unknown"}]}
            return web.json_response(body, status=404)
        media, body = self.manifests[key]
        headers = {"Content-Type": media, "Docker-Content-Digest": digest_of(body)}
        return web.Response(body=body, headers=headers)

    async def _blob(self, request):  # type: ignore[no-untyped-def]
        from aiohttp import web

        digest = request.match_info["digest"]
        wanted = request.headers.get("Range")
        self.requests.append((request.method, request.path, wanted))
        refused = self._challenge(request)
        if refused is not None:
            return refused
        if digest not in self.blobs:
            body = {"errors": [{"code": "BLOB_UNKNOWN", "message": "blob unknown to registry"}]}
            return web.json_response(body, status=404)
        data = self.blobs[digest]
        is_layer = not data.startswith(b"{")
        if self.corrupt and is_layer:
            data = bytes(b ^ 0x55 for b in data[:64]) + data[64:]
        start = 0
        status = 200
        if wanted and not self.ignore_range and wanted.startswith("bytes="):
            start = int(wanted[len("bytes=") :].split("-")[0])
            status = 206
        body = data[start:]
        headers = {"Content-Length": str(len(body)), "Docker-Content-Digest": digest}
        if status == 206:
            headers["Content-Range"] = f"bytes {start}-{len(data) - 1}/{len(data)}"
        response = web.StreamResponse(status=status, headers=headers)
        await response.prepare(request)
        if request.method == "HEAD":
            return response
        if self.cut_after is not None and is_layer and digest not in self._cut_done:
            self._cut_done.add(digest)
            await response.write(body[: self.cut_after])
            request.transport.close()
            return response
        await response.write(body)
        await response.write_eof()
        return response


def run_output(cli, *args: str, attempts: int = 3) -> str:  # type: ignore[no-untyped-def]
    """stdout of `dockyard run --rm ...`. Under heavy load the runtime sometimes loses a
    short-lived container's output (rc 0 and nothing printed, or rc 255): a race in the
    container side, not in what these tests check, so the run is tried again."""
    result = None
    for _ in range(attempts):
        result = cli("run", "--rm", *args, check=False)
        if result.returncode == 0 and result.stdout:
            return result.stdout
    raise AssertionError(f"dockyard run {' '.join(args)} failed: {result}")
