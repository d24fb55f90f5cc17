"""Short-lived bearer tokens: JWTs signed with HMAC-SHA256 and a key in the metadata database."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from typing import Any

from dockyard.registry.metadata import Metadata

KEY_NAME = "token.key"  # where registries before the shared key kept it
SETTING = "token_signing_key"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_key(meta: Metadata, legacy_directory: str | None = None) -> bytes:
    """The signing key every node shares: kept in the metadata database, created on first
    use (the first writer wins). A key an older single-node registry kept in
    ``<storage>/token.key`` is adopted, so tokens already handed out stay valid."""
    row = meta.one("SELECT value FROM settings WHERE key = ?", SETTING)
    if row is None:
        key = _legacy_key(legacy_directory) or os.urandom(32)
        with meta.write() as db:
            db.execute(
                "INSERT INTO settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO NOTHING",
                (SETTING, key.hex()),
            )
        row = meta.one("SELECT value FROM settings WHERE key = ?", SETTING)
    return bytes.fromhex(row[0])


def _legacy_key(directory: str | None) -> bytes | None:
    if not directory or "://" in directory:
        return None
    try:
        with open(os.path.join(directory, KEY_NAME), "rb") as stream:
            key = stream.read()
    except OSError:
        return None
    return key if len(key) >= 32 else None


class TokenSigner:
    def __init__(self, key: bytes, service: str) -> None:
        self._key = key
        self.service = service

    def issue(
        self,
        subject: str,
        access: list[dict[str, Any]],
        ttl: int,
        extra: dict[str, Any] | None = None,
    ) -> tuple[str, int]:
        now = int(time.time())
        header = {"typ": "JWT", "alg": "HS256"}
        claims = {
            "iss": self.service,
            "sub": subject,
            "aud": self.service,
            "iat": now,
            "nbf": now - 5,
            "exp": now + ttl,
            "jti": str(uuid.uuid4()),
            "access": access,
            **(extra or {}),
        }
        signing_input = (
            _b64(json.dumps(header, separators=(",", ":")).encode())
            + "."
            + _b64(json.dumps(claims, separators=(",", ":")).encode())
        )
        signature = hmac.new(self._key, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{_b64(signature)}", now

    def verify(self, token: str) -> dict[str, Any] | None:
        """The claims of a valid, unexpired token for this service; None otherwise."""
        try:
            head, body, signature = token.split(".")
            expected = hmac.new(self._key, f"{head}.{body}".encode(), hashlib.sha256).digest()
            if not hmac.compare_digest(expected, _unb64(signature)):
                return None
            claims = json.loads(_unb64(body))
        except (ValueError, TypeError):
            return None
        if not isinstance(claims, dict):
            return None
        now = time.time()
        if claims.get("aud") != self.service or not isinstance(claims.get("exp"), int):
            return None
        if claims["exp"] < now or claims.get("nbf", 0) > now + 5:
            return None
        return claims
