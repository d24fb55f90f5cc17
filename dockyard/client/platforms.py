"""Platforms: the host's, parsing ``--platform``, and choosing an index entry."""

from __future__ import annotations

import os

from dockyard.errors import InvalidArgument, NotFound
from dockyard.oci.types import Descriptor, Index, Platform

_ARCHITECTURES = {
    "x86_64": ("amd64", None),
    "amd64": ("amd64", None),
    "aarch64": ("arm64", "v8"),
    "arm64": ("arm64", "v8"),
    "armv7l": ("arm", "v7"),
    "armv6l": ("arm", "v6"),
    "i386": ("386", None),
    "i686": ("386", None),
    "ppc64le": ("ppc64le", None),
    "s390x": ("s390x", None),
    "riscv64": ("riscv64", None),
}


def host_platform() -> Platform:
    machine = os.uname().machine.lower()  # what platform.machine() says (~1 ms to import)
    architecture, variant = _ARCHITECTURES.get(machine, (machine, None))
    return Platform(architecture, "linux", variant)


def parse_platform(text: str | None) -> Platform:
    if not text:
        return host_platform()
    parts = text.lower().split("/")
    if len(parts) == 1:
        return Platform(host_platform().architecture, parts[0])
    if len(parts) > 3 or not all(parts):
        raise InvalidArgument(
            f'"{text}": unknown operating system or architecture: invalid argument'
        )
    architecture = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64"}.get(
        parts[1], parts[1]
    )
    variant = parts[2] if len(parts) == 3 else None
    if architecture == "arm64" and variant is None:
        variant = "v8"
    return Platform(architecture, parts[0], variant)


def platform_text(platform: Platform) -> str:
    text = f"{platform.os}/{platform.architecture}"
    if platform.variant and not (platform.architecture == "arm64" and platform.variant == "v8"):
        text += f"/{platform.variant}"
    return text


def _normal_variant(platform: Platform) -> str | None:
    if platform.architecture == "arm64" and platform.variant in (None, "v8"):
        return "v8"
    return platform.variant


def choose(index: Index, wanted: Platform) -> Descriptor:
    """The entry for ``wanted``: same OS and architecture, the variant matching when asked
    for; attestation entries (platform unknown/unknown) are never chosen."""
    candidates: list[tuple[int, int, Descriptor]] = []
    for position, entry in enumerate(index.manifests):
        found = entry.platform
        if found is None or found.os != wanted.os or found.architecture != wanted.architecture:
            continue
        annotations = entry.annotations or {}
        if annotations.get("vnd.docker.reference.type") == "attestation-manifest":
            continue
        want_variant, have_variant = _normal_variant(wanted), _normal_variant(found)
        if want_variant and have_variant and want_variant != have_variant:
            continue
        exact = 0 if want_variant == have_variant else 1
        candidates.append((exact, position, entry))
    if not candidates:
        raise NotFound(
            f"no matching manifest for {platform_text(wanted)} in the manifest list entries"
        )
    return min(candidates, key=lambda c: (c[0], c[1]))[2]
