"""Hostile requests to the registry's upload, manifest and listing endpoints.

Each is answered with a 4xx (or, where the request is merely odd, a normal answer),
never a 5xx; the storage is unchanged afterwards and the server still answers.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import socket
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"


@dataclass
class Answer:
    status: int
    body: bytes
    headers: dict[str, str]


def request(
    host: str, method: str, path: str, body: bytes | None = None, headers: dict | None = None
) -> Answer:
    name, _, port = host.partition(":")
    connection = http.client.HTTPConnection(name, int(port), timeout=60)
    try:
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        return Answer(response.status, response.read(), dict(response.getheaders()))
    finally:
        connection.close()


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass
class RegistryCase:
    name: str
    send: Callable[[str], Answer]  # host -> the answer to judge
    allowed: tuple[int, ...] = ()  # statuses that are fine besides 4xx
    stores: bool = False  # a legitimate upload: the storage may gain the blob


def _simple(method: str, path: str, body: bytes | None = None, headers: dict | None = None):  # type: ignore[no-untyped-def]
    return lambda host: request(host, method, path, body, headers)


def _manifest(body: bytes, reference: str = "1", content_type: str = OCI_MANIFEST):  # type: ignore[no-untyped-def]
    return _simple("PUT", f"/v2/evil/x/manifests/{reference}", body, {"Content-Type": content_type})


def _document(change: Callable[[dict], None]) -> bytes:
    config = b"{}"
    document = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "size": len(config), "digest": sha(config)},
        "layers": [],
    }
    change(document)
    return json.dumps(document).encode()


def _started_upload(host: str) -> str:
    answer = request(host, "POST", "/v2/evil/x/blobs/uploads/")
    assert answer.status == 202, answer
    return answer.headers["Location"]


def _patch_garbage_range(host: str) -> Answer:
    location = _started_upload(host)
    return request(host, "PATCH", location, b"abc", {"Content-Range": "bytes=abc-def"})


def _empty_patches(host: str) -> Answer:
    """Bodiless PATCHes and PUT (once made the server spin on an empty body's reader)."""
    location = _started_upload(host)
    for _ in range(2):
        answer = request(host, "PATCH", location, None)
        if answer.status != 202:
            return answer
    return request(host, "PUT", f"{location}?digest={sha(b'')}", None)


def _put_wrong_length(host: str) -> Answer:
    location = _started_upload(host)
    return request(host, "PUT", f"{location}?digest={sha(b'abc')}", b"abcd")


def _length_lies(host: str) -> Answer:
    """A monolithic upload announcing 100000 bytes that sends 10 and hangs up."""
    data = b"0123456789"
    name, _, port = host.partition(":")
    with socket.create_connection((name, int(port)), timeout=30) as sock:
        sock.sendall(
            (
                f"POST /v2/evil/x/blobs/uploads/?digest={sha(data)} HTTP/1.1\r\n"
                f"Host: {host}\r\nContent-Type: application/octet-stream\r\n"
                "Content-Length: 100000\r\n\r\n"
            ).encode()
            + data
        )
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        try:
            while chunk := sock.recv(65536):
                reply += chunk
        except OSError:
            pass
    status = int(reply.split(b" ")[1]) if reply.startswith(b"HTTP/") else 499
    return Answer(status, reply, {})


def _mount_from_traversal(host: str) -> Answer:
    path = f"/v2/evil/x/blobs/uploads/?mount={sha(b'{}')}&from=../../lib/img0"
    return request(host, "POST", path)


LONG = "a" * 256
CASES: list[RegistryCase] = [
    RegistryCase(
        "upload-digest-traversal",
        _simple("POST", "/v2/evil/x/blobs/uploads/?digest=sha256:../../../etc/passwd", b"x"),
    ),
    RegistryCase("upload-digest-md5", _simple("POST", "/v2/evil/x/blobs/uploads/?digest=md5:" + "0" * 32, b"x")),
    RegistryCase("upload-digest-short", _simple("POST", "/v2/evil/x/blobs/uploads/?digest=sha256:abc", b"x")),
    RegistryCase(
        "upload-id-traversal-patch",
        _simple("PATCH", "/v2/evil/x/blobs/uploads/..%2F..%2Fregistry.db", b"x"),
    ),
    RegistryCase(
        "upload-id-traversal-put",
        _simple("PUT", f"/v2/evil/x/blobs/uploads/..%2F..%2Ftoken.key?digest={sha(b'x')}", b"x"),
    ),
    RegistryCase("upload-id-unknown-get", _simple("GET", "/v2/evil/x/blobs/uploads/" + "f" * 300)),
    RegistryCase("upload-content-range-garbage", _patch_garbage_range),
    RegistryCase(
        "upload-empty-patches-then-put", _empty_patches, allowed=(201,), stores=True
    ),
    RegistryCase("upload-body-not-matching-digest", _put_wrong_length),
    RegistryCase("upload-content-length-lies", _length_lies, allowed=(499,)),
    RegistryCase("mount-from-traversal", _mount_from_traversal, allowed=(202,)),
    RegistryCase("manifest-nested-100k-deep", _manifest(b"[" * 100_000 + b"]" * 100_000)),
    RegistryCase("manifest-over-4MiB", _manifest(b'{"x": "' + b"a" * (5 << 20) + b'"}')),
    RegistryCase("manifest-not-utf8", _manifest(b'{"schemaVersion": 2, "x": "\xff\xfe"}')),
    RegistryCase("manifest-empty-body", _manifest(b"")),
    RegistryCase("manifest-layers-not-a-list", _manifest(_document(lambda d: d.update(layers="x")))),
    RegistryCase(
        "manifest-size-negative",
        _manifest(_document(lambda d: d["config"].update(size=-1))),
    ),
    RegistryCase(
        "manifest-digest-traversal",
        _manifest(_document(lambda d: d["config"].update(digest="sha256:../../../token.key"))),
    ),
    RegistryCase(
        "manifest-content-type-lies",
        _manifest(_document(lambda d: None), content_type=OCI_INDEX),
    ),
    RegistryCase(
        "manifest-10k-missing-layers",
        _manifest(
            _document(
                lambda d: d.update(
                    layers=[
                        {"mediaType": "application/vnd.oci.image.layer.v1.tar", "size": 1,
                         "digest": sha(str(n).encode())}
                        for n in range(10_000)
                    ]
                )
            )
        ),
    ),  # fmt: skip
    RegistryCase("manifest-tag-invalid", _manifest(_document(lambda d: None), reference="-bad")),
    RegistryCase("manifest-tag-129", _manifest(_document(lambda d: None), reference="t" * 129)),
    RegistryCase("manifest-ref-digest-garbage", _manifest(_document(lambda d: None), reference="sha256:zz")),
    RegistryCase("name-256-chars", _simple("GET", f"/v2/{LONG}/tags/list")),
    RegistryCase("name-dotdot-encoded", _simple("GET", "/v2/a%2F..%2F..%2Fx/manifests/1")),
    RegistryCase("name-uppercase-put", _simple("PUT", "/v2/Evil/X/manifests/1", b"{}")),
    RegistryCase("blob-range-inverted", _simple("GET", f"/v2/lib/img0/blobs/{sha(b'x')}", headers={"Range": "bytes=10-2"})),
    RegistryCase("blob-digest-garbage", _simple("GET", "/v2/lib/img0/blobs/sha256:%00%ff")),
    RegistryCase("tags-n-negative", _simple("GET", "/v2/lib/img0/tags/list?n=-1"), allowed=(200,)),
    RegistryCase("tags-n-garbage", _simple("GET", "/v2/lib/img0/tags/list?n=abc"), allowed=(200,)),
    RegistryCase("tags-n-huge", _simple("GET", "/v2/lib/img0/tags/list?n=" + "9" * 40), allowed=(200,)),
    RegistryCase("tags-n-unicode-digit", _simple("GET", "/v2/lib/img0/tags/list?n=%C2%B2"), allowed=(200,)),
    RegistryCase("catalog-n-huge", _simple("GET", "/v2/_catalog?n=" + "9" * 40), allowed=(200,)),
    RegistryCase("catalog-last-binary", _simple("GET", "/v2/_catalog?last=%00%ff%fe&n=5"), allowed=(200,)),
    RegistryCase("referrers-digest-garbage", _simple("GET", "/v2/lib/img0/referrers/sha256:..")),
    RegistryCase("delete-manifest-garbage", _simple("DELETE", "/v2/lib/img0/manifests/sha256:zz")),
    RegistryCase("search-query-10k-n-negative", _simple("GET", "/v1/search?q=" + "a" * 10_000 + "&n=-5"), allowed=(200,)),
    RegistryCase("search-page-garbage", _simple("GET", "/v1/search?q=a&page=abc&n=1e9"), allowed=(200,)),
    RegistryCase("token-scope-garbage", _simple("GET", "/token?service=x&scope=repository:::::"), allowed=(200,)),
    RegistryCase("star-name-traversal", _simple("PUT", "/v1/repositories/..%2F..%2Fx/star")),
]  # fmt: skip


def storage_snapshot(storage: Path) -> tuple:
    """The registry's content: linked blobs, manifests, tags, and the blob files."""
    connection = sqlite3.connect(f"file:{storage / 'registry.db'}?mode=ro", uri=True, timeout=60)
    try:
        tables = tuple(
            sorted(connection.execute(f"SELECT * FROM {table}").fetchall())  # noqa: S608
            for table in ("repo_blobs", "manifests", "tags", "blobs")
        )
    finally:
        connection.close()
    files = sorted(
        str(p.relative_to(storage)) for p in (storage / "blobs").rglob("*") if p.is_file()
    )
    return tables, files
