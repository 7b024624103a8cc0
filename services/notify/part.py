"""What the parts of notify's store share: their collections' prefix, and the name this process
takes leases under."""
from datetime import timedelta

from nszm.storage import ServiceStore

CLAIM_LEASE = timedelta(minutes=2)  # a mail or a webhook delivery being sent
ENDED = timedelta(seconds=1)  # a lease that ended this long ago: whoever comes next may claim


class NotifyStorePart(ServiceStore):
    """Base of a part of the notify store (`services.notify.storage.NotifyStore` joins them)."""

    service = "notify"
    holder: str | None = None  # this process's name while it is alive (`NotifyStore.hold_as`); None: unnamed
