"""Hand-written in-memory fakes of the platform's own store classes, for unit tests."""
import copy
from datetime import datetime, timedelta

from nszm import czech
from nszm.contracts.errors import Conflict, NotFound
from nszm.privacy import Pseudonyms
from nszm.rush import Rush
from nszm.storage import IdTaken, utcnow
from services.notify.mail.mailer import Rejected


class FakeOutbox:
    def __init__(self):
        self.pending: list[dict] = []
        self.published: list[dict] = []

    def add(self, events):
        self.pending += events

    def claim(self):
        event = self.pending[0] if self.pending else None
        return {"_id": event["event_id"], "event_type": event["event_type"], "payload": event} if event else None

    def mark_published(self, event_ids):
        for event_id in event_ids:
            event = next(e for e in self.pending if e["event_id"] == event_id)
            self.pending.remove(event)
            self.published.append(event)

    def release(self, record):
        pass

    def pending_count(self):
        return len(self.pending)


class FakeUnitOfWork:
    """A fake store's unit of work is the store itself, put back as it was if the work raises;
    committed events go to its outbox."""

    pseudonyms = Pseudonyms.from_env()

    def record_erasure(self, erasure):
        self.__dict__.setdefault("erasures", {})[erasure["id"]] = dict(erasure)

    def erasure_of(self, person):
        done = [e for e in self.__dict__.get("erasures", {}).values() if e["person"] == person]
        return max(done, key=lambda e: e["requested_at"], default=None)

    def unit_of_work(self, work):
        self.committed = []
        before = copy.deepcopy(self.__dict__)
        try:
            return work(self)
        except BaseException:
            self.__dict__.update(before)
            raise

    def commit(self, events):
        self.outbox.add(events)
        self.committed += events

    def record_audit(self, entry):
        self.__dict__.setdefault("audit_entries", []).append(entry)

    def first_delivery(self, consumer, event_id):
        handled = self.__dict__.setdefault("handled", set())
        if (consumer, event_id) in handled:
            return False
        handled.add((consumer, event_id))
        return True


class FakeMembersStore(FakeUnitOfWork):
    """Keeps members and applications in dicts; raises what the real store raises."""

    def __init__(self, members=(), applications=()):
        self.members = {m["slug"]: dict(m) for m in members}
        self.applications = {a["id"]: dict(a) for a in applications}
        self.outbox = FakeOutbox()
        self.slugs_taken_by_others: set[str] = set()

    def ping(self):
        return True

    def list_members(self, *, page, per_page, type=None, region=None, q=None, sort="name"):
        found = [m for m in self.members.values() if m["status"] == "active"
                 and (not type or m["type"] == type) and (not region or m["region"] == region)
                 and (not q or czech.fold(q) in m["name_folded"])]
        found.sort(key=lambda m: m["name_sort"])
        if sort == "newest":
            found.sort(key=lambda m: m["member_since"], reverse=True)
        return found[(page - 1) * per_page: page * per_page], len(found)

    def get_member(self, slug, include_left=False):
        member = self.members.get(slug)
        if member is None or (member["status"] != "active" and not include_left):
            raise NotFound(slug)
        return dict(member)

    def coordinator_of(self, email):
        return next((m for m in self.members.values() if m["status"] == "active" and any(
            c["role"] == "coordinator" and c["email"].lower() == email.strip().lower() for c in m["contacts"])), None)

    def active_members(self):
        return [m for m in self.members.values() if m["status"] == "active"]

    def taken_slugs(self, base):
        return {slug for slug in self.members if slug == base or slug.startswith(f"{base}-")}

    def member_with_ico(self, ico):
        holders = sorted((m for m in self.members.values() if m["ico"] == ico), key=lambda m: m["status"])
        return dict(holders[0]) if holders else None

    def add_member(self, member):
        if member["slug"] in self.slugs_taken_by_others:
            self.slugs_taken_by_others.discard(member["slug"])
            self.members[member["slug"]] = {**member, "name": "someone else"}
            raise IdTaken(member["slug"])
        self.members[member["slug"]] = {"version": 1, **member}

    def save_member(self, before, after):
        if self.members[before["slug"]].get("version", 0) != before.get("version", 0):
            raise Conflict("changed meanwhile")
        self.members[after["slug"]] = dict(after)

    def add_application(self, application):
        if any(a["ico"] == application["ico"] and a["status"] == "pending" for a in self.applications.values()):
            raise Conflict("pending already")
        self.applications[application["id"]] = dict(application)

    def get_application(self, application_id):
        if application_id not in self.applications:
            raise NotFound(application_id)
        return dict(self.applications[application_id])

    def list_applications(self, *, page, per_page, status=None):
        found = [a for a in self.applications.values() if not status or a["status"] == status]
        return found[(page - 1) * per_page: page * per_page], len(found)

    def save_decision(self, decided):
        if self.applications[decided["id"]]["status"] != "pending":
            raise Conflict("decided already")
        self.applications[decided["id"]] = dict(decided)

    def applications_of_person(self, person):
        return [dict(a) for a in self.applications.values() if a.get("person") == person]

    def members_with_person(self, person):
        return [dict(m) for m in self.members.values()
                if any(self.pseudonyms.person(c["email"]) == person for c in m.get("contacts", []))]

    def save_applications(self, applications):
        for application in applications:
            self.applications[application["id"]] = dict(application)

    def rejected_before(self, moment, limit):
        return [dict(a) for a in self.applications.values() if a["status"] == "rejected"
                and a["decided_at"] < moment and "contact_erased_at" not in a][:limit]

    def members_with_icos(self, icos):
        return {ico: holder for ico in icos if (holder := self.member_with_ico(ico)) is not None}

    def all_slugs(self):
        return set(self.members)

    def add_members(self, members):
        for member in members:
            if member["slug"] in self.members:
                raise Conflict("slug taken meanwhile")
            self.members[member["slug"]] = dict(member)


