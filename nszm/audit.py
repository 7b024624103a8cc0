"""The audit log: every staff action and every staff read of personal data, who did it, to what,
and how it ended.

Each service keeps the entries of its own staff calls (`<service>.audit`); the gateway keeps
those it does itself (staff tokens, dead letters, exports) and merges all of them for
`GET /api/v1/audit`. Entries are only ever inserted, each sealed with a key derived from
SECRET_KEY: an entry changed in the database afterwards shows as not intact. A staff action's
entry is written in the same transaction as the change it records (`PlatformService.unit_of_work`),
so there is never a change without its entry nor an entry of a change that was rolled back; an
action that is refused or fails, or changes nothing in a transaction of its own, and a read, get
their entry once they are over.
"""
import hashlib
import hmac
import json
import logging
import uuid

from nameko.extensions import DependencyProvider
from pymongo import DESCENDING
from pymongo.errors import PyMongoError

from nszm.config import Settings
from nszm.contracts.errors import PlatformError
from nszm.entrypoints import ACTOR, ACTOR_TOKEN, StaffRead, StaffRpc
from nszm.signing import derived_key
from nszm.storage import connect, utcnow

log = logging.getLogger(__name__)

DONE, REFUSED, FAILED, READ = "done", "refused", "failed", "read"
SEALED_FIELDS = ("_id", "at", "actor", "token", "service", "action", "target", "status", "error")


def target_of(arguments: tuple | list, result=None) -> str | None:
    """What an action was done to: its first plain argument (an id or a slug), else the id or
    slug of what it returned (a record it created)."""
    if arguments and isinstance(arguments[0], (str, int)) and not isinstance(arguments[0], bool):
        return str(arguments[0])
    if isinstance(result, dict):
        found = result.get("id") or result.get("slug")
        return str(found) if found is not None else None
    return None


def outcome(exc_info, read: bool = False) -> tuple[str, str | None]:
    if exc_info is None:
        return (READ if read else DONE), None
    error = exc_info[1]
    return (REFUSED if isinstance(error, PlatformError) else FAILED), (getattr(error, "detail", "") or repr(error))


def audit_key(secret: str | None) -> bytes:
    return derived_key(secret, "audit")


