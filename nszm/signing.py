"""What the platform's own processes sign on the bus, with keys derived from SECRET_KEY.

Every RPC carries its caller's context signed: who calls (the gateway, a service, an operations
script), for which staff member if any (name, token id, roles), a call id and the time. A
service refuses a call whose signature is missing, wrong or older than `CALL_MAX_AGE_SECONDS`,
so an AMQP client without the key can neither read personal data nor act as staff.

Every event a service publishes carries a signature of its body: the handlers that send
official mail take only events the platform itself published.

The key is never in the database; each use has its own key derived from SECRET_KEY, so a key
that leaks from one use is worthless for another.
"""
import hashlib
import hmac
import time
import uuid

CALL_MAX_AGE_SECONDS = 120.0  # a call older than this is refused (clock skew between machines included)
MIN_SECRET_LENGTH = 32

CALLER = "caller"  # context data keys; nameko sends each as a `nameko.<key>` header
ACTOR = "actor"
ACTOR_TOKEN = "actor_token"
ACTOR_ROLES = "actor_roles"
CALL = "call"
SIGNED_AT = "signed_at"
SIGNATURE = "signature"
SIGNED_FIELDS = (CALLER, ACTOR, ACTOR_TOKEN, ACTOR_ROLES, CALL, SIGNED_AT)

EVENT_SIGNATURE_HEADER = "nszm-signature"  # kept when a dead letter is replayed


class MissingSecret(RuntimeError):
    """SECRET_KEY is unset or too short."""


def derived_key(secret: str | None, purpose: str) -> bytes:
    """The key for one use of the secret."""
    if not secret or len(secret) < MIN_SECRET_LENGTH:
        raise MissingSecret(f"SECRET_KEY must be set to at least {MIN_SECRET_LENGTH} random characters "
                            "(make run generates one into DATA_DIR).")
    return hmac.new(secret.encode("utf-8"), purpose.encode("utf-8"), hashlib.sha256).digest()


def call_key(secret: str | None) -> bytes:
    return derived_key(secret, "bus-calls")


def event_key(secret: str | None) -> bytes:
    return derived_key(secret, "bus-events")


def _mac(key: bytes, values: list[str]) -> str:
    return hmac.new(key, "\n".join(values).encode("utf-8"), hashlib.sha256).hexdigest()


def signed_context(key: bytes, caller: str, actor: str | None = None, token_id: str | None = None,
                   roles=(), now: float | None = None) -> dict:
    """The context data of a call made by `caller`, for the staff member `actor` if any."""
    context = {CALLER: caller, CALL: uuid.uuid4().hex, SIGNED_AT: f"{time.time() if now is None else now:.3f}"}
    if actor:
        context.update({ACTOR: actor, ACTOR_ROLES: ",".join(sorted(roles))})
        if token_id:
            context[ACTOR_TOKEN] = token_id
    context[SIGNATURE] = _mac(key, [str(context.get(name, "")) for name in SIGNED_FIELDS])
    return context


def resigned(key: bytes, caller: str, context: dict) -> dict:
    """The context of a call a service makes while serving another: the same staff member, if any,
    signed afresh by the service."""
    roles = [role for role in str(context.get(ACTOR_ROLES) or "").split(",") if role]
    return signed_context(key, caller, context.get(ACTOR), context.get(ACTOR_TOKEN), roles)


def refusal(key: bytes, context: dict, now: float | None = None) -> str | None:
    """Why a call with this context is refused; None when it is signed, fresh and whole."""
    signature = context.get(SIGNATURE)
    if not isinstance(signature, str):
        return "the call is not signed"
    values = [context.get(name) for name in SIGNED_FIELDS]
    if any(value is not None and not isinstance(value, str) for value in values):
        return "the call's context is malformed"
    if not hmac.compare_digest(signature, _mac(key, [value or "" for value in values])):
        return "the call's signature is wrong"
    try:
        age = (time.time() if now is None else now) - float(context[SIGNED_AT])
    except (KeyError, ValueError):
        return "the call's context is malformed"
    if abs(age) > CALL_MAX_AGE_SECONDS:
        return "the call's signature is stale"
    return None


def event_signature(key: bytes, body: bytes) -> str:
    return "v1=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def event_is_signed(key: bytes, body: bytes | str, headers: dict | None) -> bool:
    """Whether a message's body (as received: the client library may hand it over decoded) is the
    one the platform signed."""
    given = (headers or {}).get(EVENT_SIGNATURE_HEADER)
    if isinstance(body, str):
        body = body.encode("utf-8")
    return isinstance(given, str) and hmac.compare_digest(given, event_signature(key, body))
