"""Czech text rules the domain needs: collation keys (Ch after H), diacritics-free search, slugs.

Sort keys are ICU's Czech collation keys, hex-encoded so that a plain string sort in any
MongoDB-compatible store gives Czech order without relying on the server's collation.
"""
import re
import threading
import unicodedata
from itertools import count
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import icu

_local = threading.local()


def _collator() -> "icu.Collator":
    # ICU collators are not thread-safe; keep one per thread.
    collator = getattr(_local, "collator", None)
    if collator is None:
        import icu  # ICU's data costs a process 11 MiB: only those that sort pay for it

        collator = icu.Collator.createInstance(icu.Locale("cs_CZ"))
        _local.collator = collator
    return collator


def sort_key(text: str) -> str:
    """A string whose plain (binary) order is the Czech collation order of `text`."""
    return _collator().getSortKey(text or "").hex()


def fold(text: str) -> str:
    """Lower case without diacritics: 'Žďár nad Sázavou' -> 'zdar nad sazavou'."""
    decomposed = unicodedata.normalize("NFKD", text or "")
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


def slugify(text: str) -> str:
    """URL slug from Czech text: 'Liberecký kraj' -> 'liberecky-kraj'."""
    return re.sub(r"[^a-z0-9]+", "-", fold(text)).strip("-") or "clen"


def first_free(base: str, taken: set[str]) -> str:
    """`base`, or `base-2`, `base-3`, … whichever is not taken yet."""
    return next(candidate for candidate in (base if n == 1 else f"{base}-{n}" for n in count(1))
                if candidate not in taken)


def search_pattern(query: str) -> str:
    """An anchored-nowhere regular expression matching `query` inside folded text."""
    return re.escape(fold(query))
