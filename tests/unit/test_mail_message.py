"""The message a mail becomes, read back as a mail program reads it: Czech names and subjects,
the text and HTML bodies, an invitation attached, and long links kept on one line; generated
byte for byte as the email package's classic policy generates it."""
import email
import email.policy
import string
from datetime import datetime, timezone
from email.policy import compat32

import pytest
from hypothesis import given
from hypothesis import strategies as st
from icalendar import Calendar

from services.notify.mail.mailer import QUICK_FOLDING, build_message

SENDER = "Národní síť Zdravých měst ČR <info@zdravamesta.cz>"
UNSUBSCRIBE = "<https://www.zdravamesta.cz/api/v1/unsubscribe?token=" + "x" * 120 + ">"
INVITATION = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//NSZM//CS\r\nBEGIN:VEVENT\r\nUID:1@zdravamesta.cz\r\n"
              "DTSTAMP:20310101T080000Z\r\nSUMMARY:Jarní škola Zdravých měst – Kroměříž\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


def read_back(mail: dict) -> email.message.EmailMessage:
    raw = build_message(mail, SENDER).as_bytes()
    assert all(len(line) <= 998 for line in raw.split(b"\n")) and raw.isascii()
    return email.message_from_bytes(raw, policy=email.policy.default)


def mail(**extra) -> dict:
    return {"id": "m1", "to": "jana.novakova@example.cz", "to_name": "Jana Nováková",
            "subject": "Potvrzení registrace: Jarní škola Zdravých měst 2031 – Kroměříž, Velké náměstí",
            "text": "Dobrý den,\n\nvaše místo je potvrzeno. Zrušit: https://www.zdravamesta.cz/r?t=" + "y" * 150 + "\n",
            "created_at": datetime(2031, 1, 5, 9, 30, tzinfo=timezone.utc), **extra}


def test_headers_and_text_read_back_as_written():
    message = read_back(mail(headers={"List-Unsubscribe": UNSUBSCRIBE,
                                      "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"}))
    assert message["From"].addresses[0].display_name == "Národní síť Zdravých měst ČR"
    assert message["From"].addresses[0].addr_spec == "info@zdravamesta.cz"
    assert str(message["To"]) == "Jana Nováková <jana.novakova@example.cz>"
    assert message["Subject"] == mail()["subject"]
    assert message["Message-ID"] == "<m1@zdravamesta.cz>" and message["Date"].datetime.year == 2031
    assert message["List-Unsubscribe"] == UNSUBSCRIBE
    assert message.get_content_type() == "text/plain" and message.get_content() == mail()["text"]


def test_html_goes_beside_the_text_and_an_invitation_is_attached():
    message = read_back(mail(html="<p>Dobrý den, <strong>Jano</strong></p>", attachments=[
        {"content_type": "text/calendar", "filename": "pozvanka.ics", "data": INVITATION}]))
    assert message.get_content_type() == "multipart/mixed"
    assert message.get_body(("plain",)).get_content() == mail()["text"]
    assert message.get_body(("html",)).get_content() == "<p>Dobrý den, <strong>Jano</strong></p>"
    [invitation] = message.iter_attachments()
    assert invitation.get_filename() == "pozvanka.ics" and invitation.get_content_type() == "text/calendar"
    event = Calendar.from_ical(invitation.get_content()).walk("VEVENT")[0]
    assert str(event["SUMMARY"]) == "Jarní škola Zdravých měst – Kroměříž"


def test_generated_as_the_classic_policy_generates_it():
    """The quick folding writes every header, folded or not, as compat32 would."""
    message = build_message(mail(html="<p>Dobrý den</p>", headers={"List-Unsubscribe": UNSUBSCRIBE, "X-Komentar": "Dlouhá poznámka " * 9},
                                 attachments=[{"content_type": "text/calendar", "filename": "pozvanka.ics",
                                               "data": INVITATION}]), SENDER)
    for linesep in ("\n", "\r\n"):
        assert (message.as_bytes(policy=QUICK_FOLDING.clone(linesep=linesep))
                == message.as_bytes(policy=compat32.clone(linesep=linesep)))
    assert b"\n =?utf-8?" in message.as_bytes()  # the long Czech header was folded


HEADER_TEXT = st.text(st.sampled_from(string.ascii_letters + string.digits + " \t;,<>@.=\"'()[]:-_/?&á\r\n"),
                      max_size=120)


@given(name=st.sampled_from(["Subject", "To", "List-Unsubscribe", "X-A"]), value=HEADER_TEXT,
       limit=st.sampled_from([78, 0, None]), linesep=st.sampled_from(["\n", "\r\n"]))
def test_a_header_is_folded_as_compat32_folds_it(name, value, limit, linesep):
    quick, classic = (policy.clone(max_line_length=limit, linesep=linesep) for policy in (QUICK_FOLDING, compat32))
    try:
        expected = classic.fold_binary(name, value)
    except Exception as error:  # e.g. a value with a header of its own after a line break
        with pytest.raises(type(error)):
            quick.fold_binary(name, value)
    else:
        assert quick.fold_binary(name, value) == expected


def test_parts_that_look_like_boundaries_stay_inside_their_part():
    text = "--=_\n=_ =_=_ a=b\n--=_0123456789abcdef\n" + "=" * 100 + "\n"
    html = "<p>--=_ =_</p>\n--=_\n"
    message = read_back(mail(text=text, html=html, attachments=[
        {"content_type": "text/plain", "filename": "a.txt", "data": text}]))
    assert message.get_body(("plain",)).get_content() == text
    assert message.get_body(("html",)).get_content() == html
    [attachment] = message.iter_attachments()
    assert attachment.get_content() == text
