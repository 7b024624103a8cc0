"""The audit log: every staff action, who did it, to what, and how it ended.

Each service keeps the entries of its own staff actions (`<service>.audit`); the gateway keeps
those it does itself (staff tokens, dead letters) and merges all of them for
`GET /api/v1/audit`. An entry is written as `started` before the action runs and completed
after it, so a crash in between still leaves a trace of the attempt.
"""
import logging
from datetime import datetime

from nameko.extensions import DependencyProvider
from pymongo import DESCENDING
from pymongo.errors import PyMongoError

from nszm.config import Settings
from nszm.contracts.errors import PlatformError
from nszm.entrypoints import ACTOR, ACTOR_TOKEN, StaffRpc
from nszm.storage import connect, utcnow

log = logging.getLogger(__name__)

STARTED, DONE, REFUSED, FAILED = "started", "done", "refused", "failed"


def target_of(arguments: tuple | list, result=None) -> str | None:
    """What an action was done to: its first plain argument (an id or a slug), else the id or
    slug of what it returned (a record it created)."""
    if arguments and isinstance(arguments[0], (str, int)) and not isinstance(arguments[0], bool):
        return str(arguments[0])
    if isinstance(result, dict):
        found = result.get("id") or result.get("slug")
        return str(found) if found is not None else None
    return None


def outcome(exc_info) -> tuple[str, str | None]:
    if exc_info is None:
        return DONE, None
    error = exc_info[1]
    return (REFUSED if isinstance(error, PlatformError) else FAILED), (getattr(error, "detail", "") or repr(error))


class AuditLog:
    """The entries of one service (or the gateway) in its own collection."""

    def __init__(self, collection, source: str):
        self.collection = collection
        self.source = source

    def ensure_indexes(self):
        self.collection.create_index([("at", DESCENDING)])
        self.collection.create_index([("actor", 1), ("at", DESCENDING)])
        self.collection.create_index([("action", 1), ("at", DESCENDING)])

    def start(self, entry_id: str, actor: str, token: str | None, action: str, target: str | None,
              at: datetime | None = None):
        self.collection.insert_one({"_id": entry_id, "at": at or utcnow(), "actor": actor, "token": token,
                                    "service": self.source, "action": action, "target": target, "status": STARTED})

    def finish(self, entry_id: str, status: str, target: str | None = None, error: str | None = None):
        changes = {"status": status, "finished_at": utcnow()}
        if target is not None:
            changes["target"] = target
        if error:
            changes["error"] = error[:500]
        self.collection.update_one({"_id": entry_id}, {"$set": changes})

    def record(self, entry_id: str, actor: str, token: str | None, action: str, target: str | None,
               status: str = DONE):
        """An action that is over already (the gateway's own)."""
        self.start(entry_id, actor, token, action, target)
        self.finish(entry_id, status)

    def entries(self, actor: str | None, action: str | None, limit: int) -> tuple[list[dict], int]:
        """The newest `limit` entries matching the filters, and how many match in all."""
        query = {key: value for key, value in (("actor", actor), ("action", action)) if value}
        found = self.collection.find(query).sort("at", DESCENDING).limit(limit)
        return [{**{k: v for k, v in entry.items() if k != "_id"}, "id": entry["_id"]} for entry in found], \
            self.collection.count_documents(query)


class AuditTrail(DependencyProvider):
    """Writes an entry around every `staff_rpc` call of the service; injects the service's `AuditLog`."""

    def setup(self):
        settings = Settings.from_env(self.container.config)
        self.client = connect(settings.database_uri)
        source = self.container.service_name
        self.log = AuditLog(self.client[settings.mongo_db][f"{source}.audit"], source)

    def start(self):
        self.log.ensure_indexes()

    def stop(self):
        self.client.close()

    def get_dependency(self, worker_ctx):
        return self.log

    def worker_setup(self, worker_ctx):
        if isinstance(worker_ctx.entrypoint, StaffRpc):
            try:
                self.log.start(worker_ctx.call_id, worker_ctx.data[ACTOR], worker_ctx.data.get(ACTOR_TOKEN),
                               worker_ctx.entrypoint.method_name, target_of(worker_ctx.args))
            except PyMongoError:
                log.exception("audit entry of %s not written", worker_ctx.call_id)

    def staff_call_finished(self, worker_ctx, result=None, exc_info=None):
        if isinstance(worker_ctx.entrypoint, StaffRpc):
            status, error = outcome(exc_info)
            try:
                self.log.finish(worker_ctx.call_id, status, target_of(worker_ctx.args, result), error)
            except PyMongoError:
                log.exception("audit entry of %s not completed", worker_ctx.call_id)
