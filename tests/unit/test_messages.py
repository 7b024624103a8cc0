"""The API's messages in Czech and English with their codes: marshmallow's messages as our schemas
produce them are all known, the catalogue is complete, and the client's language is honoured."""
import ast
import re
from pathlib import Path

import pytest
from marshmallow import Schema, ValidationError, fields, validate

from nszm import messages
from nszm.contracts.common import EmailAddress, text, web_url

ROOT = Path(__file__).resolve().parents[2]


class Everything(Schema):
    name = text(20, required=True)
    email = EmailAddress(required=True)
    website = web_url(300)
    population = fields.Integer(strict=True, validate=validate.Range(min=1, max=20_000_000))
    kind = fields.String(validate=validate.OneOf(["city", "region"]))
    day = fields.Date()
    moment = fields.AwareDateTime()
    flag = fields.Boolean()
    tags = fields.List(fields.String(), validate=validate.Length(max=2))
    nested = fields.Dict()
    nothing = fields.String(allow_none=False)


WRONG = {"name": "x" * 21, "email": "jana@", "website": "nic", "population": 0, "kind": "town", "day": "včera",
         "moment": "2026-12-01T10:00:00", "flag": "možná", "tags": ["a", "b", "c"], "nested": [1], "nothing": None,
         "extra": 1}


def schema_messages(data: dict) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as invalid:
        Everything().load(data)
    return invalid.value.normalized_messages()


def test_every_message_our_fields_give_has_a_code_and_czech_words():
    found = {**schema_messages(WRONG), **schema_messages({"name": "a\nb", "population": "12"})}
    found |= schema_messages({})
    for field, texts in found.items():
        for english in texts:
            code, czech = messages.explained(english)
            assert code is not None, (field, english)
            assert czech != english and czech.strip(), (field, english)


@pytest.mark.parametrize("english, code, czech", [
    ("Length must be between 1 and 200.", "length_between", "Délka musí být od 1 do 200 znaků."),
    ("Must be greater than or equal to 1 and less than or equal to 20000000.", "out_of_range",
     "Musí být od 1 do 20000000."),
    ("Must be one of: city, region.", "not_one_of", "Musí být jedno z: city, region."),
    ("The token lacks the 'events' role.", "role_missing", "Token nemá roli „events“."),
    # also matches "Not a valid {obj_type}.": the template with more fixed words wins
    ("Not a valid IČO: 8 digits with a correct check digit expected.", "invalid_ico",
     "Neplatné IČO: očekává se 8 číslic se správnou kontrolní číslicí."),
    ("Not a valid datetime.", "invalid_datetime", "Neplatný čas (očekává se ISO 8601)."),
])
def test_values_in_a_message_go_into_its_czech_words(english, code, czech):
    assert messages.explained(english) == (code, czech)
    assert messages.explained(english, messages.ENGLISH) == (code, english)


def test_a_message_the_catalogue_does_not_know_keeps_its_words_and_has_no_code():
    assert messages.explained("Something new.") == (None, "Something new.")


@pytest.mark.parametrize("header, language", [
    (None, "cs"), ("", "cs"), ("cs-CZ,cs;q=0.9", "cs"), ("en", "en"), ("en-US,en;q=0.9,cs;q=0.8", "en"),
    ("cs;q=0.8,en;q=0.9", "en"), ("de-DE", "cs"), ("en;q=abc", "cs"),
])
def test_czech_unless_the_client_prefers_english(header, language):
    assert messages.language_of(header) == language


WORDED_WITHOUT_A_VALUE = {"invalid_datetime", "datetime_without_offset", "rate_limited"}  # English words, not data


def test_the_catalogue_is_complete_and_its_czech_keeps_every_value():
    for template in messages.templates():
        assert template.czech, template.english
        english_values = set(re.findall(r"\{(\w+)\}", template.english))
        czech_values = set(re.findall(r"\{(\w+)\}", template.czech))
        assert czech_values <= english_values, template.english
        if not template.code.startswith(messages.TITLE) and template.code not in WORDED_WITHOUT_A_VALUE:
            assert czech_values == english_values, template.english


def test_titles_are_czech_by_default():
    assert messages.title("Invalid input") == "Neplatné údaje"
    assert messages.title("Invalid input", messages.ENGLISH) == "Invalid input"


# Errors whose first argument (or, for row_error, third) is a message a person may read.
RAISED = {"Refused", "RuleBroken", "NotFound", "Conflict", "ValidationError", "InvalidInput", "BadRequest",
          "Unauthorized", "Forbidden", "UnsupportedMediaType", "StaffOnly", "RateLimited", "Unavailable",
          "unreadable", "row_error"}


def raised_messages():
    """Every message the code raises, as a sample: an f-string's values stand as 'X'."""
    for path in (ROOT / "services").rglob("*.py"), (ROOT / "nszm").rglob("*.py"), (ROOT / "gateway").rglob("*.py"):
        for source in path:
            for node in ast.walk(ast.parse(source.read_text("utf-8"))):
                if not isinstance(node, ast.Call):
                    continue
                name = node.func.id if isinstance(node.func, ast.Name) else getattr(node.func, "attr", None)
                if name not in RAISED or not node.args:
                    continue
                argument = node.args[2] if name == "row_error" and len(node.args) > 2 else node.args[0]
                if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
                    yield source.relative_to(ROOT), argument.value
                elif isinstance(argument, ast.JoinedStr):
                    yield source.relative_to(ROOT), "".join(
                        part.value if isinstance(part, ast.Constant) else "X" for part in argument.values)


def test_every_message_the_code_raises_is_in_the_catalogue():
    found = list(raised_messages())
    assert len(found) > 100  # the scan sees the services' refusals
    unknown = [(str(path), message) for path, message in found if messages.explained(message)[0] is None]
    assert unknown == []