class RecordingRush(Rush):
    """The real group commit and keyed locks, noting the keys each unit of work waited for."""

    def __init__(self):
        super().__init__()
        self.turns: list[list[str]] = []

    def one_at_a_time(self, keys):
        keys = list(keys)
        self.turns.append(keys)
        return super().one_at_a_time(keys)


class FakeSigner:
    def sign(self, purpose, value):
        return f"{purpose}:{value}"

    def verify(self, purpose, token, value, max_age=None):
        return token == f"{purpose}:{value}"

    def value(self, purpose, token, max_age=None):
        signed_for, _, value = token.partition(":")
        return value if signed_for == purpose and value else None


class FakeEventsStore(FakeUnitOfWork):
    """Events, seat counters and registrations in dicts; its unit of work is itself."""


    def __init__(self):
        self.events: dict[str, dict] = {}
        self.registrations: dict[str, dict] = {}
        self.outbox = FakeOutbox()
        self.serial = 0

    def ping(self):
        return True

    def signer(self):
        return FakeSigner()

    def taken_event_ids(self, base):
        return {event_id for event_id in self.events if event_id.startswith(base)}

    def add_event(self, event):
        self.events[event["id"]] = {**event, "sessions": [
            {**s, "seats_left": s["capacity"], "waiting": 0, "waitlist_seq": 0} for s in event["sessions"]]}

    def get_event(self, event_id, published_only=True, with_counters=True):
        event = self.events.get(event_id)
        if event is None or (published_only and event["status"] != "published"):
            raise NotFound(event_id)
        counters = () if with_counters else ("seats_left", "waiting", "waitlist_seq")
        return {**event, "sessions": [{k: v for k, v in s.items() if k not in counters} for s in event["sessions"]]}

    def list_events(self, *, page, per_page, from_=None, to=None, type=None, sort="start", status="published"):
        found = sorted((e for e in self.events.values() if (status is None or e["status"] == status)
                        and (from_ is None or e["ends_at"] >= from_)
                        and (to is None or e["starts_at"] < to) and (type is None or e["type"] == type)),
                       key=lambda e: e["starts_at"], reverse=sort == "latest")
        return found[(page - 1) * per_page: page * per_page], len(found)

    def save_published(self, event):
        if self.events[event["id"]]["status"] != "draft":
            raise Conflict("published already")
        self.events[event["id"]].update(status="published", published_at=event["published_at"])

    def _session(self, event_id, session_id):
        return next(s for s in self.events[event_id]["sessions"] if s["id"] == session_id)

    def seat_counters(self, event_ids):
        return {event_id: {s["id"]: {"seats_left": s["seats_left"], "waiting": s["waiting"],
                                     "waitlist_seq": s["waitlist_seq"]} for s in self.events[event_id]["sessions"]}
                for event_id in event_ids}

    def move_counters(self, seen, changes):
        for event_id, sessions in changes.items():
            self.count_seats(event_id, sessions)

    def registered_addresses(self, addresses):
        return {(r["event_id"], r["email_key"]) for r in self.registrations.values()
                if r["status"] != "cancelled" and (r["event_id"], r["email_key"]) in set(addresses)}

    def add_registrations(self, registrations):
        for registration in registrations:
            if self.registered_addresses([(registration["event_id"], registration["email_key"])]):
                raise Conflict("registered already")
            self.registrations[registration["id"]] = dict(registration)

    def registrations_for_requests(self, request_ids):
        return {r["request_id"]: dict(r) for r in self.registrations.values() if r.get("request_id") in request_ids}

    def save_registrations(self, registrations):
        for registration in registrations:
            self.registrations[registration["id"]] = dict(registration)

    def count_seats(self, event_id, changes):
        for session_id, counts in changes.items():
            for counter, by in counts.items():
                self._session(event_id, session_id)[counter] += by

    def waiting_in(self, event_id, session_ids):
        return [dict(r) for r in self.registrations.values() if r["event_id"] == event_id and any(
            seat["id"] in session_ids and seat["status"] == "waitlisted" for seat in r["sessions"])]

    def next_certificate_serial(self, year):
        self.serial += 1
        return self.serial

    def get_registration(self, registration_id):
        if registration_id not in self.registrations:
            raise NotFound(registration_id)
        return dict(self.registrations[registration_id])

    def queues(self, event_id, session_ids):
        return {session_id: sorted(seat["ticket"] for r in self.registrations.values() if r["event_id"] == event_id
                                   for seat in r["sessions"] if seat["id"] == session_id
                                   and seat["status"] == "waitlisted")
                for session_id in session_ids}

    def registrations_of(self, event_id):
        return [dict(r) for r in self.registrations.values() if r["event_id"] == event_id]

    def registrations_in_session(self, event_id, session_id):
        return [dict(r) for r in self.registrations_of(event_id) if any(s["id"] == session_id for s in r["sessions"])]

    def list_registrations(self, event_id, *, page, per_page, status=None):
        found = [r for r in self.registrations.values() if r["event_id"] == event_id
                 and (status is None or r["status"] == status)]
        return found[(page - 1) * per_page: page * per_page], len(found)

    def registrations_of_person(self, person):
        return [dict(r) for r in self.registrations.values() if r.get("person") == person]

    def registrations_by_id(self, registration_ids):
        return {i: dict(self.registrations[i]) for i in registration_ids if i in self.registrations}

    def events_by_id(self, event_ids):
        return {event_id: dict(self.events[event_id]) for event_id in event_ids if event_id in self.events}

    def ended_before(self, moment):
        return [event["id"] for event in self.events.values() if event["ends_at"] < moment]

    def registrations_holding_people(self, event_ids, limit):
        return [dict(r) for r in self.registrations.values() if r["event_id"] in event_ids
                and "expired_at" not in r and "erased_at" not in r][:limit]

    def events_starting_between(self, start, end):
        return [dict(e) for e in self.events.values() if e["status"] == "published" and start <= e["starts_at"] < end]

    def registrations_to_remind(self, event_id, limit):
        return [dict(r) for r in self.registrations.values() if r["event_id"] == event_id
                and "reminded_at" not in r and r["status"] != "cancelled" and "erased_at" not in r
                and "expired_at" not in r and any(s["status"] == "confirmed" for s in r["sessions"])][:limit]

    def by_certificate(self, certificate_id):
        found = next((r for r in self.registrations.values() if r.get("certificate_id") == certificate_id), None)
        if found is None:
            raise NotFound(certificate_id)
        return found


