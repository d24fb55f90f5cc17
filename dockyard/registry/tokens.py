"""Short-lived bearer tokens: JWTs signed with HMAC-SHA256 and a key in the storage dir."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
import uuid
from typing import Any

KEY_NAME = "token.key"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_key(directory: str) -> bytes:
    """The signing key, created (0600) on first use; shared by every process."""
    path = os.path.join(directory, KEY_NAME)
    try:
        with open(path, "rb") as stream:
            key = stream.read()
        if len(key) >= 32:
            return key
    except FileNotFoundError:
        pass
    key = os.urandom(32)
    temp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as stream:
        stream.write(key)
    try:
        os.link(temp, path)  # first writer wins
    except FileExistsError:
        pass
    os.unlink(temp)
    with open(path, "rb") as stream:
        return stream.read()


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
