"""What a build fetches over HTTP: `ADD http(s)://...` sources and a context given as a
URL (a tar, or a lone Dockerfile), as Docker 20.10's classic builder fetches them.

ADD's download is written 0600 in a private directory, named from the URL's last path
element, its mtime from Last-Modified; its checksum is an image-side one (names from the
host's databases), as Docker's lazy source computes it."""

from __future__ import annotations

import email.utils
import os
import posixpath
import urllib.parse
import urllib.request

from dockyard.errors import InvalidArgument

TYPE_CHECKING = False
if TYPE_CHECKING:
    pass

MAX_DOWNLOAD = 8 << 30
TIMEOUT = 60


def _open(url: str):  # type: ignore[no-untyped-def]
    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in ("http", "https"):
        raise InvalidArgument(f"unsupported URL scheme: {url}")
    try:
        return urllib.request.urlopen(url, timeout=TIMEOUT)  # noqa: S310 - scheme checked
    except OSError as error:
        reason = getattr(error, "reason", error)
        raise InvalidArgument(f"failed to GET {url}: {reason}") from None


def download(url: str, directory: str) -> str:
    """The URL's content as a file in directory; its path."""
    parsed = urllib.parse.urlsplit(url)
    name = posixpath.basename(parsed.path.rstrip("/")) or ""
    if not name or name in (".", ".."):
        raise InvalidArgument(f"cannot determine filename from url: {url}")
    with _open(url) as response:
        status = getattr(response, "status", 200)
        if status >= 400:
            raise InvalidArgument(f"failed to GET {url} with status {status}")
        path = os.path.join(directory, name)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
        written = 0
        with os.fdopen(os.open(path, flags, 0o600), "wb") as out:
            while chunk := response.read(1 << 20):
                written += len(chunk)
                if written > MAX_DOWNLOAD:
                    raise InvalidArgument(f"download of {url} is larger than {MAX_DOWNLOAD} bytes")
                out.write(chunk)
        modified = response.headers.get("Last-Modified")
    os.chmod(path, 0o600)
    if modified:
        try:
            stamp = email.utils.parsedate_to_datetime(modified).timestamp()
            os.utime(path, (stamp, stamp))
        except (TypeError, ValueError):
            pass
    return path


def fetch_context(url: str, dockerfile: str | None, work_dir: str | None):  # type: ignore[no-untyped-def]
    """`build URL`: the URL's body is a context tar (plain or compressed) or a Dockerfile."""
    from dockyard.build.context import from_tar

    with _open(url) as response:
        return from_tar(response, dockerfile, work_dir)
