"""Signed tokens for links sent by mail (cancel a registration, confirm a vote, unsubscribe).

A token is signed for one purpose (a token for one purpose is worthless for another), carries
the time it was signed so that a purpose can have a validity, and is checked against every key
the service still keeps: after a key rotation, links already mailed keep working while new
ones are signed with the new key. Tokens signed before they carried a time are still read.
"""
from itsdangerous import BadSignature, URLSafeTimedSerializer


class LinkSigner:
    def __init__(self, keys: list[str]):
        """`keys`: oldest first; the last one signs."""
        self.keys = list(keys)
        self._timed: dict[str, URLSafeTimedSerializer] = {}  # by purpose: building one costs as much as a signature

    def sign(self, purpose: str, value: str) -> str:
        return self._serializer(purpose).dumps(value)

    def _serializer(self, purpose: str) -> URLSafeTimedSerializer:
        serializer = self._timed.get(purpose)
        if serializer is None:
            serializer = self._timed[purpose] = URLSafeTimedSerializer(self.keys, salt=purpose)
        return serializer

    def value(self, purpose: str, token: str, max_age: int | None = None) -> str | None:
        """What a valid, unexpired token for `purpose` was signed for; None for any other token."""
        try:
            value = self._serializer(purpose).loads(token, max_age=max_age)
        except BadSignature:  # SignatureExpired included
            return None
        return value if isinstance(value, str) else None

    def verify(self, purpose: str, token: str, value: str, max_age: int | None = None) -> bool:
        return self.value(purpose, token, max_age) == value
