"""Faster packing of WiredTiger keys and values for the embedded database.

WiredTiger's Python binding packs every key and value it hands to a cursor, and unpacks every one
it reads back, with a general interpreter of the format string written in Python (generators, a
new bytes object per field). SecantusDB uses a handful of formats: NUL-terminated strings (`S`),
64-bit integers (`q`) and a trailing raw byte string (`u`). Under the registration rush that
interpreter is a seventh of the database's CPU.

`install()` replaces the binding's `pack` and `unpack` with functions that build one packer per
format, for formats made of those three conversions, and hand anything else (another format, a
value of an unexpected type, bytes that are not what the format says) to the binding's own
functions: the bytes and values are the same in every case, which the tests check against them.
"""
import logging
import sys

import wiredtiger
from wiredtiger import Cursor
from wiredtiger.intpacking import pack_int, unpack_int

log = logging.getLogger(__name__)

WRITTEN_FOR = (11, 2, 0)  # the WiredTiger release whose binding's module globals this replaces


def _shape(fmt: str) -> tuple[int, str] | None:
    """(how many leading `S`, then "", "u" or "q") for a format this module packs, else None."""
    strings = len(fmt) - len(fmt.lstrip("S"))
    tail = fmt[strings:]
    return (strings, tail) if fmt and tail in ("", "u", "q") else None


def _packer(fmt: str):
    """A function packing the values `fmt` names into bytes, or returning None if it cannot."""
    shape = _shape(fmt)
    if shape is None:
        return None
    strings, tail = shape
    count = len(fmt)

    def pack(values):
        if len(values) != count:
            return None
        for value in values[:strings]:
            if type(value) is not str or "\0" in value:
                return None
        packed = ("\0".join(values[:strings]) + "\0").encode() if strings else b""
        if not tail:
            return packed
        last = values[-1]
        if tail == "u":
            return packed + last if type(last) is bytes else None
        return packed + pack_int(last) if type(last) is int else None
    return pack


def _unpacker(fmt: str):
    """A function unpacking bytes packed in `fmt` into a list, or returning None if it cannot."""
    shape = _shape(fmt)
    if shape is None:
        return None
    strings, tail = shape

    def unpack(data):
        if type(data) is not bytes:
            return None
        parts = data.split(b"\0", strings) if strings else [data]
        if len(parts) <= strings:
            return None
        values = [part.decode() for part in parts[:strings]]
        rest = parts[strings]
        if tail == "u":
            values.append(rest)
        elif tail == "q":
            if not rest:
                return None
            values.append(unpack_int(rest)[0])
        return values
    return unpack


def faster(original_pack, original_unpack):
    """`pack` and `unpack` with the binding's signatures, falling back to the originals."""
    packers: dict[str, object] = {}
    unpackers: dict[str, object] = {}

    def pack(fmt, *values):
        packer = packers.get(fmt, False)
        if packer is False:
            packer = packers[fmt] = _packer(fmt)
        packed = packer(values) if packer is not None else None
        return packed if packed is not None else original_pack(fmt, *values)

    def unpack(fmt, data):
        unpacker = unpackers.get(fmt, False)
        if unpacker is False:
            unpacker = unpackers[fmt] = _unpacker(fmt)
        values = unpacker(data) if unpacker is not None else None
        return values if values is not None else original_unpack(fmt, data)
    return pack, unpack


def release() -> tuple[int, int, int]:
    return tuple(wiredtiger.wiredtiger_version()[1:4])


def install() -> None:
    """Replace the binding's packers, for the release this was written for only."""
    if release() != WRITTEN_FOR:
        log.warning("WiredTiger %s, not %s: its own packers are kept", release(), WRITTEN_FOR)
        return
    binding = sys.modules[Cursor.__module__]  # the module whose globals the cursor's methods use
    binding.pack, binding.unpack = faster(binding.pack, binding.unpack)