class FakeNotifyStore(FakeUnitOfWork):
    """Queued mails, the suppression list and bounces in dicts."""


    def __init__(self):
        self.mails: dict[str, dict] = {}
        self.outbox = FakeOutbox()
        self.suppressions: dict[str, dict] = {}
        self.bounces: dict[str, dict] = {}
        self.soft_scores: dict[str, dict] = {}
        self.inbox: dict[str, str] = {}

    def ping(self):
        return True

    def hold_as(self, holder):
        self.holder = holder

    def enqueue(self, mail, leased=False):
        if mail["id"] in self.mails:
            return None
        self.mails[mail["id"]] = {**mail, "person": self.pseudonyms.person(mail["to"]), "status": "pending",
                                  "attempts": 0, "last_error": None, "leased": leased}
        return dict(self.mails[mail["id"]])

    def queue_mails(self, mails):
        for mail in mails:
            self.enqueue(mail)

    def claim(self, mail_id=None):
        due = [m for m in self.mails.values() if m["status"] == "pending" and mail_id in (None, m["id"])
               and not m.get("retry_at") and not m.get("leased")]
        return dict(due[0]) if due else None

    def mark_sent(self, mail_id, message_id):
        self.mails[mail_id].update(status="sent", message_id=message_id, attempts=self.mails[mail_id]["attempts"] + 1)

    def get(self, mail_id):
        return dict(self.mails[mail_id]) if mail_id in self.mails else None

    def list_mails(self, *, page, per_page, status=None, to=None):
        found = [m for m in self.mails.values() if status in (None, m["status"]) and to in (None, m["to"])]
        return found[(page - 1) * per_page: page * per_page], len(found)

    def retry(self, mail_id):
        mail = self.mails[mail_id]
        if mail["status"] != "failed":
            return False
        mail.update(status="pending", attempts=0, retry_at=None)
        return True

    def mark_failed_attempt(self, mail_id, error, retry_at):
        mail = self.mails[mail_id]
        mail.update(last_error=error, attempts=mail["attempts"] + 1, retry_at=retry_at, leased=False)
        if retry_at is None:
            mail["status"] = "failed"

    def mark_suppressed(self, mail_id, reason):
        self.mails[mail_id].update(status="suppressed", last_error=f"suppressed: {reason}", leased=False)

    def mail_by_bounce(self, tokens, message_ids):
        return next((dict(m) for m in self.mails.values()
                     if m.get("bounce_token") in tokens or m.get("message_id") in message_ids), None)

    def mark_mail_bounced(self, mail_id, bounce):
        mail = self.mails[mail_id]
        if mail["status"] != "sent":
            return False
        mail.update(status="bounced", bounce=bounce)
        return True

    def recipient_by_bounce(self, tokens, message_ids):
        return None

    # -- the suppression list --------------------------------------------------------------------

    def suppression_reasons(self, people):
        return {person: self.suppressions[person]["reason"] for person in people if person in self.suppressions}

    def suppression_of(self, person):
        return {**self.suppressions[person], "person": person} if person in self.suppressions else None

    def put_suppression(self, person, entry):
        self.suppressions[person] = {key: value for key, value in entry.items() if key != "person"}

    def lift_suppression(self, person, reasons=None):
        if person in self.suppressions and (reasons is None or self.suppressions[person]["reason"] in reasons):
            del self.suppressions[person]
            return True
        return False

    def list_suppressions(self, *, page, per_page, reason=None, q=None, person=None):
        found = [{**e, "person": p} for p, e in self.suppressions.items() if reason in (None, e["reason"])
                 and (not q or q.lower() in (e.get("email") or "") or p == person)]
        return found[(page - 1) * per_page: page * per_page], len(found)

    def suppressions_of_people(self, people):
        return [{**self.suppressions[p], "person": p} for p in people if p in self.suppressions]

    def soft_score_of(self, person):
        return self.soft_scores.get(person)

    def save_soft_score(self, person, score):
        self.soft_scores[person] = dict(score)

    def record_bounce(self, key, person, record):
        if key in self.bounces:
            return False
        self.bounces[key] = {**record, "person": person}
        return True

    def bounces_of_person(self, person):
        return [dict(b) for b in self.bounces.values() if b["person"] == person]

    def drop_bounces(self, before):
        due = [key for key, b in self.bounces.items() if b["at"] < before]
        for key in due:
            del self.bounces[key]
        return len(due)

    def known_inbox_keys(self, keys):
        return set(keys) & set(self.inbox)

    def remember_inbox_key(self, key, outcome):
        self.inbox.setdefault(key, outcome)


