"""The console's sessions, kept on the server.

The cookie holds only a random session id (256 bits); the database keeps its SHA-256 hash, the
staff token's id, the CSRF token and the pending notices. A session ends after
`IDLE_MINUTES` without a request, `LIFETIME_HOURS` after sign-in whatever happens, at sign-out,
and when its token is revoked or expires (checked on every request). Reading the database gives
nobody a session: the ids are not there, and nothing in the cookie is signed with a key kept
there.
"""
from datetime import datetime, timedelta

from flask import request, session
from flask.sessions import SessionInterface, SessionMixin
from werkzeug.datastructures import CallbackDict

from nszm.storage import utcnow
from nszm.tokens import new_token, token_hash

IDLE_MINUTES = 30
LIFETIME_HOURS = 12
COOKIE_PATH = "/staff"


def console_session() -> "ConsoleSession":
    """This request's console session (`ServerSessions` gives every request one)."""
    if not isinstance(session, ConsoleSession):
        raise LookupError("the console's sessions are not installed")
    return session


class ConsoleSession(CallbackDict, SessionMixin):
    """A session's values; `renew()` gives it a new id (at sign-in, against fixation)."""

    def __init__(self, values=None, session_id: str | None = None):
        def changed(_):
            self.modified = True

        super().__init__(values, changed)
        self.session_id = session_id
        self.modified = False
        self.renewing = False

    def renew(self):
        self.renewing = True
        self.modified = True


class SessionStore:
    def __init__(self, collection):
        self.collection = collection

    def ensure_indexes(self):
        self.collection.create_index("expires_at", expireAfterSeconds=0)
        self.collection.create_index("token_id")

    def load(self, session_id: str, now: datetime) -> dict | None:
        """The session's values while it is alive (and its idle time starts again); None otherwise."""
        record = self.collection.find_one_and_update(
            {"_id": token_hash(session_id), "expires_at": {"$gt": now},
             "seen_at": {"$gt": now - timedelta(minutes=IDLE_MINUTES)}},
            {"$set": {"seen_at": now}})
        return record["values"] if record else None

    def create(self, values: dict, now: datetime) -> str:
        session_id = new_token()
        self.collection.insert_one({"_id": token_hash(session_id), "token_id": values.get("token_id"),
                                    "values": values, "created_at": now, "seen_at": now,
                                    "expires_at": now + timedelta(hours=LIFETIME_HOURS)})
        return session_id

    def save(self, session_id: str, values: dict):
        self.collection.update_one({"_id": token_hash(session_id)},
                                   {"$set": {"values": values, "token_id": values.get("token_id")}})

    def end(self, session_id: str):
        self.collection.delete_one({"_id": token_hash(session_id)})

    def end_for_token(self, token_id: str) -> int:
        return self.collection.delete_many({"token_id": token_id}).deleted_count


class ServerSessions(SessionInterface):
    """Flask's session for the console, from `SessionStore`; the API has none."""

    def __init__(self, store: SessionStore):
        self.store = store

    def open_session(self, app, asked):
        if not asked.path.startswith(COOKIE_PATH):
            return None  # Flask's null session: the API keeps nothing between requests
        session_id = asked.cookies.get(self.get_cookie_name(app))
        values = self.store.load(session_id, utcnow()) if session_id else None
        return ConsoleSession(values, session_id if values is not None else None)

    def save_session(self, app, session: SessionMixin, response):
        if not isinstance(session, ConsoleSession):
            return
        name, path = self.get_cookie_name(app), self.get_cookie_path(app)
        if session.session_id and (session.renewing or not session):
            self.store.end(session.session_id)
            session.session_id = None
        if not session:
            if session.modified or request.cookies.get(name):  # signed out, or a session that ended
                response.delete_cookie(name, path=path)
            return
        if session.session_id is None:
            session.session_id = self.store.create(dict(session), utcnow())
        elif session.modified:
            self.store.save(session.session_id, dict(session))
        else:
            return
        response.set_cookie(name, session.session_id, path=path, httponly=True,
                            secure=self.get_cookie_secure(app), samesite=self.get_cookie_samesite(app))
        response.vary.add("Cookie")
