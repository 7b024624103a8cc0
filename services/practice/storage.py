"""The practice store: the service's own collections in MongoDB."""
from nszm.storage import ServiceStore, StoreProvider


class PracticeStore(ServiceStore):
    service = "practice"


class PracticeStoreProvider(StoreProvider):
    store_class = PracticeStore
