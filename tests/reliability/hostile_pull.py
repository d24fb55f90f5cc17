"""Hostile registries for `pull`: each case is refused with one clear line and leaves the
store unchanged and nothing outside it."""

from __future__ import annotations

import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from .artifacts import tar_bytes
from .lyingregistry import (
    DOCKER_MANIFEST,
    OCI_INDEX,
    Image,
    Reply,
    Routes,
    digest,
    small_layer,
)

MARK = "pwned-by-registry"


@dataclass
class PullCase:
    name: str
    build: Callable[[Path], tuple[Routes, list[str]]]  # outside dir -> (routes, pull args)
    harmless: bool = False  # may be pulled: each layer is its own tree, nothing leaves the store


def _ref(image: Image, tag: str = "1") -> list[str]:
    return [f"{{host}}/{image.repo}:{tag}"]


def _plain(mutate: Callable[[Image, Routes], None], layers: list[bytes] | None = None):  # type: ignore[no-untyped-def]
    def build(outside: Path) -> tuple[Routes, list[str]]:
        image = Image(layers or [small_layer()])
        routes = image.routes()
        mutate(image, routes)
        return routes, _ref(image)

    return build


def _manifest(document_change: Callable[[dict], object]):  # type: ignore[no-untyped-def]
    def build(outside: Path) -> tuple[Routes, list[str]]:
        image = Image([small_layer()])
        document = image.manifest_document()
        document = document_change(document) or document
        return image.routes(json.dumps(document).encode()), _ref(image)

    return build


def _raw_manifest(body: bytes, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    def build(outside: Path) -> tuple[Routes, list[str]]:
        image = Image([small_layer()])
        routes = image.routes()
        routes["/v2/evil/img/manifests/1"] = Reply(
            body, headers=headers or {"Content-Type": DOCKER_MANIFEST}
        )
        return routes, _ref(image)

    return build


def _layers(make: Callable[[Path], list[bytes]]):  # type: ignore[no-untyped-def]
    def build(outside: Path) -> tuple[Routes, list[str]]:
        image = Image(make(outside))
        return image.routes(), _ref(image)

    return build


def _blob(image: Image, position: int) -> str:
    return f"/v2/{image.repo}/blobs/{digest(image.blobs()[position])}"


def _config_path(image: Image) -> str:
    return f"/v2/{image.repo}/blobs/{digest(image.config())}"


def _set(path_of: Callable[[Image], str], reply: Callable[[Image, Reply], Reply]):  # type: ignore[no-untyped-def]
    def mutate(image: Image, routes: Routes) -> None:
        path = path_of(image)
        current = routes[path]
        assert isinstance(current, Reply)
        routes[path] = reply(image, current)

    return mutate


def _streaming_forever(request: web.Request):  # type: ignore[no-untyped-def]
    async def write() -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": DOCKER_MANIFEST})
        await response.prepare(request)
        for _ in range(2000):  # 2000 x 8 KiB = 16 MiB, well over any manifest limit
            await response.write(b" " * 8192)
        await response.write_eof()
        return response

    return write()


def _huge_stream(image: Image, routes: Routes) -> None:
    routes["/v2/evil/img/manifests/1"] = _streaming_forever


def _index_of(child_body: bytes, served_child: bytes | None = None, nested: bool = False):  # type: ignore[no-untyped-def]
    def build(outside: Path) -> tuple[Routes, list[str]]:
        image = Image([small_layer()])
        routes = image.routes(child_body)
        media = OCI_INDEX if nested else DOCKER_MANIFEST
        index = {
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": [
                {
                    "mediaType": media,
                    "size": len(child_body),
                    "digest": digest(child_body),
                    "platform": {"architecture": "amd64", "os": "linux"},
                }
            ],
        }
        body = json.dumps(index).encode()
        headers = {"Content-Type": OCI_INDEX, "Docker-Content-Digest": digest(body)}
        routes["/v2/evil/img/manifests/1"] = Reply(body, headers=headers)
        if served_child is not None:
            routes[f"/v2/evil/img/manifests/{digest(child_body)}"] = Reply(
                served_child, headers={"Content-Type": media}
            )
        return routes, _ref(image)

    return build


def _tags_list(body: bytes):  # type: ignore[no-untyped-def]
    def build(outside: Path) -> tuple[Routes, list[str]]:
        image = Image([small_layer()])
        routes = image.routes()
        routes["/v2/evil/img/tags/list"] = Reply(body, headers={"Content-Type": "application/json"})
        return routes, ["-a", "{host}/evil/img"]

    return build


def _good_manifest() -> bytes:
    return json.dumps(Image([small_layer()]).manifest_document()).encode()


def _symlink_across_layers(outside: Path) -> list[bytes]:
    return [tar_bytes({}, {"esc": str(outside)}), tar_bytes({f"esc/{MARK}": b"x"})]


def _dir_then_file_then_dir(outside: Path) -> list[bytes]:
    return [
        tar_bytes({"d": None, "d/f": b"1"}),
        tar_bytes({"d": b"now a file"}),
        tar_bytes({}, {"d": str(outside)}),
        tar_bytes({f"d/{MARK}": b"x"}),
    ]


