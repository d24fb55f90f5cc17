"""Docker image references: grammar, normalisation and familiar names.

Inside dockyard a reference is always fully qualified (``docker.io/library/ubuntu:latest``);
output uses the familiar form (``ubuntu:latest``), as Docker does.
"""

from __future__ import annotations

import re

from dockyard.datarecord import dataclass
from dockyard.digest import Digest
from dockyard.errors import InvalidDigest, InvalidReference

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"
OFFICIAL_NAMESPACE = "library"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

_ALNUM = r"[a-z0-9]+"
_SEPARATOR = r"(?:[._]|__|[-]+)"
_PATH_COMPONENT = rf"{_ALNUM}(?:{_SEPARATOR}{_ALNUM})*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[(?:[a-fA-F0-9:]+)\]"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_HOST = rf"(?:{_DOMAIN_NAME}|{_IPV6})"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*[:][0-9a-fA-F]{32,}"
_NAME = rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"

# Compiled on first use (compiling them all costs about 2 ms of every command's
# start-up); `reference.TAG_RE` and the others still work, through __getattr__.
_PATTERNS = {
    "REFERENCE_RE": rf"^({_NAME})(?::({_TAG}))?(?:@({_DIGEST}))?$",
    "TAG_RE": rf"^{_TAG}$",
    "PATH_RE": rf"^{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*$",
    "HEX_ID_RE": r"^[a-f0-9]{64}$",
}
_compiled: dict[str, re.Pattern[str]] = {}


def _pattern(name: str) -> re.Pattern[str]:
    compiled = _compiled.get(name)
    if compiled is None:
        compiled = _compiled[name] = re.compile(_PATTERNS[name])
    return compiled


def __getattr__(name: str) -> re.Pattern[str]:
    if name in _PATTERNS:
        return _pattern(name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@dataclass(frozen=True)
class Reference:
    """A normalised reference: domain, path, and an optional tag and/or digest."""

    domain: str
    path: str
    tag: str | None = None
    digest: Digest | None = None

    @property
    def name(self) -> str:
        """Fully qualified repository name, e.g. ``docker.io/library/ubuntu``."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """Repository name as Docker prints it, e.g. ``ubuntu`` or ``someuser/debian``."""
        if self.domain == DEFAULT_DOMAIN:
            prefix = OFFICIAL_NAMESPACE + "/"
            if self.path.startswith(prefix) and "/" not in self.path[len(prefix) :]:
                return self.path[len(prefix) :]
            return self.path
        return self.name

    def __str__(self) -> str:
        text = self.name
        if self.tag:
            text += ":" + self.tag
        if self.digest:
            text += "@" + str(self.digest)
        return text

    def familiar(self) -> str:
        text = self.familiar_name
        if self.tag:
            text += ":" + self.tag
        if self.digest:
            text += "@" + str(self.digest)
        return text

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.domain, self.path, tag, None)

    def with_default_tag(self) -> Reference:
        """``TagNameOnly``: add ``latest`` when neither tag nor digest is given."""
        if self.tag is None and self.digest is None:
            return Reference(self.domain, self.path, DEFAULT_TAG, None)
        return self

    def repository(self) -> Reference:
        return Reference(self.domain, self.path)


def _split_domain(name: str) -> tuple[str, str]:
    slash = name.find("/")
    first = name[:slash] if slash >= 0 else ""
    if slash == -1 or (
        not any(c in first for c in ".:") and first != "localhost" and first.lower() == first
    ):
        domain, remainder = DEFAULT_DOMAIN, name
    else:
        domain, remainder = first, name[slash + 1 :]
    if domain == LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in remainder:
        remainder = f"{OFFICIAL_NAMESPACE}/{remainder}"
    return domain, remainder


def parse(text: str) -> Reference:
    """Parse and normalise a reference the way ``ParseNormalizedNamed`` does.

    Raises InvalidReference with Docker's wording.
    """
    if not text:
        raise InvalidReference("invalid reference format")
    if _pattern("HEX_ID_RE").match(text):
        raise InvalidReference(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    domain, remainder = _split_domain(text)
    remote = remainder
    for sep in ("@", ":"):
        index = remote.find(sep)
        if index != -1:
            remote = remote[:index]
    if remote.lower() != remote:
        raise InvalidReference(
            f"invalid reference format: repository name ({remote}) must be lowercase"
        )
    if domain != DEFAULT_DOMAIN and domain.lower() != domain and not any(c in domain for c in ".:"):
        raise InvalidReference("invalid reference format: repository name must be lowercase")
    full = f"{domain}/{remainder}"
    match = _pattern("REFERENCE_RE").match(full)
    if not match:
        raise InvalidReference("invalid reference format")
    name, tag, digest_text = match.groups()
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReference(
            f"invalid reference format: repository name must not be more than "
            f"{NAME_TOTAL_LENGTH_MAX} characters"
        )
    digest = None
    if digest_text:
        try:
            digest = Digest.parse(digest_text)
        except InvalidDigest as error:
            raise InvalidReference(f"invalid reference format: {error}") from None
    path = name[len(domain) + 1 :]
    return Reference(domain, path, tag, digest)


def parse_tagged(text: str) -> Reference:
    """Parse a reference and add ``:latest`` when it has neither tag nor digest."""
    return parse(text).with_default_tag()


def is_valid_tag(tag: str) -> bool:
    return bool(_pattern("TAG_RE").match(tag))


def familiar(name: str) -> str:
    """Familiar form of a stored fully qualified reference string."""
    return parse(name).familiar()
