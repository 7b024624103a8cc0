"""The practice service's entrypoints."""
from nszm.service import PlatformService
from services.practice.storage import PracticeStoreProvider


class PracticeService(PlatformService):
    name = "practice"
    store = PracticeStoreProvider()
