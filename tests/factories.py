"""Builders of valid test data: IČOs with a correct check digit, applications, members."""
import random
import uuid

from services.members.domain import ICO_WEIGHTS

_random = random.Random()


def ico(prefix: str | None = None) -> str:
    """A random IČO that passes the mod-11 check."""
    digits = prefix or f"{_random.randrange(10**6, 10**7):07d}"
    remainder = sum(int(d) * w for d, w in zip(digits, ICO_WEIGHTS)) % 11
    return digits + str((11 - remainder) % 10)


def unique_word() -> str:
    """A token no demo or other test data contains, to scope searches to one test."""
    return "t" + uuid.uuid4().hex[:10]


def application(**overrides) -> dict:
    payload = {
        "name": f"Zkušební město {unique_word()}",
        "type": "city",
        "region": "Liberecký kraj",
        "ico": ico(),
        "population": 12000,
        "contact": {"name": "Jana Nováková", "email": f"jana.novakova.{unique_word()}@example.cz"},
    }
    payload.update(overrides)
    return payload
