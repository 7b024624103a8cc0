"""Single-use secrets sent to people (confirmation links, staff tokens): made here, stored only hashed."""
import hashlib
import secrets


def new_token(prefix: str = "") -> str:
    """256 random bits, URL-safe."""
    return prefix + secrets.token_urlsafe(32)


def token_hash(token: str) -> str:
    # The tokens are 256 random bits, so a plain hash is enough; no password stretching needed.
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
