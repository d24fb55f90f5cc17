"""The Digest value type and hashing readers/writers."""

from __future__ import annotations

import re

from dockyard.datarecord import dataclass
from dockyard.errors import InvalidDigest
from dockyard.streams import ObservedReader, ObservedWriter

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs start-up time
if TYPE_CHECKING:
    import hashlib
    from typing import BinaryIO


def _new_hash(algorithm: str, data: bytes = b"") -> hashlib._Hash:
    """hashlib is imported here: loading OpenSSL costs 5 ms of a command's start-up."""
    import hashlib

    return hashlib.new(algorithm, data)


_HEX_LENGTH = {"sha256": 64, "sha512": 128}
_DIGEST_PATTERN = r"^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$"  # re caches it compiled


@dataclass(frozen=True, order=True)
class Digest:
    """An OCI content digest such as ``sha256:<64 hex>``; sha256 and sha512 are accepted."""

    algorithm: str
    hex: str

    @classmethod
    def parse(cls, text: str) -> Digest:
        match = re.match(_DIGEST_PATTERN, text or "")
        if not match:
            raise InvalidDigest(f"invalid digest: {text!r}")
        algorithm, hexpart = match.groups()
        expected = _HEX_LENGTH.get(algorithm)
        if expected is None:
            raise InvalidDigest(f"unsupported digest algorithm: {algorithm}")
        if len(hexpart) != expected or not re.fullmatch(r"[0-9a-f]+", hexpart):
            raise InvalidDigest(f"invalid checksum digest format: {text!r}")
        return cls(algorithm, hexpart)

    @classmethod
    def of_bytes(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        return cls(algorithm, _new_hash(algorithm, data).hexdigest())

    @classmethod
    def is_valid(cls, text: str) -> bool:
        try:
            cls.parse(text)
        except InvalidDigest:
            return False
        return True

    def hasher(self) -> hashlib._Hash:
        return _new_hash(self.algorithm)

    @property
    def short(self) -> str:
        """The 12-character form Docker prints for IDs."""
        return self.hex[:12]

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


class HashingReader(ObservedReader):
    """Wraps a binary stream; hashes and counts every byte read through it."""

    def __init__(self, stream: BinaryIO, algorithm: str = "sha256") -> None:
        super().__init__(stream, self._seen)
        self._hash = _new_hash(algorithm)
        self.algorithm = algorithm
        self.count = 0

    def _seen(self, data: bytes | memoryview) -> None:
        self._hash.update(data)
        self.count += len(data)

    def drain(self, chunk: int = 1 << 20) -> None:
        """Read (and hash) whatever is left in the stream."""
        while self.read(chunk):
            pass

    def digest(self) -> Digest:
        return Digest(self.algorithm, self._hash.hexdigest())


class HashingWriter(ObservedWriter):
    """Wraps a binary stream; hashes and counts every byte written through it."""

    def __init__(self, stream: BinaryIO, algorithm: str = "sha256") -> None:
        super().__init__(stream, self._seen)
        self._hash = _new_hash(algorithm)
        self.algorithm = algorithm
        self.count = 0

    def _seen(self, data: bytes | bytearray | memoryview) -> None:
        self._hash.update(data)
        self.count += len(data)

    def digest(self) -> Digest:
        return Digest(self.algorithm, self._hash.hexdigest())
