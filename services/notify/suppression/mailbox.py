"""The bounce mailbox: where the bounces to `bounces+…@` arrive. A Maildir under DATA_DIR by
default (the mail server delivers into it), or an IMAP folder (BOUNCE_MAILBOX=imaps://user:password@host/INBOX).

Each message is known by a key that stays the same while it is there; a message is read without
being marked as read, and only a bounce of ours is removed, so everything else is left as it was.
"""
import imaplib
import mailbox
import re
import ssl
from pathlib import Path

from nameko.extensions import DependencyProvider

from nszm.config import MailServer, Settings

IMAP_TIMEOUT_SECONDS = 30


class MaildirInbox:
    def __init__(self, directory: Path):
        self.directory = directory

    def __enter__(self) -> "MaildirInbox":
        self.box = mailbox.Maildir(self.directory, factory=None, create=True)
        return self

    def __exit__(self, *exc):
        return False

    def keys(self) -> list[str]:
        return sorted(self.box.keys())

    def read(self, key: str) -> bytes | None:
        try:
            return self.box.get_bytes(key)
        except KeyError:  # another reader removed it meanwhile
            return None

    def remove(self, key: str):
        self.box.discard(key)


class ImapInbox:
    """An IMAP folder over TLS (imaps://, or imap:// with STARTTLS); read with BODY.PEEK, so
    nothing is marked as read, and removed by \\Deleted and EXPUNGE at the end of a reading."""

    def __init__(self, url: str, context: ssl.SSLContext | None = None):
        server = MailServer.from_url(url, "BOUNCE_MAILBOX", "imap", (143, 993), plain_form="a directory, ")
        self.secure, self.host, self.port = server.secure, server.host, server.port
        self.user, self.password = server.user or "", server.password or ""
        self.folder = server.path or "INBOX"
        self.context = context or ssl.create_default_context()  # a server whose certificate is trusted

    def __enter__(self) -> "ImapInbox":
        if self.secure:
            self.imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(self.host, self.port, ssl_context=self.context,
                                                         timeout=IMAP_TIMEOUT_SECONDS)
        else:
            self.imap = imaplib.IMAP4(self.host, self.port, timeout=IMAP_TIMEOUT_SECONDS)
            self.imap.starttls(self.context)
        try:
            self.imap.login(self.user, self.password)
            self._ok(self.imap.select(_quoted(self.folder)))
            _, validity = self.imap.response("UIDVALIDITY")  # (the code's name, its values), not a status
            if not validity or validity[0] is None:
                raise imaplib.IMAP4.error("IMAP: the folder has no UIDVALIDITY")
            self.validity = validity[-1].decode()
        except BaseException:
            self.imap.shutdown()
            raise
        self.removed = False
        return self

    def __exit__(self, *exc):
        try:
            if self.removed:
                self.imap.expunge()
            self.imap.logout()
        except (imaplib.IMAP4.error, OSError):
            self.imap.shutdown()
        return False

    def keys(self) -> list[str]:
        uids = self._ok(self.imap.uid("SEARCH", "UNDELETED"))[0].split()
        return [f"{self.validity}:{uid.decode()}" for uid in uids]

    def read(self, key: str) -> bytes | None:
        validity, uid = key.split(":", 1)
        if validity != self.validity:
            return None
        for item in self._ok(self.imap.uid("FETCH", uid, "(BODY.PEEK[])")):
            if isinstance(item, tuple):
                return item[1]
        return None

    def remove(self, key: str):
        self._ok(self.imap.uid("STORE", key.split(":", 1)[1], "+FLAGS", "(\\Deleted)"))
        self.removed = True

    @staticmethod
    def _ok(answer) -> list:
        status, data = answer
        if status != "OK" or data is None or data == [None]:
            raise imaplib.IMAP4.error(f"IMAP: {status} {data!r}")
        return data


def _quoted(folder: str) -> str:
    return folder if re.fullmatch(r"[A-Za-z0-9._/-]+", folder) else '"' + folder.replace('"', '\\"') + '"'


def inbox_for(settings: Settings):
    """The bounce mailbox BOUNCE_MAILBOX names (a Maildir's directory, or an IMAP URL); unset, the
    Maildir DATA_DIR/bounces."""
    where = settings.bounce_mailbox
    if not where:
        return MaildirInbox(settings.data_dir / "bounces")
    if re.match(r"^imaps?://", where):
        return ImapInbox(where)
    return MaildirInbox(Path(where.removeprefix("maildir:")))


class BounceInboxProvider(DependencyProvider):
    def setup(self):
        self.inbox = inbox_for(Settings.from_env(self.container.config))

    def get_dependency(self, worker_ctx):
        return self.inbox
