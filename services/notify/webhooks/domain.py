"""Webhooks: which endpoints get an event, the Standard Webhooks signature, retries for a day,
and which addresses an endpoint may not have."""
import base64
import ipaddress
import secrets
import uuid
from datetime import datetime, timedelta

from standardwebhooks.webhooks import Webhook

# Standard Webhooks' suggested schedule: the pause before each try after the first.
WEBHOOK_RETRY_DELAYS = (timedelta(seconds=5), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2),
                        timedelta(hours=5), timedelta(hours=10), timedelta(hours=10))
WEBHOOK_GIVE_UP_AFTER = timedelta(hours=24)  # a delivery is retried this long, then failed
WEBHOOK_DISABLE_AFTER = timedelta(hours=24)  # an endpoint failing this long is disabled until staff enable it
WEBHOOK_SECRET_PREFIX = "whsec_"


def new_webhook(data: dict, now: datetime) -> dict:
    """A webhook endpoint with a fresh signing secret (`whsec_` + base64 of 32 random bytes)."""
    secret = WEBHOOK_SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()
    return {"id": uuid.uuid4().hex, "url": data["url"], "events": sorted(set(data["events"])),
            "description": data.get("description"), "secret": secret, "enabled": True, "created_at": now,
            "failing_since": None, "disabled_at": None}


def refused_address(addresses: list[str], allow_private: bool) -> str | None:
    """Why a webhook may not go to a host with these IP addresses, or None if it may."""
    if not addresses:
        return "The host name does not resolve."
    if allow_private:
        return None
    for address in addresses:
        ip = ipaddress.ip_address(address.split("%")[0])
        if not _public(ip):
            return f"The host resolves to {ip}, which is not a public address."
    return None


NAT64 = ipaddress.ip_network("64:ff9b::/96")  # a gateway's translation of any IPv4 address, internal ones too


def _public(ip) -> bool:
    if not ip.is_global or ip.is_multicast:
        return False
    if ip.version == 6:
        if ip in NAT64:
            return False
        embedded = ip.sixtofour or (ip.teredo[1] if ip.teredo else None) or ip.ipv4_mapped
        if embedded is not None and not _public(embedded):
            return False
    return True


def deliveries_for(webhooks: list[dict], envelope: dict, now: datetime) -> list[dict]:
    """One delivery of the event to each enabled endpoint that asked for its type."""
    return [{"id": f"{webhook['id']}:{envelope['event_id']}", "webhook_id": webhook["id"],
             "event_id": envelope["event_id"], "event_type": envelope["event_type"], "envelope": envelope,
             "status": "pending", "attempts": 0, "last_status": None, "last_error": None, "created_at": now,
             "next_attempt_at": now, "delivered_at": None}
            for webhook in webhooks if webhook["enabled"] and envelope["event_type"] in webhook["events"]]


def signature_headers(secret: str, event_id: str, at: datetime, body: str) -> dict:
    """The Standard Webhooks headers: `webhook-signature` is `v1,` + base64 of HMAC-SHA256 over
    `{id}.{timestamp}.{body}`, keyed with the secret's base64-decoded part."""
    signature = Webhook(secret).sign(event_id, at, body)
    return {"webhook-id": event_id, "webhook-timestamp": str(int(at.timestamp())), "webhook-signature": signature,
            "content-type": "application/json"}


def after_attempt(delivery: dict, webhook: dict, status: int | None, error: str | None,
                  now: datetime) -> tuple[dict, dict]:
    """The delivery and its endpoint after one try: delivered on a 2xx; else tried again later,
    for a day at the most; an endpoint failing for a day is disabled."""
    attempts = delivery["attempts"] + 1
    tried = {**delivery, "attempts": attempts, "last_status": status, "last_error": error}
    if status is not None and 200 <= status < 300:
        return ({**tried, "status": "delivered", "delivered_at": now, "next_attempt_at": None},
                {**webhook, "failing_since": None})
    retry_at = now + WEBHOOK_RETRY_DELAYS[attempts - 1] if attempts <= len(WEBHOOK_RETRY_DELAYS) else None
    if retry_at is None or retry_at - delivery["created_at"] > WEBHOOK_GIVE_UP_AFTER:
        tried = {**tried, "status": "failed", "next_attempt_at": None}
    else:
        tried = {**tried, "next_attempt_at": retry_at}
    failing_since = webhook["failing_since"] or now
    if webhook["enabled"] and now - failing_since >= WEBHOOK_DISABLE_AFTER:
        return tried, {**webhook, "failing_since": failing_since, "enabled": False, "disabled_at": now}
    return tried, {**webhook, "failing_since": failing_since}


def webhook_enabled(webhook: dict) -> dict:
    """Staff turn a disabled endpoint on again: its failures so far are forgotten."""
    return {**webhook, "enabled": True, "disabled_at": None, "failing_since": None}
