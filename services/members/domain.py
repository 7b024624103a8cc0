"""Rules of membership: IČO, search fields, applications, updates, leaving, coverage."""
import re
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Callable

from nszm import czech
from nszm.contracts import bus
from nszm.contracts.members import MAX_CONTACTS, MemberSchema
from nszm.formatting import PRAGUE
from nszm.imports import row_error
from nszm.privacy import ERASED_NAME, erased_address
from nszm.rules import Refused
from nszm.schemas import cached_schema

ICO_WEIGHTS = (8, 7, 6, 5, 4, 3, 2)


def normalise_ico(raw: str) -> str:
    """Drop the spaces people type: '708 91 508' -> '70891508'."""
    return re.sub(r"\s+", "", raw or "")


def is_valid_ico(ico: str) -> bool:
    """Eight digits, the last the mod-11 check digit of the first seven."""
    if not re.fullmatch(r"\d{8}", ico or ""):
        return False
    remainder = sum(int(d) * w for d, w in zip(ico, ICO_WEIGHTS)) % 11
    return int(ico[7]) == (11 - remainder) % 10


def with_search_fields(member: dict) -> dict:
    """The member with the Czech sort key and the folded name that the store indexes."""
    return {**member, "name_sort": czech.sort_key(member["name"]), "name_folded": czech.fold(member["name"])}


def slug_base(name: str) -> str:
    """A member's address from its name: 'Praha 12' -> 'praha-12' (then 'praha-12-2' if taken)."""
    return czech.slugify(name)


def first_free_slug(name: str, taken: set[str]) -> str:
    return czech.first_free(slug_base(name), taken)


def new_application(data: dict, now: datetime, person: str, holder: dict | None = None) -> dict:
    """A pending application; refused while an active member holds its IČO (`holder`). `person`
    names its contact (the keyed hash of their address)."""
    if holder is not None and holder["status"] == "active":
        raise Refused(f"A member with IČO {data['ico']} exists already.")
    return {
        **data,
        "person": person,
        "id": uuid.uuid4().hex,
        "status": "pending",
        "submitted_at": now,
        "decided_at": None,
        "member": None,
        "reason": None,
    }


class NotPending(Refused):
    """The application was already decided."""

    def __init__(self, application: dict):
        super().__init__(f"The application is {application['status']} already.")


def approve(application: dict, slug: str, member_since: date, now: datetime,
            returning: dict | None = None) -> tuple[dict, dict]:
    """The decided application and the member it makes: a new one under `slug`, or the `returning`
    member who left, under its old slug and history."""
    if application["status"] != "pending":
        raise NotPending(application)
    if returning is not None:
        slug = returning["slug"]
    member = with_search_fields(
        {
            "slug": slug,
            "name": application["name"],
            "type": application["type"],
            "region": application["region"],
            "ico": application["ico"],
            "population": application["population"],
            "member_since": member_since,
            "website": application.get("website"),
            "part_of": application.get("part_of"),
            "contacts": [{**application["contact"], "role": application["contact"].get("role", "coordinator")}],
            "status": "active",
            "left_on": None,
            "joined_at": now,
            "version": next_version(returning) if returning else 1,
        }
    )
    decided = {**application, "status": "approved", "decided_at": now, "member": slug}
    return decided, member


def reject(application: dict, reason: str, now: datetime) -> dict:
    if application["status"] != "pending":
        raise NotPending(application)
    return {**application, "status": "rejected", "decided_at": now, "reason": reason}


def next_version(member: dict) -> int:
    """A member's version counts its changes, so that a consumer can tell a late event from a new one."""
    return member.get("version", 0) + 1


def update(member: dict, changes: dict) -> dict:
    if "contacts" in changes:
        changes = {**changes, "contacts": [{"role": "other", **c} for c in changes["contacts"]]}
    return with_search_fields({**member, **changes, "version": next_version(member)})


def contacts_changed(before: dict, after: dict) -> bool:
    """Whether a change touched the member's contacts (who, in which role and function)."""
    def shown(member: dict) -> list[tuple]:
        return [(c.get("role"), c.get("function"), c["name"], c["email"].strip().lower(), c.get("phone"))
                for c in member.get("contacts", [])]
    return shown(before) != shown(after)


class AlreadyLeft(Refused):
    """The member has left already."""

    def __init__(self, member: dict):
        super().__init__(f"{member['name']} has left the network already.")


def audience_contacts(members: list[dict], types: list[str], regions: list[str],
                      roles: tuple[str, ...] | list[str] = ("coordinator",)) -> list[dict]:
    """The contacts in these roles of active members of these types and regions (no filter: all)."""
    return [
        {"email": contact["email"], "name": contact["name"], "organization": member["name"]}
        for member in members
        if member["status"] == "active" and (not types or member["type"] in types)
        and (not regions or member["region"] in regions)
        for contact in member.get("contacts", []) if contact.get("role") in roles
    ]


