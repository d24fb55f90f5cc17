"""Finding an image the way Docker's daemon does: reference, then ID, then ID prefix."""

from __future__ import annotations

from dockyard import reference
from dockyard.digest import Digest
from dockyard.errors import InvalidDigest, InvalidReference, NotFound
from dockyard.store import Store


def _not_found_name(text: str) -> str:
    try:
        return reference.parse(text).with_default_tag().familiar()
    except InvalidReference:
        return text


def resolve_image_id(store: Store, text: str) -> Digest:
    """Image ID for a name[:tag], name@digest, full ID, sha256:ID or unique ID prefix."""
    if text.startswith("sha256:") or reference.HEX_ID_RE.match(text):
        full = text if text.startswith("sha256:") else f"sha256:{text}"
        try:
            digest = Digest.parse(full)
        except InvalidDigest:
            digest = None
        if digest is not None:
            if store.db.execute("SELECT 1 FROM images WHERE id = ?", (str(digest),)).fetchone():
                return digest
            raise NotFound(f"No such image: {text}")
        found = store.search_id_prefix(text)
        if found is not None:
            return found
        raise NotFound(f"No such image: {text}")
    ref = reference.parse(text).with_default_tag()
    found = store.lookup_ref(ref)
    if found is not None:
        return found
    found = store.search_id_prefix(text)
    if found is not None:
        return found
    raise NotFound(f"No such image: {ref.familiar()}")


def is_id_prefix(image_id: Digest, text: str) -> bool:
    """Docker's isImageIDPrefix: the user named the image by (a prefix of) its ID."""
    return str(image_id).startswith(text) or image_id.hex.startswith(text)


__all__ = ["resolve_image_id", "is_id_prefix", "_not_found_name"]
