"""The gateway's access log without the secrets that links carry: `token=` query values (mailed
cancel, confirm and unsubscribe links, certificate links) are written as `token=[redacted]`."""
import re

from gunicorn.glogging import Logger

TOKEN_VALUE = re.compile(r"((?:^|[?&;])(?:[^=&;]*token)=)[^&;\s]*", re.IGNORECASE)


def redacted(text: str | None) -> str | None:
    return TOKEN_VALUE.sub(r"\1[redacted]", text) if text else text


class RedactingLogger(Logger):
    """gunicorn's logger whose atoms (the request line, the query string, the referrer, any
    header or environment value a format may name) carry no token values."""

    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        return {name: redacted(value) if isinstance(value, str) else value for name, value in atoms.items()}
