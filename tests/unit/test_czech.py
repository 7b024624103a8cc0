"""Czech collation keys, diacritics folding and slugs."""
import icu
from hypothesis import given
from hypothesis import strategies as st

from nszm import czech

CZECH_ORDER = [
    "Cheb",  # sorts as 'ch', after every 'h'
    "Církvice",
    "Česká Lípa",
    "Hodonín",
    "Hradec Králové",
    "Chrudim",
    "Ivančice",
    "Rokycany",
    "Řevnice",
    "Strakonice",
    "Šumperk",
    "Zlín",
    "Žďár nad Sázavou",
]


def test_sort_key_orders_czech_names_with_ch_after_h():
    expected = ["Církvice", "Česká Lípa", "Hodonín", "Hradec Králové", "Cheb", "Chrudim", "Ivančice",
                "Rokycany", "Řevnice", "Strakonice", "Šumperk", "Zlín", "Žďár nad Sázavou"]
    assert sorted(CZECH_ORDER, key=czech.sort_key) == expected


def test_sort_key_is_a_plain_string_so_any_store_sorts_it_binary():
    keys = [czech.sort_key(name) for name in ("Hradec Králové", "Chrudim")]
    assert all(isinstance(key, str) for key in keys)
    assert keys[0] < keys[1]


@given(st.text(max_size=30), st.text(max_size=30))
def test_sort_key_agrees_with_icu_czech_comparison(a, b):
    collator = icu.Collator.createInstance(icu.Locale("cs_CZ"))
    by_icu = collator.compare(a, b)
    ka, kb = czech.sort_key(a), czech.sort_key(b)
    by_key = (ka > kb) - (ka < kb)
    assert by_key == (by_icu > 0) - (by_icu < 0)


def test_fold_drops_case_and_diacritics():
    assert czech.fold("Žďár nad Sázavou") == "zdar nad sazavou"
    assert czech.fold("ZDRAVÍ") == "zdravi"
    assert czech.fold("  Kraj   Vysočina ") == "kraj vysocina"


@given(st.text(max_size=50))
def test_fold_is_idempotent(text):
    assert czech.fold(czech.fold(text)) == czech.fold(text)


def test_search_pattern_escapes_regex_syntax():
    assert czech.search_pattern("a.b(") == r"a\.b\("


def test_slugify():
    assert czech.slugify("Liberecký kraj") == "liberecky-kraj"
    assert czech.slugify("Praha 12") == "praha-12"
    assert czech.slugify("!!!") == "clen"


def test_first_free_takes_the_next_numbered_variant():
    assert czech.first_free("skola", set()) == "skola"
    assert czech.first_free("skola", {"skola", "skola-2"}) == "skola-3"


def test_a_voter_key_folds_the_aliases_of_a_mailbox():
    from nszm.addresses import canonical_mailbox
    assert canonical_mailbox(" Jana.Novak+NEJpraxe@GoogleMail.com ") == "jananovak@gmail.com"
    assert canonical_mailbox("jana.novak+a+b@seznam.cz") == "jana.novak@seznam.cz"  # dots matter outside Gmail
    assert canonical_mailbox("+tag@example.cz") == "+tag@example.cz"  # nothing before the tag: kept as typed
