"""The platform's messages in Czech (the default) or English, with their stable codes, from one
gettext catalogue (`nszm/locale/cs/LC_MESSAGES/messages.po`, read with Babel).

Each entry's msgid is an English message as the code words it (marshmallow's, or ours) and may
hold `{name}` for a value; its msgctxt is the code a client reads. A message is recognised by
matching it against the templates, so the code that raises it stays in plain English.
"""
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from babel.messages.pofile import read_po

CATALOGUE = Path(__file__).parent / "locale" / "cs" / "LC_MESSAGES" / "messages.po"
CZECH, ENGLISH = "cs", "en"
LANGUAGES = (CZECH, ENGLISH)
TITLE = "title:"  # the context of a problem's title, before its type
UNKNOWN_CODE = "invalid"  # the code of a message the catalogue does not know yet


@dataclass(frozen=True)
class Template:
    code: str
    english: str
    czech: str
    pattern: re.Pattern
    literal: int  # how much of the English is fixed text: of two templates that match, the one saying more wins

    def said(self, values: dict[str, str], language: str) -> str:
        text = self.czech if language == CZECH else self.english
        return re.sub(r"\{(\w+)\}", lambda found: values.get(found.group(1), found.group(0)), text)


def _pattern(english: str) -> re.Pattern:
    parts = re.split(r"\{(\w+)\}", english)
    regex = "".join(re.escape(part) if n % 2 == 0 else f"(?P<{part}>.+?)" for n, part in enumerate(parts))
    return re.compile(f"^{regex}$", re.DOTALL)


@cache
def templates() -> tuple[Template, ...]:
    with CATALOGUE.open("rb") as file:
        catalogue = read_po(file, locale=CZECH)
    return tuple(Template(str(message.context), str(message.id), str(message.string), _pattern(str(message.id)),
                          len(re.sub(r"\{\w+\}", "", str(message.id))))
                 for message in catalogue if message.id and message.context)


@cache
def _titles() -> dict[str, Template]:
    return {template.english: template for template in templates() if template.code.startswith(TITLE)}


def explained(message: str, language: str = CZECH) -> tuple[str | None, str]:
    """(the message's code, the message in `language`); a message the catalogue does not know keeps
    its words and has no code."""
    best, values = None, {}
    for template in templates():
        if template.code.startswith(TITLE) or (best and best.literal >= template.literal):
            continue
        found = template.pattern.match(message)
        if found:
            best, values = template, found.groupdict()
    return (best.code, best.said(values, language)) if best else (None, message)


def said(found: list[str], language: str = CZECH) -> tuple[list[str], list[str]]:
    """(the messages in `language`, their codes in the same order; UNKNOWN_CODE for a message
    the catalogue does not know)."""
    pairs = [explained(str(message), language) for message in found]
    return [text for _, text in pairs], [code or UNKNOWN_CODE for code, _ in pairs]


def title(english: str, language: str = CZECH) -> str:
    """A problem's title in `language`."""
    template = _titles().get(english)
    return template.said({}, language) if template else english


def language_of(accept_language: str | None) -> str:
    """English when the client prefers it to Czech (`Accept-Language: en`), else Czech."""
    best, best_quality = CZECH, -1.0
    for part in (accept_language or "").split(","):
        tag, _, params = part.strip().partition(";")
        language = tag.strip().lower().split("-")[0]
        quality = 1.0
        for param in params.split(";"):
            key, _, value = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if language in LANGUAGES and quality > max(best_quality, 0.0):
            best, best_quality = language, quality
    return best
