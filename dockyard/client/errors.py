"""Registry errors as Docker words them: one line naming the registry and the reason."""

from __future__ import annotations

import json

from dockyard.errors import DockyardError


class RegistryError(DockyardError):
    """A registry refused a request or could not be reached."""

    def __init__(
        self, message: str, status: int | None = None, codes: tuple[str, ...] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.codes = codes


class Unauthorized(RegistryError):
    """Authentication failed or is required."""


class ManifestUnknown(RegistryError):
    """The tag or digest does not exist in the repository."""


def error_codes(body: bytes) -> list[tuple[str, str]]:
    """(code, message) pairs of a distribution-spec error body; empty when it is not one."""
    try:
        document = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return []
    errors = document.get("errors") if isinstance(document, dict) else None
    if not isinstance(errors, list):
        return []
    pairs = []
    for item in errors:
        if isinstance(item, dict):
            code = str(item.get("code") or "UNKNOWN")
            pairs.append((code, str(item.get("message") or "")))
    return pairs


def describe(status: int, reason: str, body: bytes) -> str:
    """Docker's errcode text: 'manifest unknown: manifest unknown'; else the HTTP status."""
    pairs = error_codes(body)
    if pairs:
        texts = []
        for code, message in pairs:
            label = code.lower().replace("_", " ")
            texts.append(f"{label}: {message}" if message else label)
        return "; ".join(texts)
    if status == 401:
        return "unauthorized: authentication required"
    return f"received unexpected HTTP status: {status} {reason}".rstrip()


def from_response(status: int, reason: str, body: bytes, prefix: str = "") -> RegistryError:
    text = describe(status, reason, body)
    codes = tuple(code for code, _ in error_codes(body))
    message = f"{prefix}{text}"
    if status == 401 or "UNAUTHORIZED" in codes or "DENIED" in codes:
        return Unauthorized(message, status, codes)
    if "MANIFEST_UNKNOWN" in codes or "NAME_UNKNOWN" in codes:
        return ManifestUnknown(message, status, codes)
    return RegistryError(message, status, codes)
