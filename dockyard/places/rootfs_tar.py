"""The flat rootfs tar place (`import`): a filesystem tar (a file, stdin or a URL) read
as a one-layer image. Its config names the layer's diff ID, known only once the tar
has been read: the image is completed after its layer is in (``Image.complete``)."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import BinaryIO

from dockyard.digest import Digest
from dockyard.errors import NotFound
from dockyard.oci import mediatypes as mt
from dockyard.places.base import Image, Layer, Opener, Report
from dockyard.places.tar_reader import open_input
from dockyard.reference import Reference
from dockyard.streams import PrefixedReader


def open_rootfs(source: str) -> tuple[BinaryIO, str]:
    """The stream for FILE, '-' or a URL, and the name that goes into the comment."""
    if source == "-":
        return sys.stdin.buffer, "-"
    if source.startswith(("http://", "https://")):
        import urllib.request

        try:
            return urllib.request.urlopen(source, timeout=60), source  # noqa: S310
        except OSError as error:
            raise NotFound(f"Get {source!r}: {error}") from None
    # The docker CLI uploads a file as the request body: the daemon sees "-".
    return open_input(source), "-"


class RootfsTarSource:
    """One image: the tar in ``stream`` as its only layer (an empty input is Docker's
    empty layer), its config made by ``config_for(diff_id)``."""

    synchronous = True

    def __init__(
        self, stream: BinaryIO, config_for: Callable[[Digest], bytes], names: list[Reference]
    ) -> None:
        self.stream = stream
        self.config_for = config_for
        self.names = names

    async def images(self) -> list[Image]:
        self._head = self.stream.read(512)
        size = len(self._head) and -1  # 0: empty; the rest is not known before reading
        layer = Layer(None, mt.OCI_LAYER, size, None, "")  # type: ignore[arg-type]

        def complete(image: Image) -> bytes:
            return self.config_for(image.layers[0].diff_id)

        return [Image(b"", [layer], self.names, complete=complete)]

    async def fetch(self, layers: list[Layer], report: Report) -> list[Opener]:
        @contextmanager
        def open_tar() -> Iterator[BinaryIO]:
            yield PrefixedReader(self._head, self.stream)  # type: ignore[misc]

        return [open_tar for _layer in layers]

    def interrupt(self) -> None:
        pass

    async def close(self, succeeded: bool) -> None:
        pass
