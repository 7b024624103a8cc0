"""The benchmark's skeleton of a registration does what its rate stands for: every request goes
through gunicorn, an RPC, a stored document, an event and a second stored document."""
import requests

from bench import skeleton
from nszm.storage import connect
from tests.waiting import wait_until


def test_every_request_is_stored_and_its_event_recorded(amqp_uri, subprocess_env):
    with skeleton.running({**subprocess_env, "AMQP_URI": amqp_uri}) as (base, uri):
        answers = [requests.post(base + "/", timeout=30, json={"name": "Účastník", "email": f"k{i}@example.cz"})
                   for i in range(20)]
        assert [answer.status_code for answer in answers] == [201] * 20
        assert len({answer.json()["id"] for answer in answers}) == 20
        client = connect(uri)
        try:
            database = client[skeleton.DATABASE]
            registered = {document["_id"] for document in database.registrations.find({"name": "Účastník"})}
            assert registered == {answer.json()["id"] for answer in answers}
            wait_until(lambda: registered <= {mail["_id"] for mail in database.mails.find()},
                       timeout=20, message="a mail recorded for every registration")
        finally:
            client.close()