class FakeMailoutStore(FakeNotifyStore):
    """Mailouts, their numbered recipients, leased ranges, subscribers and held addresses in dicts."""

    def __init__(self, subscribers=()):
        super().__init__()
        self.mailouts: dict[str, dict] = {}
        self.recipients: dict[str, list[dict]] = {}
        self.cursors: dict[str, int] = {}
        self.leases: dict[str, dict] = {}
        self.senders: dict[str, datetime] = {}  # mailout -> the end of its sender's lease
        self.subscribers = {s["id"]: dict(s) for s in subscribers}

    def signer(self):
        return FakeSigner()

    def add_mailout(self, mailout):
        self.mailouts[mailout["id"]] = dict(mailout)

    def get_mailout(self, mailout_id):
        if mailout_id not in self.mailouts:
            raise NotFound(mailout_id)
        return dict(self.mailouts[mailout_id])

    def list_mailouts(self, *, page, per_page, status=None):
        found = [m for m in self.mailouts.values() if status in (None, m["status"])]
        return found[(page - 1) * per_page: page * per_page], len(found)

    def mailouts_in(self, *statuses):
        return [dict(m) for m in self.mailouts.values() if m["status"] in statuses]

    def claim_start(self, mailout_id):
        mailout, now = self.mailouts[mailout_id], utcnow()
        if mailout["status"] != "scheduled" or mailout.get("start_lease", now) > now:
            return None
        mailout["start_lease"] = now + timedelta(seconds=60)
        return mailout["start_lease"]

    def save_mailout(self, before, after):
        stored = self.mailouts[before["id"]]
        if stored["status"] != before["status"] or (before.get("start_lease")
                                                    and stored.get("start_lease") != before["start_lease"]):
            raise Conflict("changed meanwhile")
        self.mailouts[after["id"]] = dict(after)

    def delete_subscriber(self, key):
        self.subscribers.pop(key, None)

    def drop_mail_bodies(self, sent_before):
        due = [m for m in self.mails.values() if m["status"] in ("sent", "failed", "bounced", "suppressed") and "text" in m
               and m.get("created_at", sent_before) < sent_before]
        for mail in due:
            for field in ("text", "html", "attachments", "headers"):
                mail.pop(field, None)
            if "bounce" in mail:
                mail["bounce"].pop("diagnostic", None)
        return len(due)

    def drop_recipients(self, ended_before):
        ended = [m["id"] for m in self.mailouts.values() if m["status"] in ("sent", "cancelled")
                 and m["finished_at"] < ended_before]
        return sum(len(self.recipients.pop(mailout_id, [])) for mailout_id in ended)

    def drop_unconfirmed_subscribers(self, requested_before):
        due = [key for key, s in self.subscribers.items() if s["status"] == "pending" and s["mailed_at"] < requested_before]
        for key in due:
            del self.subscribers[key]
        return len(due)

    def drop_deliveries(self, created_before):
        due = [key for key, d in getattr(self, "deliveries", {}).items()
               if d["status"] in ("delivered", "failed") and d["created_at"] < created_before]
        for key in due:
            del self.deliveries[key]
        return len(due)

    def mails_of_person(self, person):
        return [dict(m) for m in self.mails.values() if self.pseudonyms.person(m["to"]) == person]

    def mailouts_of_person(self, person):
        return [{**r, "mailout_id": mailout_id, "subject": self.mailouts[mailout_id]["subject"]}
                for mailout_id, recipients in self.recipients.items() for r in recipients
                if self.pseudonyms.person(r["email"]) == person]

    def subscriber_of_person(self, person):
        return next((dict(s) for s in self.subscribers.values() if self.pseudonyms.person(s["email"]) == person), None)

    def erase_person(self, person, erased):
        for mail in self.mails.values():
            if self.pseudonyms.person(mail["to"]) == person:
                mail.update(erased["mail"])
                for dropped in erased["mail_dropped"]:
                    mail.pop(dropped, None)
        for recipients in self.recipients.values():
            for recipient in recipients:
                if self.pseudonyms.person(recipient["email"]) == person:
                    recipient.update(erased["recipient"])
                    for dropped in erased["recipient_dropped"]:
                        recipient.pop(dropped, None)
        self.subscribers = {key: s for key, s in self.subscribers.items()
                            if self.pseudonyms.person(s["email"]) != person}
        if person in self.suppressions:
            self.suppressions[person].update(email=None, detail=None)
        self.bounces = {key: b for key, b in self.bounces.items() if b["person"] != person}
        self.soft_scores.pop(person, None)

    def confirmed_subscribers(self):
        return [{"email": s["email"], "name": s.get("name"), "organization": None}
                for s in self.subscribers.values() if s["status"] == "confirmed"]

    def get_subscriber(self, key):
        return dict(self.subscribers[key]) if key in self.subscribers else None

    def subscriber_by_token(self, hashed):
        return next((dict(s) for s in self.subscribers.values() if hashed and s.get("token_hash") == hashed), None)

    def save_subscriber(self, subscriber):
        self.subscribers[subscriber["id"]] = dict(subscriber)

    def subscribers_by_keys(self, keys):
        return {key: dict(self.subscribers[key]) for key in keys if key in self.subscribers}

    def save_subscribers(self, subscribers):
        for subscriber in subscribers:
            self.save_subscriber(subscriber)

    def freeze_recipients(self, mailout_id, deliver, skipped):
        people = [(p, "queued") for p in deliver] + [(p, "skipped") for p in skipped]
        now = utcnow()
        self.recipients[mailout_id] = [
            {**p, "id": f"{mailout_id}:{seq:07d}", "mailout_id": mailout_id, "seq": seq, "status": status,
             "person": self.pseudonyms.person(p["email"]), "attempts": 0, "last_error": None,
             "sent_at": None, "message_id": None, "next_attempt_at": now if status == "queued" else None}
            for seq, (p, status) in enumerate(people)]

    def claim_sending(self, mailout_id):
        now = utcnow()
        if self.senders.get(mailout_id, now) > now:
            return None
        self.senders[mailout_id] = now + timedelta(seconds=30)
        return self.senders[mailout_id]

    def release_sending(self, mailout_id, lease):
        if self.senders.get(mailout_id) == lease:
            del self.senders[mailout_id]

    def claim_range(self, mailout_id, size):
        """A settled range whose revisit is due, else the next one never handed out."""
        lease = next((lease for lease in self.leases.values() if lease["mailout_id"] == mailout_id
                      and lease["until"] is not None and lease["until"] <= utcnow()), None)
        if lease is None:
            start = self.cursors.get(mailout_id, 0)
            if start >= self.mailouts[mailout_id]["total"]:
                return None, []
            self.cursors[mailout_id] = start + size
            lease = {"id": f"{mailout_id}:{start}", "mailout_id": mailout_id, "start": start, "end": start + size}
            self.leases[lease["id"]] = lease
        lease["until"] = None  # held
        chosen = self.recipients[mailout_id][lease["start"]:lease["end"]]
        return lease, [dict(r) for r in chosen if r["status"] == "queued"]

    def interrupted(self, lease):
        self.leases[lease["id"]]["until"] = utcnow()

    def settle_range(self, lease, retry_at):
        if retry_at is None:
            self.leases.pop(lease["id"])
        else:
            self.leases[lease["id"]]["until"] = retry_at

    def ranges_left(self, mailout_id):
        return self.cursors.get(mailout_id, 0) < self.mailouts[mailout_id]["total"] or any(
            lease["mailout_id"] == mailout_id for lease in self.leases.values())

    def _recipient(self, recipient_id):
        mailout_id = recipient_id.rsplit(":", 1)[0]
        return next(r for r in self.recipients[mailout_id] if r["id"] == recipient_id)

    def recipients_sent(self, sent):
        for recipient_id, message_id, at in sent:
            recipient = self._recipient(recipient_id)
            recipient.update(status="sent", message_id=message_id, sent_at=at, attempts=recipient["attempts"] + 1)

    def recipient_failed(self, recipient, status, retry_at, error):
        stored = self._recipient(recipient["id"])
        stored.update(status=status, next_attempt_at=retry_at, last_error=error, attempts=stored["attempts"] + 1)

    def add_progress(self, mailout_id, **counts):
        progress = self.mailouts[mailout_id].setdefault("progress", {})
        for key, n in counts.items():
            progress[key] = progress.get(key, 0) + n

    def recipient_counts(self, mailout_id):
        counts: dict[str, int] = {}
        for recipient in self.recipients.get(mailout_id, []):
            counts[recipient["status"]] = counts.get(recipient["status"], 0) + 1
        return counts

    def get_recipient(self, mailout_id, key):
        return next((dict(r) for r in self.recipients.get(mailout_id, []) if r["key"] == key), None)

    def recipient_by_bounce(self, tokens, message_ids):
        return next((dict(r) for recipients in self.recipients.values() for r in recipients
                     if r.get("bounce_token") in tokens or (r["message_id"] and r["message_id"] in message_ids)), None)

    def mark_recipient_bounced(self, recipient, bounce):
        stored = self._recipient(recipient["id"])
        if stored["status"] != "sent":
            return False
        stored.update(status="bounced", bounce=bounce)
        self.add_progress(stored["mailout_id"], bounced=1)
        return True

    def skip_recipients(self, recipients, reasons):
        for recipient in recipients:
            stored = self._recipient(recipient["id"])
            if stored["status"] == "queued":
                stored.update(status="skipped", skip_reason=reasons[recipient["person"]], next_attempt_at=None)

    def queue_failed_again(self, mailout_id, now):
        failed = [r for r in self.recipients.get(mailout_id, []) if r["status"] == "failed"]
        for recipient in failed:
            recipient.update(status="queued", attempts=0, next_attempt_at=now)
        return len(failed)

    def list_recipients(self, mailout_id, *, page, per_page, status=None):
        found = [r for r in self.recipients.get(mailout_id, []) if status in (None, r["status"])]
        return found[(page - 1) * per_page: page * per_page], len(found)


