"""What every platform service mixes in: the health check and the outbox relay."""
import logging

from nameko.events import EventDispatcher
from nameko.timer import timer

from nszm.entrypoints import rpc

log = logging.getLogger(__name__)

RELAY_INTERVAL_SECONDS = 0.5
RELAY_BATCH = 100


class PlatformService:
    """Mixin for a nameko service whose store (a `ServiceStore`) is `self.store`.

    The timer drains the outbox; entrypoints call `publish_stored_events()` after a commit so
    that events usually leave at once, and the timer catches whatever a crash left behind.
    """

    dispatch = EventDispatcher()

    @rpc
    def health(self):
        return {"service": self.name, "mongo": self.store.ping(), "outbox_pending": self.store.outbox.pending_count()}

    @timer(interval=RELAY_INTERVAL_SECONDS)
    def relay_outbox(self):
        self.publish_stored_events()

    def publish_stored_events(self) -> int:
        published = 0
        outbox = self.store.outbox
        while published < RELAY_BATCH:
            record = outbox.claim_next()
            if record is None:
                break
            try:
                self.dispatch(record["event_type"], record["payload"])
            except Exception:
                log.exception("publishing %s failed; it stays in the outbox", record["_id"])
                outbox.release(record["_id"])
                break
            outbox.mark_published(record["_id"])
            published += 1
        return published
