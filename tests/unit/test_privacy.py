"""Personal data rules: the keyed person hash, consent records, retention periods, and what each
service's domain keeps and drops at erasure and at the end of retention."""
from datetime import timedelta

import pytest

from nszm.config import Retention
from nszm.privacy import ERASED_DOMAIN, ERASED_NAME, Pseudonyms, consent_given
from services.events import domain as events
from services.members import domain as members
from services.notify import domain as notify_domain
from services.notify.newsletter import domain as newsletter_domain
from services.practice import domain as practice
from tests.event_factories import NOW, loaded_event, registration_input


def test_a_person_is_one_keyed_hash_for_every_alias_of_their_mailbox_and_the_key_matters():
    people = Pseudonyms("k" * 40)
    same = {people.person(address) for address in (
        "jana.novak@gmail.com", " Jana.Novak+nejpraxe@googlemail.com", "JANANOVAK@gmail.com")}
    assert len(same) == 1 and "jana" not in same.pop()
    assert people.person("jana@example.cz") != people.person("jana2@example.cz")
    assert Pseudonyms("x" * 40).person("jana@example.cz") != people.person("jana@example.cz")


def test_retention_periods_are_settings_with_defaults():
    assert Retention.from_env({}) == Retention()
    changed = Retention.from_env({"RETAIN_MAIL_BODIES_DAYS": "7", "RETAIN_REGISTRATIONS_MONTHS": "6"})
    assert changed.mail_bodies == timedelta(days=7) and changed.registrations == timedelta(days=182.5)
    assert changed.cutoff("mail_bodies", NOW) == NOW - timedelta(days=7)
    with pytest.raises(ValueError):
        Retention.from_env({"RETAIN_DEAD_LETTERS_DAYS": "-1"})


def test_a_consent_records_when_which_form_and_which_text():
    assert consent_given("registration", {"form": "web", "text_version": "2026-12"}, NOW) == {
        "purpose": "registration", "given_at": NOW, "form": "web", "text_version": "2026-12"}
    defaulted = consent_given("newsletter", None, NOW)
    assert defaulted["form"] == "api" and defaulted["text_version"] == "2026-12"


def checked_in_registration(certificate: bool = True) -> dict:
    event = loaded_event()
    registration = events.new_registration(event, registration_input(
        "Jana@Example.cz", phone="777", note="vegan", consent={"form": "web"}), False, NOW, "ab" * 32)
    registration = events.with_seat(registration, "s1", "confirmed")
    registration = {**registration, "status": "confirmed"}
    return events.check_in(registration, event, None, NOW, lambda year: 7).registration if certificate else (
        events.check_in(registration, {**event, "accredited": False}, None, NOW, lambda year: 7).registration)


def test_an_erased_registration_keeps_seats_attendance_and_certificate_and_nothing_about_the_person():
    registration = checked_in_registration()
    erased = events.erased_registration(registration, NOW)
    assert (erased["name"], erased["organization"]) == (ERASED_NAME, "")
    assert erased["email"].endswith(ERASED_DOMAIN) and erased["email_key"] == erased["email"]
    assert not {"phone", "note", "consent"} & set(erased) and "jana" not in str(erased).lower()
    for kept in ("sessions", "status", "attended_sessions", "hours", "certificate_id", "verification_code", "person"):
        assert erased[kept] == registration[kept]
    assert events.erased_registration(erased, NOW + timedelta(days=1))["erased_at"] == NOW  # once
    assert events.mail_details(erased, loaded_event(), {"cancel_url": "c", "manage_url": "m", "certificate_url": "p"}) is None


def test_retention_keeps_a_certificate_holders_name_in_the_register_and_drops_the_rest():
    with_certificate = events.expired_registration(checked_in_registration(), NOW)
    without = events.expired_registration(checked_in_registration(certificate=False), NOW)
    assert with_certificate["name"] == "Jana Nováková" and without["name"] == ERASED_NAME
    for expired in (with_certificate, without):
        assert expired["email"].endswith(ERASED_DOMAIN) and "note" not in expired and expired["hours"] == 7.0
        assert not events.holds_person(expired) and events.participants([expired], ["confirmed"]) == []


def test_the_join_link_is_for_confirmed_seats_only():
    event = {**loaded_event(), "online": True, "join_url": "https://meet.example.cz/x"}
    links = {"cancel_url": "c", "manage_url": "m", "certificate_url": "p"}
    registration = checked_in_registration(certificate=False)
    assert events.mail_details(registration, event, links)["join_url"] == "https://meet.example.cz/x"
    waiting = events.with_seat(registration, "s1", "waitlisted", ticket=1)
    assert events.mail_details(waiting, event, links)["join_url"] is None
    assert events.mail_details(registration, event, links)["certificate_url"] is None  # no certificate yet


def test_an_erased_contact_leaves_the_member_and_its_applications_keep_only_the_municipality():
    people = Pseudonyms("k" * 40)
    member = {"slug": "liberec", "version": 3, "contacts": [
        {"role": "coordinator", "name": "Jana", "email": "jana@liberec.cz"},
        {"role": "other", "name": "Petr", "email": "petr@liberec.cz"}]}
    after = members.without_contacts_of(member, people.person("JANA@liberec.cz"), people.person)
    assert [c["name"] for c in after["contacts"]] == ["Petr"] and after["version"] == 4
    assert members.without_contacts_of(member, people.person("nikdo@liberec.cz"), people.person) is None
    application = {"id": "a1", "name": "Statutární město Liberec", "person": "cd" * 32,
                   "contact": {"name": "Jana", "email": "jana@liberec.cz", "phone": "777"}}
    erased = members.erased_application(application, NOW)
    assert erased["name"] == "Statutární město Liberec" and "jana" not in str(erased["contact"]).lower()
    assert members.erased_application(erased, NOW + timedelta(days=1)) is erased


def test_a_pseudonymised_vote_keeps_its_nominee_count_and_person():
    competition = {"id": "c1", "nominees": [{"practice": "kola"}], "voting_opens_at": NOW - timedelta(days=1),
                   "voting_closes_at": NOW + timedelta(days=1)}
    vote, _ = practice.new_vote(competition, "kola", "volic@example.cz", NOW, "ef" * 32)
    counted = {**vote, "counted": True}
    pseudonymised = practice.pseudonymised_vote(counted, NOW)
    assert pseudonymised["email"].endswith(ERASED_DOMAIN) and "volic" not in str(pseudonymised)
    assert (pseudonymised["practice"], pseudonymised["counted"], pseudonymised["person"]) == ("kola", True, "ef" * 32)


def test_a_newsletter_consent_is_given_when_the_link_is_confirmed():
    pending, _ = newsletter_domain.subscription_requested(None, "odber@example.cz", None, NOW,
                                               {"form": "zpravodaj", "text_version": "2026-12"})
    assert "consent" not in pending
    confirmed = newsletter_domain.subscription_confirmed(pending, NOW + timedelta(hours=1))
    assert confirmed["consent"] == {"purpose": "newsletter", "given_at": NOW + timedelta(hours=1),
                                    "form": "zpravodaj", "text_version": "2026-12"}
    assert "consent_asked" not in confirmed


def test_an_erasure_is_dated_as_the_database_keeps_it_and_drops_the_message():
    erasure = notify_domain.erasure("ab" * 32, NOW.replace(microsecond=123456))
    assert erasure["requested_at"].microsecond == 123000
    values = notify_domain.erased_values("ab" * 32)
    assert values["mail"]["to"].endswith(ERASED_DOMAIN) and "text" in values["mail_dropped"]
