"""The notify service's entrypoints."""
from nszm.service import PlatformService
from services.notify.storage import NotifyStoreProvider


class NotifyService(PlatformService):
    name = "notify"
    store = NotifyStoreProvider()
