"""Grammar of the names in request paths: repositories, tags, digests."""

from __future__ import annotations

from dockyard.digest import Digest
from dockyard.errors import InvalidDigest
from dockyard.reference import PATH_RE, TAG_RE
from dockyard.registry.errors import RegistryError

NAME_MAX = 255


def check_name(name: str) -> str:
    """A repository name as the spec's grammar allows it, else NAME_INVALID (400)."""
    if len(name) > NAME_MAX or not PATH_RE.match(name):
        raise RegistryError("NAME_INVALID", {"name": name})
    return name


def is_valid_name(name: str) -> bool:
    return len(name) <= NAME_MAX and PATH_RE.match(name) is not None


def parse_digest(text: str, code: str = "DIGEST_INVALID") -> Digest:
    """A digest from a path or query; malformed or unsupported algorithm gives 400."""
    try:
        return Digest.parse(text)
    except InvalidDigest as error:
        raise RegistryError(code, str(error)) from None


def is_digest_reference(reference: str) -> bool:
    return ":" in reference


def check_tag(tag: str) -> str:
    if not TAG_RE.match(tag):
        raise RegistryError("TAG_INVALID", {"tag": tag}, message="invalid tag")
    return tag
