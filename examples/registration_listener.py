"""An example of a service that is not on nameko reacting to the platform's registration events.

    AMQP_URI=amqp://guest:guest@127.0.0.1:5672/ python examples/registration_listener.py

It prints one JSON line per event (event id, type, registration, person) and, first, the line
`ready` once its queue is bound. Events name a person only by a keyed hash of their address
(`person`): a subscriber that needs the name and address asks the API for the registration
(`GET /api/v1/registrations/{id}`) with a staff token of role `events`. Its queue is `example.registrations` (LISTENER_QUEUE to change
it); Ctrl-C or SIGTERM stop it. Nothing here imports nameko: only `nszm.subscriber` (pika).
"""
import json
import logging
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from nszm.subscriber import Subscriber  # noqa: E402

REGISTRATION_EVENTS = ("registration_confirmed", "registration_waitlisted", "registration_promoted",
                       "registration_cancelled")


def print_event(envelope: dict):
    registration = envelope["data"]["registration"]
    print(json.dumps({"event_id": envelope["event_id"], "event_type": envelope["event_type"],
                      "registration": registration["id"], "person": registration["person"]}), flush=True)


def main():
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    subscriber = Subscriber(os.environ.get("AMQP_URI", "amqp://guest:guest@127.0.0.1:5672/"),
                            os.environ.get("LISTENER_QUEUE", "example.registrations"),
                            [("events", name) for name in REGISTRATION_EVENTS], print_event,
                            on_ready=lambda: print("ready", flush=True))
    subscriber.run_until_signalled()


if __name__ == "__main__":
    main()
