"""The distribution spec's error codes and the JSON body that carries them."""

from __future__ import annotations

import json
from typing import Any

# code -> (HTTP status, message); the messages are the CNCF registry's.
CODES: dict[str, tuple[int, str]] = {
    "BLOB_UNKNOWN": (404, "blob unknown to registry"),
    "BLOB_UPLOAD_INVALID": (400, "blob upload invalid"),
    "BLOB_UPLOAD_UNKNOWN": (404, "blob upload unknown to registry"),
    "DIGEST_INVALID": (400, "provided digest did not match uploaded content"),
    "MANIFEST_BLOB_UNKNOWN": (400, "blob unknown to registry"),
    "MANIFEST_INVALID": (400, "manifest invalid"),
    "MANIFEST_UNKNOWN": (404, "manifest unknown"),
    "NAME_INVALID": (400, "invalid repository name"),
    "NAME_UNKNOWN": (404, "repository name not known to registry"),
    "SIZE_INVALID": (400, "provided length did not match content length"),
    "TAG_INVALID": (400, "manifest tag did not match URI"),
    "UNAUTHORIZED": (401, "authentication required"),
    "DENIED": (403, "requested access to the resource is denied"),
    "UNSUPPORTED": (405, "The operation is unsupported."),
    "TOOMANYREQUESTS": (429, "too many requests"),
}

JSON_TYPE = "application/json; charset=utf-8"


class RegistryError(Exception):
    """An API error: rendered as ``{"errors":[{"code","message","detail"}]}``."""

    def __init__(
        self,
        code: str,
        detail: Any = None,
        *,
        message: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        default_status, default_message = CODES[code]
        self.code = code
        self.message = message or default_message
        self.detail = detail
        self.status = status or default_status
        self.headers = headers or {}
        super().__init__(f"{code}: {self.message}")

    def entry(self) -> dict[str, Any]:
        item: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.detail is not None:
            item["detail"] = self.detail
        return item


class RegistryErrors(Exception):
    """Several errors in one response (e.g. every missing blob of a manifest)."""

    def __init__(self, errors: list[RegistryError]) -> None:
        self.errors = errors
        self.status = errors[0].status
        self.headers = errors[0].headers
        super().__init__("; ".join(str(e) for e in errors))


def error_body(errors: list[RegistryError]) -> bytes:
    body = json.dumps({"errors": [e.entry() for e in errors]}, separators=(",", ":"))
    return body.encode() + b"\n"
