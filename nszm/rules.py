"""What a domain raises when its rules refuse a request: pure Python, no nameko, no database."""


class RuleBroken(Exception):
    """The input breaks a rule; `field` names the input at fault, if any (HTTP 422)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


class Refused(RuleBroken):
    """Valid input that conflicts with the current state: a deadline passed, done already (HTTP 409)."""
