"""The notify store: the service's own collections in MongoDB."""
from nszm.storage import ServiceStore, StoreProvider


class NotifyStore(ServiceStore):
    service = "notify"


class NotifyStoreProvider(StoreProvider):
    store_class = NotifyStore
