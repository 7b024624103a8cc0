"""Recording accepted bulk messages a few at a time, behind the sending but never far behind.

Each message the SMTP server accepts is recorded as sent by a green thread in small group
commits while the next messages go out, so the database's latency does not add to every
message. At most `limit` accepted messages are ever unrecorded: a crash can repeat only those.
"""
from datetime import datetime

import eventlet

from nszm.storage import utcnow


class SentLog:
    def __init__(self, record, limit: int):
        self.record = record  # record(list of (recipient id, Message-ID, accepted at))
        self.limit = limit
        self.pending: list[tuple[str, str, datetime]] = []
        self.unrecorded = 0
        self.writer = None
        self.error: BaseException | None = None

    def add(self, recipient_id: str, message_id: str):
        """Note one accepted message; waits while `limit` messages are still unrecorded."""
        self._raise_failure()
        self.pending.append((recipient_id, message_id, utcnow()))
        self.unrecorded += 1
        if self.writer is None:
            self.writer = eventlet.spawn(self._write)
        while self.unrecorded >= self.limit:
            self._wait()

    def close(self):
        """Wait until every accepted message is recorded."""
        while self.unrecorded:
            self._wait()
        self._raise_failure()

    def _wait(self):
        if self.writer is None:
            self.writer = eventlet.spawn(self._write)
        self.writer.wait()
        self._raise_failure()

    def _write(self):
        try:
            while self.pending:
                batch, self.pending = self.pending, []
                self.record(batch)
                self.unrecorded -= len(batch)
        except BaseException as error:  # the sender sees it at its next message and stops
            self.error = error
            # Messages not recorded stay queued in the database and go out again: the bound allows it.
            self.pending, self.unrecorded = [], 0
        finally:
            self.writer = None

    def _raise_failure(self):
        if self.error is not None:
            error, self.error = self.error, None
            raise error
