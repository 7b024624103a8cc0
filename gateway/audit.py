"""The audit log for admins: every staff action of every service, and the gateway's own, newest first."""
from datetime import datetime

from flask import current_app

from gateway.auth import acting_staff
from gateway.context import api, services
from nszm.audit import AuditLog
from nszm.contracts import audit as contract
from nszm.schemas import load

SOURCES = ("members", "events", "practice", "notify")


def gateway_log() -> AuditLog:
    return current_app.extensions["nszm"].audit


def record(action: str, target: str | None, status: str = "done"):
    """An action the gateway does itself (staff tokens, dead letters, exports), by the signed-in staff member."""
    staff = acting_staff()
    gateway_log().record(staff.name, staff.token_id, action, target, status)


@api.route("/api/v1/audit", summary="Every staff action: who, what, to what, and how it ended; newest first",
           tag="audit", role="admin", query=contract.AuditQuerySchema, response=contract.AuditPageSchema)
def audit(query):
    query = load(contract.AuditQuerySchema(), query)
    wanted = {"page": query["page"], "per_page": query["per_page"],
              **{key: query[key] for key in ("actor", "action") if query.get(key)}}
    proxy = services()
    pending = [getattr(proxy, source).audit_log.call_async(wanted) for source in SOURCES]
    slices = [reply.result() for reply in pending]
    own, own_total = gateway_log().entries(query.get("actor"), query.get("action"), query["page"] * query["per_page"])
    slices.append(contract.AuditSliceSchema().dump({"items": own, "total": own_total}))
    merged = sorted((entry for part in slices for entry in part["items"]),
                    key=lambda entry: datetime.fromisoformat(entry["at"]), reverse=True)
    start = (query["page"] - 1) * query["per_page"]
    return {"items": merged[start:start + query["per_page"]], "total": sum(part["total"] for part in slices),
            "page": query["page"], "per_page": query["per_page"]}
