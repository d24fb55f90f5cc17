"""A SHA-256 whose running state can be saved and restored in another process.

An upload continued on another registry node needs the hash of the bytes the first
node received; hashlib cannot export its state, and hashing the whole upload again
means reading it back from storage. OpenSSL's SHA256_CTX is a plain structure (the
eight chaining words, the bit count and the unhashed tail of the last block), so its
bytes are the state: ``state()`` exports them, ``restore()`` takes them back. The
same assembly code hashes as in hashlib, and ctypes releases the GIL during a call.

Without libcrypto (or with a state from an incompatible build) ``available`` is False
or ``restore`` returns None, and callers hash the stored bytes again.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib

MAGIC = b"dockyard-sha256-ctx-v1:"


class _Sha256Ctx(ctypes.Structure):
    _fields_ = [
        ("h", ctypes.c_uint32 * 8),
        ("nl", ctypes.c_uint32),
        ("nh", ctypes.c_uint32),
        ("data", ctypes.c_uint32 * 16),
        ("num", ctypes.c_uint),
        ("md_len", ctypes.c_uint),
    ]


def _load():
    for name in ("libcrypto.so.3", ctypes.util.find_library("crypto")):
        if not name:
            continue
        try:
            lib = ctypes.CDLL(name)
            init, update, final = lib.SHA256_Init, lib.SHA256_Update, lib.SHA256_Final
        except (OSError, AttributeError):
            continue
        init.argtypes = [ctypes.POINTER(_Sha256Ctx)]
        update.argtypes = [ctypes.POINTER(_Sha256Ctx), ctypes.c_void_p, ctypes.c_size_t]
        final.argtypes = [ctypes.c_char_p, ctypes.POINTER(_Sha256Ctx)]
        return init, update, final
    return None


_FUNCTIONS = _load()
_SELF_TEST = b"abc"


class ResumableSha256:
    """hashlib's sha256 interface (``update``, ``hexdigest``) plus ``state``/``restore``."""

    name = "sha256"

    def __init__(self, ctx: _Sha256Ctx | None = None) -> None:
        assert _FUNCTIONS is not None
        if ctx is None:
            ctx = _Sha256Ctx()
            _FUNCTIONS[0](ctypes.byref(ctx))
        self._ctx = ctx

    def update(self, data: bytes | bytearray | memoryview) -> None:
        if not isinstance(data, bytes):
            data = bytes(data)
        if data:
            _FUNCTIONS[1](ctypes.byref(self._ctx), data, len(data))  # type: ignore[index]

    def hexdigest(self) -> str:
        copy = _Sha256Ctx.from_buffer_copy(self._ctx)  # Final consumes the context
        out = ctypes.create_string_buffer(32)
        _FUNCTIONS[2](out, ctypes.byref(copy))  # type: ignore[index]
        return out.raw.hex()

    def state(self) -> bytes:
        return MAGIC + bytes(self._ctx)

    @classmethod
    def restore(cls, state: bytes | None) -> ResumableSha256 | None:
        """The hasher saved in ``state``; None when it cannot be used here."""
        if not available() or not state or not state.startswith(MAGIC):
            return None
        raw = state[len(MAGIC) :]
        if len(raw) != ctypes.sizeof(_Sha256Ctx):
            return None
        ctx = _Sha256Ctx.from_buffer_copy(raw)
        if ctx.md_len != 32 or ctx.num >= 64:
            return None
        return cls(ctx)


def _self_test() -> bool:
    if _FUNCTIONS is None:
        return False
    try:
        hasher = ResumableSha256()
        hasher.update(_SELF_TEST[:1])
        restored = ResumableSha256(_Sha256Ctx.from_buffer_copy(hasher.state()[len(MAGIC) :]))
        restored.update(_SELF_TEST[1:])
        return restored.hexdigest() == hashlib.sha256(_SELF_TEST).hexdigest()
    except Exception:  # noqa: BLE001 - any surprise: fall back to hashlib
        return False


_AVAILABLE = _self_test()


def available() -> bool:
    return _AVAILABLE


def new_hasher(algorithm: str):
    """A resumable hasher for sha256 where possible, else hashlib's."""
    if algorithm == "sha256" and _AVAILABLE:
        return ResumableSha256()
    return hashlib.new(algorithm)


def export_state(hasher) -> bytes | None:
    return hasher.state() if isinstance(hasher, ResumableSha256) else None
