"""The message a mail becomes, read back as a mail program reads it: Czech names and subjects,
the text and HTML bodies, an invitation attached, and long links kept on one line."""
import email
import email.policy
from datetime import datetime, timezone

from icalendar import Calendar

from services.notify.mailer import build_message

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
