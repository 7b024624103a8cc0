"""Signed tokens for links sent by mail (cancel a registration, confirm a vote, unsubscribe)."""
from itsdangerous import BadSignature, URLSafeSerializer


class LinkSigner:
    """Signs a value for one purpose; a token for one purpose is worthless for another."""

    def __init__(self, secret: str):
        self.secret = secret

    def sign(self, purpose: str, value: str) -> str:
        return URLSafeSerializer(self.secret, salt=purpose).dumps(value)

    def value(self, purpose: str, token: str) -> str | None:
        """What a valid token for `purpose` was signed for; None for any other token."""
        try:
            value = URLSafeSerializer(self.secret, salt=purpose).loads(token)
        except BadSignature:
            return None
        return value if isinstance(value, str) else None

    def verify(self, purpose: str, token: str, value: str) -> bool:
        try:
            return URLSafeSerializer(self.secret, salt=purpose).loads(token) == value
        except BadSignature:
            return False