def leave(member: dict, left_on: date) -> dict:
    if member["status"] != "active":
        raise AlreadyLeft(member)
    return {**member, "status": "left", "left_on": left_on, "version": next_version(member)}


def is_covered_by_another(member: dict, by_slug: dict[str, dict], member_regions: set[str]) -> bool:
    """True when a member region or a member it lies within already counts its population."""
    if member["type"] != "region" and member["region"] in member_regions:
        return True
    parent = member.get("part_of")
    return bool(parent) and parent != member["slug"] and parent in by_slug


def population_covered(members: list[dict]) -> int:
    """People living in the network's members, each counted once."""
    active = [m for m in members if m.get("status", "active") == "active"]
    by_slug = {m["slug"]: m for m in active}
    member_regions = {m["region"] for m in active if m["type"] == "region"}
    return sum(m["population"] for m in active if not is_covered_by_another(m, by_slug, member_regions))


def statistics(members: list[dict]) -> dict:
    active = [m for m in members if m.get("status", "active") == "active"]
    return {
        "total": len(active),
        "by_type": dict(sorted(Counter(m["type"] for m in active).items())),
        "by_region": dict(sorted(Counter(m["region"] for m in active).items(), key=lambda kv: czech.sort_key(kv[0]))),
        "population_covered": population_covered(active),
    }


def news_item(member: dict) -> dict:
    """A new member as the news feed tells it."""
    return {"key": f"member:{member['slug']}", "title": f"Nový člen: {member['name']}",
            "summary": f"{member['name']} ({member['region']}) je členem Národní sítě Zdravých měst ČR.",
            "path": f"/api/v1/members/{member['slug']}", "category": "member",
            "published": datetime.combine(member["member_since"], time(0), PRAGUE)}


# -- imports ----------------------------------------------------------------------------------

MEMBER_FIELDS = ("name", "type", "region", "population", "website", "member_since")
NEEDED_FOR_NEW = ("name", "type", "region", "population")
CONTACT_FIELDS = {"contact_name": "name", "contact_email": "email", "contact_phone": "phone",
                  "contact_role": "role", "contact_function": "function"}


@dataclass
class MemberImport:
    """What an import of members decides: the broken rows, the change of each member (as its report
    shows it), the members to add and to save (before, after), and the events announcing them."""

    errors: list[dict] = field(default_factory=list)
    changes: list[dict] = field(default_factory=list)
    added: list[dict] = field(default_factory=list)
    saved: list[tuple[dict, dict]] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)


def planned_import(rows: list[dict], holders: dict[str, dict], taken_slugs: set[str], today: date, now: datetime,
                   person_of: Callable[[str], str]) -> MemberImport:
    """An import of rows (each a member by IČO, and one of its contacts): rows of one IČO make one
    member, which is created, or updated when a member holds the IČO (`holders`); a contact is
    matched by its address. A row is refused when it contradicts an earlier row of its member, when
    a new member lacks what a member needs, or when its member left the network."""
    plan = MemberImport()
    groups: dict[str, list[dict]] = {}
    for row in rows:
        groups.setdefault(row["ico"], []).append(row)
    taken = set(taken_slugs)
    for ico, group in groups.items():
        fields_of, lines, refused = _merged_rows(group, plan.errors)
        if not lines:
            continue
        holder = holders.get(ico)
        if holder is not None and holder["status"] != "active":
            plan.errors += [row_error(line, "ico", f"{holder['name']} left the network on {holder['left_on']}; "
                                      "an import does not change a former member (re-admit it by an application).")
                            for line in lines]
            continue
        if holder is None:
            missing = [key for key in NEEDED_FOR_NEW if key not in fields_of]
            if missing:
                plan.errors += [row_error(line, key, "A new member needs this (no member has this IČO yet).")
                                for line in lines for key in missing]
                continue
        contacts, too_many = _merged_contacts(holder, group, refused)
        plan.errors += [row_error(line, "contact_email", f"A member holds at most {MAX_CONTACTS} contacts.")
                        for line in too_many]
        lines = [line for line in lines if line not in too_many]
        if holder is None:
            slug = first_free_slug(fields_of["name"], taken)
            taken.add(slug)
            member = with_search_fields({"slug": slug, "ico": ico, "website": None, "part_of": None,
                                         "member_since": today, **fields_of, "contacts": contacts,
                                         "status": "active", "left_on": None, "joined_at": now, "version": 1})
            plan.added.append(member)
            plan.events.append(joined(member))
            plan.changes.append(_change(member, "create", lines, {}, contacts, []))
            continue
        after = update(holder, {**fields_of, "contacts": contacts})
        changed = {key: (holder.get(key), after.get(key)) for key in MEMBER_FIELDS if holder.get(key) != after.get(key)}
        known = {c["email"].strip().lower(): c for c in holder.get("contacts", [])}
        added = [c for c in contacts if c["email"].strip().lower() not in known]
        altered = [c for c in contacts if c["email"].strip().lower() in known and c != known[c["email"].strip().lower()]]
        if not changed and not added and not altered:
            plan.changes.append(_change(holder, "unchanged", lines, {}, [], []))
            continue
        plan.saved.append((holder, after))
        plan.events += change_announced(holder, after, person_of)
        plan.changes.append(_change(after, "update", lines, changed, added, altered))
    return plan


