"""Erasure over the real bus: notify erases at once and announces `person_erased`; a service that
was down when it was announced erases once it is back, from its durable queue."""
import json

from kombu import Connection
from nameko.standalone.rpc import ServiceRpcProxy

from nszm.config import Settings
from nszm.contracts.bus import NOTIFY_MAILS
from nszm.deadletters import list_dead_letters
from nszm.entrypoints import staff_context
from nszm.privacy import ERASED_DOMAIN
from nszm.topology import Topology
from services.events.service import EventsService
from services.events.storage import EventsStore
from services.notify.service import NotifyService
from services.practice.service import PracticeService
from services.practice.storage import PracticeStore
from tests.event_factories import event_payload, events_worker, registration_input
from tests.waiting import wait_until

EMAIL = "Zapomenuta.Osoba@example.cz"


def test_a_service_down_at_the_erasure_erases_when_it_comes_back(container_factory, service_config, mongo_client,
                                                                 smtp_sink):
    events_store = EventsStore(mongo_client, service_config["MONGO_DB"])
    events_store.ensure_indexes()
    with events_worker(events_store) as events:
        event = events.create_event(event_payload())
        events.publish_event(event["id"])
        registration = events.register(event["id"], registration_input(EMAIL))
    person = events_store.pseudonyms.person(EMAIL)

    topology = Topology(Settings.from_env(service_config))
    with Connection(topology.amqp_uri) as connection:  # a request about the person that notify failed on
        channel = connection.channel()
        topology.declare_subscription(connection, NOTIFY_MAILS)
        connection.Producer(channel).publish(json.dumps({"event_id": "x", "data": {"email": EMAIL.upper()}}),
                                             exchange="", routing_key=topology.dead_queue(NOTIFY_MAILS).name)
        channel.close()
    assert len(list_dead_letters(topology, NOTIFY_MAILS.queue)) == 1

    container_factory(NotifyService, {**service_config, "SMTP_URL": smtp_sink.url}).start()
    container_factory(PracticeService, service_config).start()
    with ServiceRpcProxy("notify", service_config, timeout=10, context_data=staff_context("tests")) as notify:
        erasure = notify.erase_person({"email": EMAIL.lower()})
    assert erasure["person"] == person and list_dead_letters(topology, NOTIFY_MAILS.queue) == []

    practice = PracticeStore(mongo_client, service_config["MONGO_DB"])
    wait_until(lambda: practice.erasure_of(person), timeout=15, message="practice, running, erased at once")
    assert events_store.erasure_of(person) is None  # the events service is down: its queue keeps the event
    assert events_store.get_registration(registration["id"])["email"] == EMAIL

    container_factory(EventsService, service_config).start()
    done = wait_until(lambda: events_store.erasure_of(person), timeout=15, message="events erased once back")
    assert done["id"] == erasure["id"]
    erased = events_store.get_registration(registration["id"])
    assert erased["email"].endswith(ERASED_DOMAIN) and erased["status"] == "confirmed"