class FakeWebhookStore(FakeMailoutStore):
    """Notify's store with webhook endpoints and deliveries in dicts too."""

    def __init__(self, subscribers=()):
        super().__init__(subscribers)
        self.webhooks: dict[str, dict] = {}
        self.deliveries: dict[str, dict] = {}

    def add_webhook(self, webhook):
        self.webhooks[webhook["id"]] = dict(webhook)

    def get_webhook(self, webhook_id):
        if webhook_id not in self.webhooks:
            raise NotFound(webhook_id)
        return dict(self.webhooks[webhook_id])

    def list_webhooks(self, *, page, per_page):
        found = list(self.webhooks.values())
        return found[(page - 1) * per_page: page * per_page], len(found)

    def webhooks_for(self, event_type):
        return [dict(w) for w in self.webhooks.values() if w["enabled"] and event_type in w["events"]]

    def save_webhook(self, webhook):
        self.webhooks[webhook["id"]] = dict(webhook)

    def delete_webhook(self, webhook_id):
        self.get_webhook(webhook_id)
        del self.webhooks[webhook_id]
        self.deliveries = {k: d for k, d in self.deliveries.items() if d["webhook_id"] != webhook_id}

    def add_deliveries(self, deliveries):
        for delivery in deliveries:
            self.deliveries.setdefault(delivery["id"], dict(delivery))

    def claim_deliveries(self, now, limit):
        due = [dict(d) for d in self.deliveries.values() if d["next_attempt_at"] and d["next_attempt_at"] <= now]
        return due[:limit]

    def save_delivery(self, delivery):
        self.deliveries[delivery["id"]] = dict(delivery)

    def list_deliveries(self, webhook_id, *, page, per_page, status=None):
        found = [d for d in self.deliveries.values() if d["webhook_id"] == webhook_id and status in (None, d["status"])]
        return found[(page - 1) * per_page: page * per_page], len(found)


