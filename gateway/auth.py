"""Staff bearer tokens: stored as SHA-256 hashes, each with its roles; one optional bootstrap token."""
import hmac
import uuid
from dataclasses import dataclass

from flask import current_app, g, request
from werkzeug.exceptions import Forbidden, Unauthorized

from nszm.storage import utcnow
from nszm.tokens import new_token, token_hash

ROLES = ("members", "events", "practice", "mailouts", "admin")
TOKEN_PREFIX = "nszm_"
BOOTSTRAP = "bootstrap"  # the id and name of BOOTSTRAP_STAFF_TOKEN in the audit log


@dataclass(frozen=True)
class Staff:
    """The holder of a staff token: its id, the name it was issued to, its roles."""

    token_id: str
    name: str
    roles: set[str]

    def context(self) -> dict:
        """Who a staff action's RPC is made for (signed by `gateway.rpc.RpcClients`)."""
        return {"actor": self.name, "token_id": self.token_id, "roles": sorted(self.roles)}


def signed_in_staff() -> Staff | None:
    """The staff member behind this request, once a role check let it through."""
    return g.get("staff")


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

    def staff_for(self, token: str) -> Staff | None:
        return self.staff_for_hash(token_hash(token))

    def roles_for_hash(self, hashed: str) -> set[str] | None:
        """The roles of a valid token known by its hash (the console's session keeps only the hash)."""
        staff = self.staff_for_hash(hashed)
        return staff.roles if staff else None

    def staff_for_hash(self, hashed: str) -> Staff | None:
        """Who holds a valid token known by its hash: its id, name and roles."""
        if self.bootstrap_token and hmac.compare_digest(hashed, token_hash(self.bootstrap_token)):
            return Staff(BOOTSTRAP, BOOTSTRAP, {"admin"})
        record = self.collection.find_one({"hash": hashed, "revoked_at": None}, {"roles": 1, "name": 1})
        return Staff(record["_id"], record["name"], set(record["roles"])) if record else None


def _bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def has_staff_token() -> bool:
    """Whether the request carries a valid staff token, whatever its roles."""
    token = _bearer_token()
    return bool(token) and current_app.extensions["nszm"].tokens.staff_for(token) is not None


def require_role(role: str):
    token = _bearer_token()
    if not token:
        raise Unauthorized("A staff bearer token is required.")
    staff = current_app.extensions["nszm"].tokens.staff_for(token)
    if staff is None:
        raise Unauthorized("The token is not valid or was revoked.")
    if role not in staff.roles and "admin" not in staff.roles:
        raise Forbidden(f"The token lacks the '{role}' role.")
    g.staff = staff
