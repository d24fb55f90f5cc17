"""``s3://BUCKET[/PREFIX]?endpoint=URL&region=R&addressing=path|virtual&redirect=true``.

The storage option of ``registry serve`` names an S3-compatible bucket this way.
Credentials are not part of it: botocore's usual chain finds them (``AWS_ACCESS_KEY_ID``
/ ``AWS_SECRET_ACCESS_KEY``, ``AWS_PROFILE`` and the files ``~/.aws/credentials`` and
``~/.aws/config``), unless the registry's configuration gives them (``access_key`` /
``secret_key`` query keys are refused: a URL ends up in logs and ``ps``).
"""

from __future__ import annotations

import re
import urllib.parse
from dataclasses import dataclass

from dockyard.errors import InvalidArgument

_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_ADDRESSING = ("auto", "path", "virtual")
_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")
KNOWN_KEYS = ("endpoint", "region", "addressing", "redirect", "redirect-ttl", "profile")


def is_s3_url(storage: str | None) -> bool:
    return bool(storage) and storage.startswith("s3://")  # type: ignore[union-attr]


def _flag(name: str, value: str) -> bool:
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise InvalidArgument(f"invalid S3 storage option {name}={value!r}: expected true or false")


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str = ""  # without leading or trailing slashes
    endpoint: str | None = None  # None: AWS's own endpoint for the region
    region: str | None = None
    addressing: str = "auto"  # "path", "virtual", or auto (path with an endpoint, as CNCF's)
    redirect: bool = False  # answer blob GETs with a 307 to a presigned URL
    redirect_ttl: int = 1200
    profile: str | None = None
    access_key: str | None = None  # from the registry's configuration, never the URL
    secret_key: str | None = None
    session_token: str | None = None

    @property
    def addressing_style(self) -> str:
        if self.addressing != "auto":
            return self.addressing
        return "path" if self.endpoint else "virtual"

    def key(self, path: str) -> str:
        return f"{self.prefix}/{path}" if self.prefix else path

    def display(self) -> str:
        where = f" at {self.endpoint}" if self.endpoint else ""
        return f"s3://{self.bucket}/{self.prefix}{where}"

    @classmethod
    def parse(cls, url: str, **credentials: str | None) -> S3Location:
        parts = urllib.parse.urlsplit(url)
        if parts.scheme != "s3" or not parts.netloc:
            raise InvalidArgument(f"invalid S3 storage {url!r}: expected s3://BUCKET[/PREFIX]")
        if "@" in parts.netloc:
            raise InvalidArgument(
                "S3 credentials do not go in the storage URL: set AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY (or an AWS profile)"
            )
        bucket = parts.netloc
        if not _BUCKET_RE.match(bucket) or ".." in bucket:
            raise InvalidArgument(f"invalid S3 bucket name {bucket!r}")
        prefix = parts.path.strip("/")
        if any(p in ("", ".", "..") for p in prefix.split("/")) and prefix:
            raise InvalidArgument(f"invalid S3 prefix {parts.path!r}")
        query = urllib.parse.parse_qs(parts.query, keep_blank_values=True, strict_parsing=False)
        options: dict[str, str] = {}
        for name, values in query.items():
            if name in ("access_key", "secret_key", "access-key", "secret-key"):
                raise InvalidArgument(
                    "S3 credentials do not go in the storage URL: set AWS_ACCESS_KEY_ID and "
                    "AWS_SECRET_ACCESS_KEY (or an AWS profile)"
                )
            if name not in KNOWN_KEYS:
                raise InvalidArgument(
                    f"unknown S3 storage option {name!r} (known: {', '.join(KNOWN_KEYS)})"
                )
            options[name] = values[-1]
        endpoint = options.get("endpoint") or None
        if endpoint is not None:
            scheme = urllib.parse.urlsplit(endpoint)
            if scheme.scheme not in ("http", "https") or not scheme.netloc:
                raise InvalidArgument(f"invalid S3 endpoint {endpoint!r}: expected http(s)://HOST")
        addressing = options.get("addressing", "auto")
        if addressing not in _ADDRESSING:
            raise InvalidArgument(
                f"invalid S3 addressing {addressing!r}: expected {', '.join(_ADDRESSING)}"
            )
        ttl_text = options.get("redirect-ttl", "1200")
        if not ttl_text.isdigit() or not 0 < int(ttl_text) <= 7 * 86400:
            raise InvalidArgument(f"invalid S3 redirect-ttl {ttl_text!r}: seconds, up to 7 days")
        return cls(
            bucket=bucket,
            prefix=prefix,
            endpoint=endpoint.rstrip("/") if endpoint else None,
            region=options.get("region") or None,
            addressing=addressing,
            redirect=_flag("redirect", options["redirect"]) if "redirect" in options else False,
            redirect_ttl=int(ttl_text),
            profile=options.get("profile") or None,
            access_key=credentials.get("access_key"),
            secret_key=credentials.get("secret_key"),
            session_token=credentials.get("session_token"),
        )
