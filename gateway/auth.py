"""Staff bearer tokens: stored as SHA-256 hashes, each with its roles; one optional bootstrap token."""
import hmac
import uuid
from dataclasses import dataclass
from datetime import datetime

from flask import current_app, g, request
from werkzeug.exceptions import Forbidden, Unauthorized

from nszm.storage import utcnow
from nszm.tokens import new_token, token_hash

ROLES = ("members", "events", "practice", "mailouts", "bounces", "admin")  # bounces: a mail provider's webhook
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


def permits(staff: Staff | None, role: str | None) -> bool:
    """The one staff check of the API and the console: whether `staff` may do what needs `role`
    (None: any staff member). An admin may do everything."""
    return staff is not None and (role is None or role in staff.roles or "admin" in staff.roles)


def signed_in_staff() -> Staff | None:
    """The staff member behind this request, once a role check let it through."""
    return g.get("staff")


def acting_staff() -> Staff:
    """The staff member behind this request, where a role check has let one through."""
    staff = signed_in_staff()
    if staff is None:
        raise LookupError("no staff member is behind this request")
    return staff


class TokenStore:
    def __init__(self, collection, bootstrap_token: str | None = None):
        self.collection = collection
        self.bootstrap_token = bootstrap_token

    def ensure_indexes(self):
        self.collection.create_index("hash", unique=True)

    def issue(self, name: str, roles: list[str], expires_at: datetime | None = None) -> tuple[str, str]:
        """A new token (shown once) for `name` with `roles`, valid until `expires_at` if given."""
        unknown = set(roles) - set(ROLES)
        if unknown or not roles:
            raise ValueError(f"roles must be among {', '.join(ROLES)}")
        if expires_at is not None and expires_at <= utcnow():
            raise ValueError("the expiry must be in the future")
        token = new_token(TOKEN_PREFIX)
        token_id = uuid.uuid4().hex[:12]
        self.collection.insert_one(
            {"_id": token_id, "name": name, "roles": sorted(set(roles)), "hash": token_hash(token),
             "created_at": utcnow(), "revoked_at": None, "expires_at": expires_at}
        )
        return token_id, token

    def revoke(self, token_id: str) -> bool:
        result = self.collection.update_one({"_id": token_id, "revoked_at": None}, {"$set": {"revoked_at": utcnow()}})
        return result.modified_count == 1

    def list(self) -> list[dict]:
        return list(self.collection.find({}, {"hash": 0}).sort("created_at", 1))

    def staff_for(self, token: str) -> Staff | None:
        return self.staff_for_hash(token_hash(token))

    def staff_for_hash(self, hashed: str) -> Staff | None:
        """Who holds a valid token known by its hash: its id, name and roles."""
        if self.bootstrap_token and hmac.compare_digest(hashed, token_hash(self.bootstrap_token)):
            return Staff(BOOTSTRAP, BOOTSTRAP, {"admin"})
        return self._valid({"hash": hashed})

    def staff_for_id(self, token_id: str) -> Staff | None:
        """Who holds the token with this id, while it is valid (a console session keeps only the id)."""
        if token_id == BOOTSTRAP:
            return Staff(BOOTSTRAP, BOOTSTRAP, {"admin"}) if self.bootstrap_token else None
        return self._valid({"_id": token_id})

    def _valid(self, query: dict) -> Staff | None:
        record = self.collection.find_one(
            {**query, "revoked_at": None, "$or": [{"expires_at": None}, {"expires_at": {"$gt": utcnow()}}]},
            {"roles": 1, "name": 1})
        return Staff(record["_id"], record["name"], set(record["roles"])) if record else None


def _bearer_token(basic: bool = False) -> str | None:
    """The staff token of the request: `Bearer <token>`, or where `basic` allows, the password of
    HTTP Basic (what a mail provider's webhook settings offer: `https://any:<token>@…`)."""
    if basic and request.authorization is not None and request.authorization.type == "basic":
        return request.authorization.password or None
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def has_staff_token() -> bool:
    """Whether the request carries a valid staff token, whatever its roles."""
    token = _bearer_token()
    return bool(token) and current_app.extensions["nszm"].tokens.staff_for(token) is not None


def require_role(role: str, basic: bool = False):
    token = _bearer_token(basic)
    if not token:
        raise Unauthorized("A staff bearer token is required.")
    staff = current_app.extensions["nszm"].tokens.staff_for(token)
    if staff is None:
        raise Unauthorized("The token is not valid or was revoked.")
    if not permits(staff, role):
        raise Forbidden(f"The token lacks the '{role}' role.")
    g.staff = staff
