"""The embedded database's faster packing of WiredTiger keys and values gives exactly what the
binding's own `pack` and `unpack` give: the same bytes, the same values, the same errors."""
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wiredtiger import Cursor

from ops import wiredtiger_packing

binding = sys.modules[Cursor.__module__]
ORIGINAL_PACK, ORIGINAL_UNPACK = binding.pack, binding.unpack
pack, unpack = wiredtiger_packing.faster(ORIGINAL_PACK, ORIGINAL_UNPACK)

# The formats SecantusDB's tables use, and some it does not (those go to the binding's functions).
USED = ("S", "SS", "SSS", "SSSu", "SSq", "SSu", "q", "u")
OTHER = ("uS", "Su", "QS", "SsS", "5S", "r", "iS")
INTEGERS = st.integers(min_value=-2**63, max_value=2**63 - 1)
TEXT = st.text(alphabet=st.characters(codec="utf-8"), max_size=30)


def values_for(fmt: str):
    kinds = {"S": TEXT, "s": TEXT, "q": INTEGERS, "Q": st.integers(0, 2**64 - 1), "r": st.integers(1, 2**40),
             "i": st.integers(-2**31, 2**31 - 1), "u": st.binary(max_size=40)}
    return st.tuples(*(kinds[conversion] for conversion in fmt if not conversion.isdigit()))


def outcome(function, *args):
    try:
        return "value", function(*args)
    except Exception as error:  # the same kind of error is part of the same behaviour
        return "error", type(error)


@settings(max_examples=400)
@given(st.data())
def test_packing_gives_the_bindings_bytes_and_reads_back_its_values(data):
    fmt = data.draw(st.sampled_from(USED + OTHER))
    values = data.draw(values_for(fmt))
    packed = outcome(pack, fmt, *values)
    assert packed == outcome(ORIGINAL_PACK, fmt, *values)
    if packed[0] == "value":
        assert outcome(unpack, fmt, packed[1]) == outcome(ORIGINAL_UNPACK, fmt, packed[1])


@settings(max_examples=400)
@given(st.sampled_from(USED + OTHER), st.binary(max_size=40))
def test_any_bytes_unpack_as_the_binding_unpacks_them(fmt, data):
    assert outcome(unpack, fmt, data) == outcome(ORIGINAL_UNPACK, fmt, data)


@pytest.mark.parametrize("fmt, values", [
    ("S", ("a\0b",)),  # a string is cut at its first NUL
    ("SS", ("db", b"bytes")),  # not a string where one belongs
    ("q", (True,)),
    ("SSq", ("db", "coll")),  # fewer values than the format has
    ("SS", ("db", "coll", "extra")),
    ("u", (bytearray(b"raw"),)),
    ("SSu", ("db", "coll", "text")),
])
def test_unusual_values_behave_as_in_the_binding(fmt, values):
    assert outcome(pack, fmt, *values) == outcome(ORIGINAL_PACK, fmt, *values)


@pytest.mark.parametrize("fmt, data", [("S", None), ("u", None), ("SSu", bytearray(b"a\0b\0c")), ("q", b"")])
def test_unusual_input_unpacks_as_in_the_binding(fmt, data):
    assert outcome(unpack, fmt, data) == outcome(ORIGINAL_UNPACK, fmt, data)


def test_installing_puts_them_where_the_cursor_looks(monkeypatch):
    monkeypatch.setattr(binding, "pack", ORIGINAL_PACK)
    monkeypatch.setattr(binding, "unpack", ORIGINAL_UNPACK)
    wiredtiger_packing.install()
    assert binding.pack is not ORIGINAL_PACK and binding.pack("SSq", "nszm", "mails", 7) == ORIGINAL_PACK(
        "SSq", "nszm", "mails", 7)
    assert binding.unpack("SSq", binding.pack("SSq", "nszm", "mails", 7)) == ["nszm", "mails", 7]