def _truncated_gzip(outside: Path) -> tuple[Routes, list[str]]:
    """The blob is what the manifest names (digest and size match), but its gzip stream
    stops in the middle."""
    layer = tar_bytes({"big": b"z" * 200_000})
    cut = gzip.compress(layer, mtime=0)[:-40]
    image = Image([layer])
    document = image.manifest_document()
    document["layers"][0].update(size=len(cut), digest=digest(cut))
    routes = image.routes(json.dumps(document).encode())
    routes[f"/v2/evil/img/blobs/{digest(cut)}"] = Reply(cut)
    return routes, ["{host}/evil/img:1"]


CASES: list[PullCase] = [
    PullCase(
        "announced-digest-lies",
        _plain(
            _set(
                lambda i: "/v2/evil/img/manifests/1",
                lambda i, r: Reply(
                    r.body, headers={**r.headers, "Docker-Content-Digest": digest(b"other")}
                ),
            )
        ),
    ),
    PullCase(
        "by-digest-wrong-bytes",
        lambda outside: (
            {
                **Image([small_layer()]).routes(),
                f"/v2/evil/img/manifests/{digest(b'{}')}": Reply(
                    _good_manifest(), headers={"Content-Type": DOCKER_MANIFEST}
                ),
            },
            [f"{{host}}/evil/img@{digest(b'{}')}"],
        ),
    ),
    PullCase(
        "config-wrong-bytes",
        _plain(_set(_config_path, lambda i, r: Reply(r.body.replace(b"linux", b"LINUX")))),
    ),
    PullCase(
        "layer-wrong-bytes",
        _plain(_set(lambda i: _blob(i, 0), lambda i, r: Reply(bytes(len(r.body))))),
    ),
    PullCase(
        "layer-truncated",
        _plain(_set(lambda i: _blob(i, 0), lambda i, r: Reply(r.body[: len(r.body) // 2]))),
    ),
    PullCase(
        "layer-longer-than-its-size",
        _plain(_set(lambda i: _blob(i, 0), lambda i, r: Reply(r.body + b"\0" * 4096))),
    ),
    PullCase(
        "diff-ids-do-not-match",
        lambda outside: (
            Image([small_layer()], diff_ids=[digest(b"not the layer")]).routes(),
            ["{host}/evil/img:1"],
        ),
    ),
    PullCase(
        "more-layers-than-diff-ids",
        lambda outside: (
            Image([small_layer(), small_layer("b")], diff_ids=[digest(small_layer())]).routes(),
            ["{host}/evil/img:1"],
        ),
    ),
    PullCase("manifest-streams-16MiB", _plain(_huge_stream)),
    PullCase("manifest-not-json", _raw_manifest(b"{not json")),
    PullCase("manifest-is-a-list", _raw_manifest(b"[1, 2, 3]")),
    PullCase("manifest-nested-100k-deep", _raw_manifest(b"[" * 100_000 + b"]" * 100_000)),
    PullCase("manifest-not-utf8", _raw_manifest(b'{"schemaVersion": 2, "x": "\xff\xfe"}')),
    PullCase(
        "config-claims-100MiB",
        _manifest(lambda d: d["config"].__setitem__("size", 100 << 20)),
    ),
    PullCase(
        "layer-size-negative",
        _manifest(lambda d: d["layers"][0].__setitem__("size", -1)),
    ),
    PullCase(
        "layer-digest-malformed",
        _manifest(lambda d: d["layers"][0].__setitem__("digest", "sha256:../../../etc/passwd")),
    ),
    PullCase(
        "layer-digest-md5",
        _manifest(lambda d: d["layers"][0].__setitem__("digest", "md5:" + "0" * 32)),
    ),
    PullCase(
        "layer-media-type-foreign",
        _manifest(lambda d: d["layers"][0].__setitem__("mediaType", "text/html")),
    ),
    PullCase(
        "config-media-type-foreign",
        _manifest(
            lambda d: d["config"].__setitem__(
                "mediaType", "application/vnd.cncf.helm.config.v1+json"
            )
        ),
    ),
    PullCase("layer-dotdot", _layers(lambda o: [tar_bytes({f"../../{MARK}": b"x"})])),
    PullCase("layer-absolute-name", _layers(lambda o: [tar_bytes({f"{o}/{MARK}": b"x"})])),
    PullCase("symlink-escape-across-two-layers", _layers(_symlink_across_layers), harmless=True),
    PullCase("dir-file-symlink-across-layers", _layers(_dir_then_file_then_dir), harmless=True),
    PullCase(
        "layer-not-a-tar",
        _layers(lambda o: [b"this is not a tar archive, just text\n" * 100]),
    ),
    PullCase(
        "index-child-wrong-bytes",
        _index_of(_good_manifest(), served_child=_good_manifest().replace(b"2", b"3", 1)),
    ),
    PullCase(
        "index-inside-index",
        _index_of(
            json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}).encode(),
            nested=True,
        ),
    ),
    PullCase("tags-list-not-json", _tags_list(b"<html>")),
    PullCase(
        "tags-list-hostile-names",
        _tags_list(json.dumps({"name": "evil/img", "tags": ["../../x", "A B", "-x"]}).encode()),
    ),
    PullCase("gzip-stream-cut-short", _truncated_gzip),
    PullCase(
        "server-error-mid-pull",
        _plain(_set(lambda i: _blob(i, 0), lambda i, r: Reply(b"oops", status=500))),
    ),
]
