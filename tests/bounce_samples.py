"""The bounce, complaint and auto-reply samples of `tests/data/bounces`, filled in for one of our messages."""
from pathlib import Path

SAMPLES = Path(__file__).parent / "data" / "bounces"
BOUNCES = ("postfix-user-unknown", "exim-dsn", "exim-plain", "rfc3464-multi-recipient")  # hard
SOFT = ("postfix-mailbox-full", "rfc3464-simple")
COMPLAINTS = ("rfc5965-complaint",)
NOT_COUNTED = ("postfix-delayed", "exchange-out-of-office", "vacation-reply", "human-reply")


def sample(name: str, token: str = "0" * 20, recipient: str = "jana@example.cz",
           message_id: str = "<original@zdravamesta.cz>") -> bytes:
    text = (SAMPLES / f"{name}.eml").read_text("utf-8")
    return text.replace("@TOKEN@", token).replace("@RECIPIENT@", recipient).replace(
        "@MESSAGE_ID@", message_id).encode("utf-8")
