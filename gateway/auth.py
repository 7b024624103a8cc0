"""Staff bearer tokens: stored as SHA-256 hashes, each with its roles; one optional bootstrap token."""
import hmac
import uuid

from flask import current_app, request
from werkzeug.exceptions import Forbidden, Unauthorized

from nszm.storage import utcnow
from nszm.tokens import new_token, token_hash

ROLES = ("members", "events", "practice", "mailouts", "admin")
TOKEN_PREFIX = "nszm_"


class TokenStore:
    def __init__(self, collection, bootstrap_token: str | None = None):
        self.collection = collection
        self.bootstrap_token = bootstrap_token

    def ensure_indexes(self):
        self.collection.create_index("hash", unique=True)

    def issue(self, name: str, roles: list[str]) -> tuple[str, str]:
        unknown = set(roles) - set(ROLES)
        if unknown or not roles:
            raise ValueError(f"roles must be among {', '.join(ROLES)}")
        token = new_token(TOKEN_PREFIX)
        token_id = uuid.uuid4().hex[:12]
        self.collection.insert_one(
            {"_id": token_id, "name": name, "roles": sorted(set(roles)), "hash": token_hash(token),
             "created_at": utcnow(), "revoked_at": None}
        )
        return token_id, token

    def revoke(self, token_id: str) -> bool:
        result = self.collection.update_one({"_id": token_id, "revoked_at": None}, {"$set": {"revoked_at": utcnow()}})
        return result.modified_count == 1

    def list(self) -> list[dict]:
        return list(self.collection.find({}, {"hash": 0}).sort("created_at", 1))

    def roles_for(self, token: str) -> set[str] | None:
        return self.roles_for_hash(token_hash(token))

    def roles_for_hash(self, hashed: str) -> set[str] | None:
        """The roles of a valid token known by its hash (the console's session keeps only the hash)."""
        if self.bootstrap_token and hmac.compare_digest(hashed, token_hash(self.bootstrap_token)):
            return {"admin"}
        record = self.collection.find_one({"hash": hashed, "revoked_at": None}, {"roles": 1})
        return set(record["roles"]) if record else None


def _bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def has_staff_token() -> bool:
    """Whether the request carries a valid staff token, whatever its roles."""
    token = _bearer_token()
    return bool(token) and current_app.extensions["nszm"].tokens.roles_for(token) is not None


def require_role(role: str):
    token = _bearer_token()
    if not token:
        raise Unauthorized("A staff bearer token is required.")
    roles = current_app.extensions["nszm"].tokens.roles_for(token)
    if roles is None:
        raise Unauthorized("The token is not valid or was revoked.")
    if role not in roles and "admin" not in roles:
        raise Forbidden(f"The token lacks the '{role}' role.")