def _merged_rows(group: list[dict], errors: list[dict]) -> tuple[dict, list[int], set[int]]:
    """The member fields of a group of rows, its lines, and the lines refused for contradicting an
    earlier row (their errors added to `errors`)."""
    merged: dict = {}
    given_on: dict[str, int] = {}
    lines, refused = [], set()
    for row in group:
        clashes = [key for key in MEMBER_FIELDS if key in row and key in merged and merged[key] != row[key]]
        if clashes:
            errors += [row_error(row["line"], key, f"Differs from line {given_on[key]} of the same IČO.")
                       for key in clashes]
            refused.add(row["line"])
            continue
        for key in MEMBER_FIELDS:
            if key in row and key not in merged:
                merged[key], given_on[key] = row[key], row["line"]
        lines.append(row["line"])
    return merged, lines, refused


def _merged_contacts(holder: dict | None, group: list[dict], refused: set[int]) -> tuple[list[dict], set[int]]:
    """The member's contacts with the rows' contacts merged in (an address it has updates that
    contact, a new one is added); the lines that would pass the limit of contacts."""
    contacts = [dict(c) for c in (holder or {}).get("contacts", [])]
    by_address = {c["email"].strip().lower(): n for n, c in enumerate(contacts)}
    too_many = set()
    for row in group:
        if row["line"] in refused or "contact_email" not in row:
            continue
        given = {CONTACT_FIELDS[key]: row[key] for key in CONTACT_FIELDS if key in row}
        address = given["email"].strip().lower()
        if address in by_address:
            contacts[by_address[address]] = {**contacts[by_address[address]], **given}
        elif len(contacts) >= MAX_CONTACTS:
            too_many.add(row["line"])
            continue
        else:
            by_address[address] = len(contacts)
            contacts.append({"role": "other", **given})
    return contacts, too_many


def _change(member: dict, action: str, lines: list[int], changed: dict, added: list[dict],
            altered: list[dict]) -> dict:
    return {"key": member["ico"], "name": member["name"], "slug": member["slug"], "action": action, "lines": lines,
            "fields_changed": [{"field": key, "before": before, "after": after}
                               for key, (before, after) in changed.items()],
            "contacts_added": [c["email"] for c in added], "contacts_changed": [c["email"] for c in altered]}


# -- personal data ------------------------------------------------------------------------------

def erased_application(application: dict, now: datetime) -> dict:
    """An application whose contact asked to be erased, or a rejected one past its retention: the
    municipality's details stay (they are not personal), the contact person does not."""
    if application.get("contact_erased_at"):
        return application
    return {**application, "contact": {"name": ERASED_NAME, "email": erased_address(application["person"])},
            "contact_erased_at": now}


def without_contacts_of(member: dict, person: str, person_of: Callable[[str], str]) -> dict | None:
    """The member without the contacts that are this person (`person_of` hashes an address);
    None when the person is not among its contacts."""
    kept = [contact for contact in member.get("contacts", []) if person_of(contact["email"]) != person]
    if len(kept) == len(member.get("contacts", [])):
        return None
    return {**member, "contacts": kept, "version": next_version(member)}


# -- what the bus hears -----------------------------------------------------------------------

def applied(application: dict) -> dict:
    """member_applied: the applicant, and its contact only as the keyed hash."""
    return bus.envelope(bus.MEMBER_APPLIED, {
        "application_id": application["id"], "contact_person": application["person"],
        **{key: application[key] for key in ("name", "type", "region", "population")}})


def joined(member: dict) -> dict:
    return bus.envelope(bus.MEMBER_JOINED, cached_schema(MemberSchema).dump(member))


def updated(member: dict) -> dict:
    return bus.envelope(bus.MEMBER_UPDATED, cached_schema(MemberSchema).dump(member))


def contacts_announced(member: dict, person_of: Callable[[str], str]) -> dict:
    """member_contacts_changed: the member's contacts now, by role and function, each person as the
    keyed hash of their address; versioned like the member's other changes."""
    return bus.envelope(bus.MEMBER_CONTACTS_CHANGED, {
        "slug": member["slug"], "name": member["name"], "version": member["version"],
        "contacts": [{"role": c.get("role", "other"), "function": c.get("function"), "person": person_of(c["email"])}
                     for c in member.get("contacts", [])]})


def change_announced(before: dict, after: dict, person_of: Callable[[str], str]) -> list[dict]:
    """The events of a staff change to a member: member_updated, and member_contacts_changed when
    its contacts changed."""
    return [updated(after)] + ([contacts_announced(after, person_of)] if contacts_changed(before, after) else [])


def left(member: dict) -> dict:
    return bus.envelope(bus.MEMBER_LEFT, {"slug": member["slug"], "name": member["name"],
                                          "left_on": member["left_on"].isoformat()})
