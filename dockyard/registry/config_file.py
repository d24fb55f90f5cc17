"""``--config registry.yml`` (or ``.toml``): every ``registry serve`` option in one file.

Keys are the long option names, with ``-`` or ``_``::

    addr: 0.0.0.0:5000
    storage: s3://registry/prod?endpoint=http://10.0.0.5:7480
    metadata: postgresql://registry:secret@10.0.0.6:5432/registry
    gc-interval: 3600
    anonymous-pull: false

A flag on the command line wins over the file. Anything unknown or of the wrong type is
refused with one line naming it.
"""

from __future__ import annotations

import os
import tomllib
from typing import Any

import yaml

from dockyard.errors import InvalidArgument

# option -> type; the `registry serve` flags, plus anonymous-pull (the flag is its negation)
OPTIONS: dict[str, type] = {
    "addr": str,
    "storage": str,
    "metadata": str,
    "tls-cert": str,
    "tls-key": str,
    "realm": str,
    "service": str,
    "token-ttl": int,
    "anonymous-pull": bool,
    "gc-interval": float,
    "gc-grace": float,
    "upload-grace": float,
    "gc-delete-untagged": bool,
    "access-log": bool,
    "workers": int,
    "catalog-max": int,
    "trusted-proxies": str,
    # S3 credentials: only here (a flag would show in ps); else AWS_* or ~/.aws
    "s3-access-key": str,
    "s3-secret-key": str,
    "s3-session-token": str,
}
MAX_SIZE = 1 << 20


def _parse(path: str, text: str) -> object:
    if path.endswith(".toml"):
        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as error:
            raise InvalidArgument(f"{path}: not valid TOML: {error}") from None

    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        reason = str(error).replace("\n", " ")
        raise InvalidArgument(f"{path}: not valid YAML: {reason}") from None


def _typed(path: str, key: str, value: object) -> object:
    wanted = OPTIONS[key]
    if wanted is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, wanted) or (wanted is not bool and isinstance(value, bool)):
        raise InvalidArgument(f"{path}: {key} must be {wanted.__name__}, not {value!r}")
    if path and key in ("storage", "tls-cert", "tls-key") and "://" not in str(value):
        # relative paths are relative to the file, as in most servers' config files
        return os.path.join(os.path.dirname(os.path.abspath(path)), str(value))
    return value


def read_config_file(path: str) -> dict[str, Any]:
    """The options a config file sets, keyed by option name (``gc-interval``)."""
    try:
        with open(path, "rb") as stream:
            data = stream.read(MAX_SIZE + 1)
    except OSError as error:
        raise InvalidArgument(f"cannot read {path}: {error.strerror}") from None
    if len(data) > MAX_SIZE:
        raise InvalidArgument(f"{path}: larger than {MAX_SIZE} bytes")
    try:
        text = data.decode()
    except UnicodeDecodeError:
        raise InvalidArgument(f"{path}: not UTF-8 text") from None
    document = _parse(path, text)
    if document is None:
        return {}
    if not isinstance(document, dict):
        raise InvalidArgument(f"{path}: expected a mapping of option names to values")
    options: dict[str, Any] = {}
    for raw_key, value in document.items():
        key = str(raw_key).replace("_", "-")
        if key not in OPTIONS:
            raise InvalidArgument(f"{path}: unknown option {raw_key!r}")
        options[key] = _typed(path, key, value)
    return options
