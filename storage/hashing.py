"""Incremental hashes whose state can be saved and restored in another process.

Python's ``hashlib`` cannot export its state, yet an upload may be continued by another
worker, replica or a restarted process. OpenSSL's low-level SHA API keeps its whole state in a
plain struct, so we drive it through ctypes and save the struct's bytes. The state is only
meaningful to the same OpenSSL struct layout, so it is tagged; a process that cannot restore a
state rehashes the stored bytes instead (``Hasher.restore`` returns None).

Bytes read back from a database go into a struct that OpenSSL trusts (its buffer index decides
where the next bytes are copied), so a restored state is checked first: its length, the digest
length the struct announces, the buffer index and the bit count, which must be the number of
bytes the session holds. A state that fails is refused with `HashStateInvalid`.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import hashlib
import struct
from dataclasses import dataclass
from typing import Any

_CTX_BYTES = {"sha256": 112, "sha512": 216}
_DIGEST_BYTES = {"sha256": 32, "sha512": 64}


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where SHA256_CTX / SHA512_CTX keep their counters: the bit count (low, high words), then
    the block buffer, then `num` (bytes in the buffer) and `md_len`."""

    word: str  # struct format of one count word
    count_at: int
    block: int
    num_at: int


_LAYOUTS = {"sha256": _Layout("I", 32, 64, 104), "sha512": _Layout("Q", 64, 128, 208)}


class HashStateInvalid(ValueError):
    """A saved hash state that is ours but cannot be right (a corrupt or tampered row)."""


def _check(algorithm: str, raw: bytes, size: int) -> None:
    layout = _LAYOUTS[algorithm]
    width = struct.calcsize("=" + layout.word)
    low, high = struct.unpack_from("=" + layout.word * 2, raw, layout.count_at)
    num, md_len = struct.unpack_from("=II", raw, layout.num_at)
    bits = low | (high << (8 * width))
    if md_len != _DIGEST_BYTES[algorithm]:
        raise HashStateInvalid(f"the {algorithm} state announces a {md_len}-byte digest")
    if num >= layout.block:
        raise HashStateInvalid(f"the {algorithm} state holds {num} buffered bytes, more than a block")
    if bits != 8 * size or (size % layout.block) != num:
        raise HashStateInvalid(f"the {algorithm} state has hashed {bits / 8:g} bytes, the upload holds {size}")


def _load_libcrypto() -> Any:
    name = ctypes.util.find_library("crypto")
    if name is None:
        return None
    try:
        lib = ctypes.CDLL(name)
        for algo in ("SHA256", "SHA512"):
            for fn in ("Init", "Update", "Final"):
                getattr(lib, f"{algo}_{fn}").restype = ctypes.c_int
            getattr(lib, f"{algo}_Update").argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_size_t]
        return lib
    except (OSError, AttributeError):
        return None


_LIB = _load_libcrypto()
_TAG = b"ossl1:"


@dataclass(frozen=True, slots=True)
class _Funcs:
    init: Any
    update: Any
    final: Any


def _funcs(algorithm: str) -> _Funcs:
    prefix = algorithm.upper()
    return _Funcs(getattr(_LIB, f"{prefix}_Init"), getattr(_LIB, f"{prefix}_Update"), getattr(_LIB, f"{prefix}_Final"))


class Hasher:
    """sha256/sha512 that hashes as bytes arrive and can serialize its state."""

    def __init__(self, algorithm: str = "sha256", _ctx: bytes | None = None) -> None:
        if algorithm not in _CTX_BYTES:
            raise ValueError(f"unsupported hash algorithm {algorithm}")
        self.algorithm = algorithm
        self._ctx: Any = None
        self._py: Any = None
        if _LIB is None:
            self._py = hashlib.new(algorithm)
            return
        self._f = _funcs(algorithm)
        self._ctx = ctypes.create_string_buffer(_CTX_BYTES[algorithm])
        if _ctx is None:
            self._f.init(self._ctx)
        else:
            ctypes.memmove(self._ctx, _ctx, len(_ctx))

    def update(self, data: bytes | bytearray | memoryview) -> None:
        if self._py is not None:
            self._py.update(data)
            return
        buf = data if isinstance(data, bytes) else bytes(data)
        self._f.update(self._ctx, buf, len(buf))

    def hexdigest(self) -> str:
        if self._py is not None:
            return str(self._py.hexdigest())
        copy = ctypes.create_string_buffer(self._ctx.raw, len(self._ctx.raw))
        out = ctypes.create_string_buffer(_DIGEST_BYTES[self.algorithm])
        self._f.final(out, copy)
        return out.raw.hex()

    def state(self) -> bytes | None:
        """The serialized state, or None when this process cannot export one."""
        if self._py is not None:
            return None
        return _TAG + bytes(self._ctx.raw)

    @classmethod
    def restore(cls, algorithm: str, state: bytes | None, size: int) -> Hasher | None:
        """The hasher that has hashed `size` bytes, from their saved state; None when this process
        cannot use it (none saved, or another layout), HashStateInvalid when it is corrupt."""
        if _LIB is None or state is None or not state.startswith(_TAG) or algorithm not in _CTX_BYTES:
            return None
        raw = state[len(_TAG) :]
        if len(raw) != _CTX_BYTES[algorithm]:
            raise HashStateInvalid(f"the {algorithm} state has {len(raw)} bytes, not {_CTX_BYTES[algorithm]}")
        _check(algorithm, raw, size)
        return cls(algorithm, raw)