class AuditLog:
    """The entries of one service (or the gateway) in its own collection."""

    def __init__(self, collection, source: str, key: bytes):
        self.collection = collection
        self.source = source
        self.key = key

    def ensure_indexes(self):
        self.collection.create_index([("at", DESCENDING)])
        self.collection.create_index([("actor", 1), ("at", DESCENDING)])
        self.collection.create_index([("action", 1), ("at", DESCENDING)])

    def entry(self, actor: str, token: str | None, action: str, target: str | None, status: str,
              error: str | None = None, entry_id: str | None = None) -> dict:
        """A sealed entry, to be inserted as it is (in a transaction, or by `write`)."""
        now = utcnow()
        entry = {"_id": entry_id or uuid.uuid4().hex, "at": now.replace(microsecond=now.microsecond // 1000 * 1000),
                 "actor": actor,
                 "token": token, "service": self.source, "action": action, "target": target, "status": status,
                 "error": error[:500] if error else None}
        return {**entry, "seal": self._seal(entry)}

    def write(self, entry: dict):
        self.collection.insert_one(entry)

    def entry_of_call(self, worker_ctx, result, status: str, error: str | None = None,
                      entry_id: str | None = None) -> dict:
        """The sealed entry of the staff call a worker serves."""
        return self.entry(worker_ctx.data[ACTOR], worker_ctx.data.get(ACTOR_TOKEN), worker_ctx.entrypoint.method_name,
                          target_of(worker_ctx.args, result), status, error, entry_id)

    def record(self, actor: str, token: str | None, action: str, target: str | None, status: str = DONE):
        """An action that is over already (the gateway's own)."""
        self.write(self.entry(actor, token, action, target, status))

    def _seal(self, entry: dict) -> str:
        values = {**{name: entry.get(name) for name in SEALED_FIELDS}, "at": entry["at"].isoformat()}
        return hmac.new(self.key, json.dumps(values, sort_keys=True, ensure_ascii=False).encode(),
                        hashlib.sha256).hexdigest()

    def intact(self, entry: dict) -> bool:
        return isinstance(entry.get("seal"), str) and hmac.compare_digest(entry["seal"], self._seal(entry))

    def entries(self, actor: str | None, action: str | None, limit: int) -> tuple[list[dict], int]:
        """The newest `limit` entries matching the filters, and how many match in all; each says
        whether it is as it was written."""
        query = {key: value for key, value in (("actor", actor), ("action", action)) if value}
        found = self.collection.find(query).sort("at", DESCENDING).limit(limit)
        items = [{**{k: v for k, v in entry.items() if k not in ("_id", "seal") and v is not None},
                  "id": entry["_id"], "intact": self.intact(entry)} for entry in found]
        return items, self.collection.count_documents(query)


class WorkerAudit:
    """The audit log as one worker sees it: the entry of the staff call it serves, if any."""

    def __init__(self, log: AuditLog, worker_ctx):
        self.log = log
        self.worker_ctx = worker_ctx
        self.written = False  # the entry went in with a committed change
        self._in_transaction = False

    @property
    def action(self) -> bool:
        """Whether this worker serves a staff action (not a read, not a public call)."""
        entrypoint = self.worker_ctx.entrypoint
        return isinstance(entrypoint, StaffRpc) and not isinstance(entrypoint, StaffRead)

    def write_in(self, tx, result):
        """Write the entry of the staff action this worker serves in `tx`, the transaction of its
        change (nothing for a read, a public call, or an action whose entry is written already)."""
        if not self.action or self.written:
            return
        tx.record_audit(self.log.entry_of_call(self.worker_ctx, result, DONE, entry_id=self.worker_ctx.call_id))
        self._in_transaction = True

    def record_in(self, tx, actor: str, action: str, target: str | None):
        """An action the service takes on its own (not a staff call), written in `tx`, its transaction."""
        tx.record_audit(self.log.entry(actor, None, action, target, DONE))

    def committed(self):
        """The unit of work's transaction committed (with the entry, if `write_in` put it there)."""
        self.written = self.written or self._in_transaction

    def entries(self, actor, action, limit):
        return self.log.entries(actor, action, limit)


class AuditTrail(DependencyProvider):
    """Writes the entry of every `staff_rpc` and `staff_read` call of the service that its unit of
    work did not write; injects the worker's `WorkerAudit`."""

    def setup(self):
        settings = Settings.from_env(self.container.config)
        self.client = connect(settings.database_uri)
        source = self.container.service_name
        self.log = AuditLog(self.client[settings.mongo_db][f"{source}.audit"], source, audit_key(settings.secret_key))
        self.workers: dict = {}

    def start(self):
        self.log.ensure_indexes()

    def stop(self):
        self.client.close()

    def get_dependency(self, worker_ctx):
        audit = self.workers[worker_ctx] = WorkerAudit(self.log, worker_ctx)
        return audit

    def worker_teardown(self, worker_ctx):
        self.workers.pop(worker_ctx, None)

    def staff_call_finished(self, worker_ctx, result=None, exc_info=None):
        entrypoint = worker_ctx.entrypoint
        audit = self.workers.get(worker_ctx)
        if not isinstance(entrypoint, StaffRpc) or (audit is not None and audit.written and exc_info is None):
            return  # not a staff call, or its entry went in with its change
        status, error = outcome(exc_info, read=isinstance(entrypoint, StaffRead))
        try:
            self.log.write(self.log.entry_of_call(worker_ctx, result, status, error))
        except PyMongoError:
            log.exception("audit entry of %s not written", worker_ctx.call_id)
