"""The events store: the service's own collections in MongoDB."""
from nszm.storage import ServiceStore, StoreProvider


class EventsStore(ServiceStore):
    service = "events"


class EventsStoreProvider(StoreProvider):
    store_class = EventsStore