class FakeMailer:
    """Records what it would send; fails while `failures` is above zero, or refuses `refused` addresses."""

    def __init__(self, failures: int = 0, refuse: Exception | None = None, refused=()):
        self.sent: list[dict] = []
        self.failures = failures
        self.refuse = refuse
        self.refused = set(refused)
        self.sessions = 0

    def session(self):
        self.sessions += 1
        return self

    def close(self):
        pass

    def send(self, mail, session=None):
        if self.refuse is not None:
            raise self.refuse
        if mail["to"] in self.refused:
            raise Rejected(f"550 {mail['to']}: no such mailbox")
        if self.failures:
            self.failures -= 1
            raise ConnectionRefusedError("SMTP server down")
        self.sent.append(mail)
        return mail.get("message_id") or f"<{mail['id']}@test>"


class FakePracticeStore(FakeUnitOfWork):
    """Practices, competitions, votes and rate counters in dicts."""


    def __init__(self):
        self.practices: dict[str, dict] = {}
        self.competitions: dict[str, dict] = {}
        self.votes: dict[str, dict] = {}
        self.outbox = FakeOutbox()

    def ping(self):
        return True

    def taken_slugs(self, base):
        return {slug for slug in self.practices if slug == base or slug.startswith(f"{base}-")}

    def add_practice(self, practice):
        self.practices[practice["slug"]] = dict(practice)

    def get_practice(self, slug, published_only=True):
        found = self.practices.get(slug)
        if found is None or (published_only and found["status"] != "published"):
            raise NotFound(slug)
        return dict(found)

    def practices_by_slug(self, slugs):
        return [dict(self.practices[s]) for s in slugs if s in self.practices]

    def list_practices(self, *, page, per_page, words=(), theme=None, member=None, member_type=None, region=None,
                       year=None, status="published"):
        found = [p for p in self.practices.values() if (status is None or p["status"] == status)
                 and all(any(w.startswith(q) for w in p["search_words"]) for q in words)
                 and (theme is None or theme in p["themes"]) and (member is None or p["member"] == member)
                 and (member_type is None or p["member_type"] == member_type)
                 and (region is None or p["region"] == region) and (year is None or p["year"] == year)]
        return found[(page - 1) * per_page: page * per_page], len(found)

    def save_practice(self, before, after):
        if self.practices[before["slug"]]["status"] != before["status"]:
            raise NotFound("changed meanwhile")
        self.practices[after["slug"]] = dict(after)

    def refresh_member(self, member):
        version = member.get("version", 0)
        for p in self.practices.values():
            if p["member"] == member["slug"] and p.get("member_version", -1) < version:
                p.update(member_name=member["name"], member_type=member["type"], region=member["region"],
                         member_version=version)

    def add_competition(self, competition):
        self.competitions[competition["id"]] = dict(competition)

    def get_competition(self, competition_id):
        if competition_id not in self.competitions:
            raise NotFound(competition_id)
        return dict(self.competitions[competition_id])

    def list_competitions(self, *, page, per_page, year=None):
        found = [c for c in self.competitions.values() if year is None or c["year"] == year]
        return found[(page - 1) * per_page: page * per_page], len(found)

    def counts(self, competition_id):
        counts: dict[str, int] = {}
        for v in self.votes.values():
            if v["competition_id"] == competition_id and v["counted"]:
                counts[v["practice"]] = counts.get(v["practice"], 0) + 1
        return counts

    def due_for_closing(self, now):
        return [dict(c) for c in self.competitions.values() if c["closed_at"] is None and c["voting_closes_at"] <= now]

    def end_voting(self, competition):
        stored = self.competitions[competition["id"]]
        if stored["voting_closes_at"] <= competition["voting_closes_at"]:
            return False
        stored["voting_closes_at"] = competition["voting_closes_at"]
        return True

    def close_competition(self, competition_id, results, now):
        if self.competitions[competition_id]["closed_at"] is not None:
            return False
        self.competitions[competition_id].update(closed_at=now, results=results)
        return True

    def add_votes(self, votes):
        self.votes.update((vote["id"], dict(vote)) for vote in votes)

    def vote_by_token(self, token_hash):
        vote = next((v for v in self.votes.values() if v["token_hash"] == token_hash), None)
        if vote is None:
            raise NotFound("no such token")
        return dict(vote)

    def counted_vote_exists(self, competition_id, person):
        return any(v["counted"] and v["person"] == person and v["competition_id"] == competition_id
                   for v in self.votes.values())

    def save_vote(self, vote):
        self.votes[vote["id"]] = dict(vote)

    def votes_of_person(self, person):
        return [dict(v) for v in self.votes.values() if v["person"] == person]

    def save_votes(self, votes):
        for vote in votes:
            self.save_vote(vote)

    def votes_to_pseudonymise(self, limit):
        closed = {c["id"] for c in self.competitions.values() if c.get("closed_at") is not None}
        return [dict(v) for v in self.votes.values() if v["competition_id"] in closed
                and "pseudonymised_at" not in v][:limit]

    def forget_events_about(self, field, values):
        self.forgotten = [*getattr(self, "forgotten", []), (field, list(values))]
        return 0
