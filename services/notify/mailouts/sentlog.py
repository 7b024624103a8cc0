"""Recording accepted bulk messages a few at a time, behind the sending but never far behind.

A sender takes a place (`reserve`) before it hands a message to the SMTP server. Each message
the server accepts is recorded as sent by a green thread in small group commits while the next
messages go out, so the database's latency does not add to every message; its place is free
again once it is recorded. At most `limit` messages are ever being sent or accepted and not yet
recorded: a crash can repeat only those.
"""
from datetime import datetime

import eventlet
from eventlet.semaphore import Semaphore

from nszm.storage import utcnow


class SentLog:
    def __init__(self, record, limit: int):
        self.record = record  # record(list of (recipient id, Message-ID, accepted at))
        self.places = Semaphore(limit)
        self.pending: list[tuple[str, str, datetime]] = []
        self.unrecorded = 0
        self.writer = None
        self.error: BaseException | None = None

    def reserve(self):
        """A place for one message about to be sent; waits while all are taken. Raises the error
        of a failed record: the sender stops."""
        self._raise_failure()
        self.places.acquire()
        if self.error is not None:
            self.places.release()
            self._raise_failure()

    def release(self):
        """The message was not accepted: its place is free."""
        self.places.release()

    def add(self, recipient_id: str, message_id: str):
        """The message was accepted: recorded soon, and its place freed then."""
        self.pending.append((recipient_id, message_id, utcnow()))
        self.unrecorded += 1
        if self.writer is None:
            self.writer = eventlet.spawn(self._write)

    def close(self):
        """Wait until every accepted message is recorded."""
        while self.writer is not None:
            self.writer.wait()
        self._raise_failure()

    def _write(self):
        try:
            while self.pending:
                batch, self.pending = self.pending, []
                self.record(batch)
                self._free(len(batch))
        except BaseException as error:  # the sender sees it when it next reserves a place, and stops
            self.error = error
            # Messages not recorded stay queued in the database and go out again: the bound allows it.
            self._free(self.unrecorded)
            self.pending = []
        finally:
            self.writer = None

    def _free(self, count: int):
        self.unrecorded -= count
        for _ in range(count):
            self.places.release()

    def _raise_failure(self):
        if self.error is not None:
            error, self.error = self.error, None
            raise error
