"""A real SMTP server for tests (aiosmtpd): stores each message it accepts as a file.

    python -m tests.smtp_sink PORT DIRECTORY

Files are named after the recipient and numbered in the order the server accepted the
messages (`<recipient>--<number>-<random>.eml`), so that order never depends on file times.
A recipient containing "+reject" is refused for good (550) at RCPT; one containing "+refuse-once" is refused so the
first time only (a mailbox fixed since); one containing "+full-once" is refused the first time as over its quota
(552 5.2.2: a failure, not a reason to suppress the address). A recipient containing "+flaky" is refused once per message with a temporary 451, so the
tests can watch delivery being retried.
"""
import email
import itertools
import re
import signal
import sys
import uuid
from pathlib import Path

from aiosmtpd.controller import Controller


def mailbox_name(address: str) -> str:
    """A file-name-safe form of an address, so that one recipient's messages are found by name."""
    return re.sub(r"[^a-z0-9.@+-]", "_", address.strip().lower())


class StoringHandler:
    def __init__(self, directory: Path):
        self.directory = directory
        self.refused: set[str] = set()
        self.accepted = itertools.count(1)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if "+reject" in address:
            return "550 5.1.1 No such mailbox here"
        if "+refuse-once" in address and address not in self.refused:
            self.refused.add(address)
            return "550 5.2.1 Mailbox disabled"
        if "+full-once" in address and address not in self.refused:
            self.refused.add(address)
            return "552 5.2.2 Mailbox full"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        # What a delivering server adds: the envelope sender, so that tests see each message's return path.
        content = f"Return-Path: <{envelope.mail_from}>\r\n".encode() + (envelope.original_content or envelope.content)
        if any("+flaky" in rcpt for rcpt in envelope.rcpt_tos):
            message_id = email.message_from_bytes(content)["Message-ID"]
            if message_id not in self.refused:
                self.refused.add(message_id)
                return "451 4.3.0 Try again later"
        number = next(self.accepted)
        for rcpt in envelope.rcpt_tos:
            # Written aside, then renamed: a reader never sees half a message.
            name = f"{mailbox_name(rcpt)}--{number:09d}-{uuid.uuid4().hex}.eml"
            partial = self.directory / f".{name}.part"
            partial.write_bytes(content)
            partial.rename(self.directory / name)
        return "250 2.0.0 OK"


def main():
    port, directory = int(sys.argv[1]), Path(sys.argv[2])
    directory.mkdir(parents=True, exist_ok=True)
    controller = Controller(StoringHandler(directory), hostname="127.0.0.1", port=port)
    controller.start()
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    controller.stop()


if __name__ == "__main__":
    main()
