"""Text at the boundary: names and titles are one line, and no text holds control characters or
the noncharacters U+FFFE and U+FFFF (which no XML feed may carry)."""
import re

import pytest

from nszm.contracts.common import ONE_LINE, WITHOUT_CONTROL_CHARACTERS
from nszm.contracts.events import EventInputSchema, RegistrationInputSchema
from nszm.contracts.notify import SubscriptionInputSchema

PERSON = {"name": "Jana Nováková", "email": "jana@example.cz", "organization": "Město Kolín", "sessions": ["s1"]}


@pytest.mark.parametrize("field, value", [
    ("name", "Jana\r\nBcc: everyone@example.cz"), ("name", "Jana\nNováková"), ("organization", "Kolín\r"),
    ("name", "Jana\ufffe"), ("organization", "Kolín\uffff"), ("name", "Jana\x07"),
])
def test_a_name_with_a_line_break_or_a_noncharacter_is_refused(field, value):
    errors = RegistrationInputSchema().validate({**PERSON, field: value})
    assert field in errors


def test_long_text_may_have_lines_but_no_noncharacters():
    event = {"title": "Jarní škola", "type": "school", "description": "První řádek.\nDruhý řádek.",
             "sessions": [{"id": "s1", "title": "Úvod", "starts_at": "2031-05-01T09:00:00+02:00",
                           "ends_at": "2031-05-01T12:00:00+02:00", "capacity": 10}],
             "online": True}
    assert "description" not in EventInputSchema().validate(event)
    assert "description" in EventInputSchema().validate({**event, "description": "Řádek\uffff"})
    assert "title" in EventInputSchema().validate({**event, "title": "Jarní\nškola"})


def test_the_documented_patterns_say_the_same():
    assert re.fullmatch(ONE_LINE, "Jana Nováková\t") and not re.fullmatch(ONE_LINE, "Jana\nNováková")
    assert re.fullmatch(WITHOUT_CONTROL_CHARACTERS, "a\nb") and not re.fullmatch(WITHOUT_CONTROL_CHARACTERS, "a\ufffe")
    assert "name" in SubscriptionInputSchema().validate({"email": "jana@example.cz", "name": "J\r\nX"})
