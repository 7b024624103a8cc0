"""The events service's entrypoints."""
from nszm.service import PlatformService
from services.events.storage import EventsStoreProvider


class EventsService(PlatformService):
    name = "events"
    store = EventsStoreProvider()
