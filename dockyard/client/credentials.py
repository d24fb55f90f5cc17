"""Credentials in Docker's config.json: ``auths`` entries with a base64 ``user:password``
``auth``, credential helpers (``credsStore``, ``credHelpers``), ``DOCKER_CONFIG`` honoured.

The file is rewritten atomically (temp file + rename, mode 0600) and keys this module
does not know are kept, so Docker and dockyard can share it.
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dockyard.errors import DockyardError

DOCKER_HUB_KEY = "https://index.docker.io/v1/"
DOCKER_HUB_HOSTS = ("docker.io", "index.docker.io", "registry-1.docker.io")


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    identity_token: str | None = None


def from_auth_config(auth: dict[str, Any] | None) -> Credentials | None:
    """Credentials from an Engine API AuthConfig (``X-Registry-Auth``): username,
    password, identitytoken; None when it carries none."""
    if not auth:
        return None
    username = str(auth.get("username") or auth.get("Username") or "")
    password = str(auth.get("password") or auth.get("Password") or "")
    token = auth.get("identitytoken") or auth.get("IdentityToken") or None
    encoded = auth.get("auth")
    if encoded and not username:
        try:
            username, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            pass
    if not (username or password or token):
        return None
    return Credentials(username, password, str(token) if token else None)


def config_dir() -> Path:
    explicit = os.environ.get("DOCKER_CONFIG")
    if explicit:
        return Path(explicit)
    return Path(os.path.expanduser("~")) / ".docker"


def config_file() -> Path:
    return config_dir() / "config.json"


def auth_key(host: str) -> str:
    """The key Docker files a registry's credentials under."""
    return DOCKER_HUB_KEY if host in DOCKER_HUB_HOSTS else host


def _hostname_of_key(key: str) -> str:
    """Docker's ConvertToHostname: 'https://host/v1/' -> 'host'."""
    for scheme in ("http://", "https://"):
        if key.startswith(scheme):
            key = key[len(scheme) :]
    return key.split("/", 1)[0]


def _read() -> dict[str, Any]:
    path = config_file()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    try:
        document = json.loads(raw) if raw.strip() else {}
    except ValueError as error:
        raise DockyardError(f"loading config file {path}: {error}") from None
    if not isinstance(document, dict):
        raise DockyardError(f"loading config file {path}: not a JSON object")
    return document


def _write(document: dict[str, Any]) -> Path:
    path = config_file()
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temp = tempfile.mkstemp(prefix="config.json.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as stream:
            stream.write(json.dumps(document, indent="\t"))
        os.chmod(temp, 0o600)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def _helper_for(document: dict[str, Any], host: str) -> str | None:
    helpers = document.get("credHelpers") or {}
    if isinstance(helpers, dict):
        helper = helpers.get(host) or helpers.get(auth_key(host))
        if helper:
            return str(helper)
    store = document.get("credsStore")
    return str(store) if store else None


def _run_helper(helper: str, action: str, payload: str) -> str:
    program = f"docker-credential-{helper}"
    try:
        process = subprocess.run(
            [program, action], input=payload, capture_output=True, text=True, timeout=60
        )
    except FileNotFoundError:
        raise DockyardError(
            f'error getting credentials - err: exec: "{program}": executable file not found in $PATH'
        ) from None
    if process.returncode != 0:
        message = (process.stdout or process.stderr).strip()
        if "credentials not found" in message.lower():
            return ""
        raise DockyardError(f"error {action}ing credentials - err: {message}")
    return process.stdout


def load(host: str) -> Credentials | None:
    """Credentials for a registry host, or None (anonymous)."""
    document = _read()
    helper = _helper_for(document, host)
    if helper:
        output = _run_helper(helper, "get", auth_key(host))
        if output.strip():
            data = json.loads(output)
            username, secret = data.get("Username", ""), data.get("Secret", "")
            if username == "<token>":
                return Credentials("", "", secret)
            return Credentials(username, secret)
    auths = document.get("auths") or {}
    if not isinstance(auths, dict):
        return None
    entry = auths.get(auth_key(host))
    if entry is None:
        wanted = _hostname_of_key(auth_key(host))
        for key, value in auths.items():
            if _hostname_of_key(key) == wanted:
                entry = value
                break
    if not isinstance(entry, dict):
        return None
    username, password = entry.get("username") or "", entry.get("password") or ""
    encoded = entry.get("auth")
    if encoded:
        try:
            decoded = base64.b64decode(encoded).decode()
        except ValueError:
            raise DockyardError(f"invalid auth configuration file for {host}") from None
        username, _, password = decoded.partition(":")
    token = entry.get("identitytoken") or None
    if not (username or password or token):
        return None
    return Credentials(username, password, token)


def save(host: str, credentials: Credentials) -> tuple[Path, bool]:
    """Store credentials; returns (config file, True when they are stored unencrypted)."""
    document = _read()
    helper = _helper_for(document, host)
    if helper:
        payload = json.dumps(
            {
                "ServerURL": auth_key(host),
                "Username": credentials.username,
                "Secret": credentials.password,
            }
        )
        _run_helper(helper, "store", payload)
        auths = document.setdefault("auths", {})
        auths[auth_key(host)] = {}
        return _write(document), False
    auths = document.get("auths")
    if not isinstance(auths, dict):
        auths = document["auths"] = {}
    token = f"{credentials.username}:{credentials.password}".encode()
    entry: dict[str, str] = {"auth": base64.b64encode(token).decode()}
    if credentials.identity_token:
        entry["identitytoken"] = credentials.identity_token
    auths[auth_key(host)] = entry
    return _write(document), True


def erase(host: str) -> bool:
    """Forget a registry's credentials; False when there were none."""
    document = _read()
    auths = document.get("auths") or {}
    found = False
    if isinstance(auths, dict):
        wanted = _hostname_of_key(auth_key(host))
        for key in [k for k in auths if k == auth_key(host) or _hostname_of_key(k) == wanted]:
            del auths[key]
            found = True
    helper = _helper_for(document, host)
    if helper:
        try:
            _run_helper(helper, "erase", auth_key(host))
            found = True
        except DockyardError:
            pass
    if found:
        _write(document)
    return found
