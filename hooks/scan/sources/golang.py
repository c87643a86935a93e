"""Go binaries: the module build information that the Go toolchain (1.18 and later) embeds in
every executable, found by its magic in the `.go.buildinfo` data while the file streams past.

Searching the bytes rather than parsing ELF sections keeps the reader a stream (a binary of
hundreds of megabytes is never held whole) and also finds the information in stripped
binaries. The format: a 32-byte header (the magic, pointer size, flags), then, when flag 2 is
set, the Go version and the module information as length-prefixed strings. Binaries built before
Go 1.18 store pointers instead and are not read.
"""

from __future__ import annotations

from ..layers import Entry
from ..packages import GOLANG, Package

ELF = b"\x7fELF"
MAGIC = b"\xff Go buildinf:"
HEADER = 32
INLINE_STRINGS = 0x2
MAX_INFO = 1 << 20  # the version and module lines: a few kilobytes in practice
BLOCK = 1 << 20


def _uvarint(data: bytes, at: int) -> tuple[int, int]:
    value, shift = 0, 0
    while at < len(data) and shift < 64:
        byte = data[at]
        value |= (byte & 0x7F) << shift
        at += 1
        if not byte & 0x80:
            return value, at
        shift += 7
    raise ValueError("truncated varint")


def _strings(data: bytes) -> tuple[str, str] | None:
    """The Go version and module information after a header at the start of `data`."""
    if len(data) < HEADER or not data[15] & INLINE_STRINGS:
        return None
    try:
        length, at = _uvarint(data, HEADER)
        version = data[at : at + length].decode("utf-8", "replace")
        length, at = _uvarint(data, at + length)
        modinfo = data[at : at + length]
    except ValueError:
        return None
    if len(modinfo) >= 33 and modinfo[-17:-16] == b"\n":
        modinfo = modinfo[16:-16]  # sentinels around the text
    return version, modinfo.decode("utf-8", "replace")


def _buildinfo(entry: Entry, head: bytes) -> bytes | None:
    """The bytes from the magic on (up to MAX_INFO), streaming the rest of the file."""
    window = head
    while True:
        found = window.find(MAGIC)
        if found >= 0:
            info = window[found:]
            while len(info) < MAX_INFO and (more := entry.read(BLOCK)):
                info += more
            return info[:MAX_INFO]
        block = entry.read(BLOCK)
        if not block:
            return None
        window = window[-(len(MAGIC) - 1) :] + block


def parse_modinfo(path: str, go_version: str, modinfo: str) -> list[Package]:
    """The main module, its dependencies (as replaced, when `=>` lines replace them) and the
    standard library of the Go version that built the binary."""
    modules: list[tuple[str, str]] = []
    for line in modinfo.splitlines():
        fields = line.split("\t")
        if fields[0] in ("mod", "dep") and len(fields) >= 3:
            modules.append((fields[1], fields[2]))
        elif fields[0] == "=>" and len(fields) >= 3 and modules:
            modules[-1] = (fields[1], fields[2])
    found = [Package(kind=GOLANG, name=name, version=version, path=path) for name, version in modules if version]
    if go_version:
        found.append(Package(kind=GOLANG, name="stdlib", version=go_version, path=path))
    return found


def scan(entry: Entry, head: bytes) -> list[Package]:
    """The Go packages of a file whose first bytes are `head`; [] for anything else."""
    if not head.startswith(ELF):
        return []
    info = _buildinfo(entry, head)
    strings = _strings(info) if info is not None else None
    return parse_modinfo(entry.path, *strings) if strings else []
