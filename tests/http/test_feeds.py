"""The feeds for websites, TV and media: RSS 2.0, Atom and Media RSS, as feed readers see them."""
import uuid
from datetime import datetime, timedelta, timezone

import feedparser
import pytest

from tests import factories
from tests.http.conftest import STAFF_TOKEN, Client, client_from_new_address
from tests.http.test_events_api import published as published_event
from tests.http.test_members_api import join
from tests.http.test_practice_api import competition, practice_payload
from tests.http.test_practice_api import published as published_practice


@pytest.fixture(scope="module")
def news(platform):
    """A new member, a practice and an event with videos, and a finished competition."""
    staff, public = Client(platform.url, STAFF_TOKEN), client_from_new_address(platform.url)
    word = factories.unique_word()
    member = join(staff, public, name=f"Nové město {word}", region="Zlínský kraj")
    video_url = f"https://tv.example.cz/{uuid.uuid4().hex}.mp4"
    practice = published_practice(staff, member, title=f"Zdraví v ulicích {word}", videos=[
        {"title": f"Video {word}", "url": video_url, "duration": 321, "thumbnail": "https://tv.example.cz/n.jpg"}])
    event_video = f"https://tv.example.cz/{uuid.uuid4().hex}.mp4"
    event = published_event(staff, title=f"Konference {word}", type="conference",
                            videos=[{"title": f"Záznam {word}", "url": event_video, "duration": 3600}])
    other = published_practice(staff, member, title=f"Kola {word}")
    contest = competition(staff, [practice["slug"], other["slug"]])
    staff.post(f"/api/v1/competitions/{contest['id']}/close")
    return {"member": member, "practice": practice, "video_url": video_url, "event": event,
            "event_video": event_video, "competition": contest}


def fetch(public: Client, path: str):
    response = public.get(path)
    assert response.status_code == 200, response.text
    parsed = feedparser.parse(response.content)
    assert not parsed.bozo, parsed.get("bozo_exception")
    return response, parsed


def test_practices_rss(platform, public, news):
    response, feed = fetch(public, "/feeds/practices.rss")
    assert response.headers["Content-Type"].startswith("application/rss+xml") and feed.version == "rss20"
    link = f"{platform.url}/api/v1/practices/{news['practice']['slug']}"
    entry = next(e for e in feed.entries if e.link == link)
    assert entry.id == link and entry.title == news["practice"]["title"]
    published = datetime.fromisoformat(news["practice"]["published_at"])
    assert datetime(*entry.published_parsed[:6], tzinfo=timezone.utc) == published.replace(microsecond=0)
    assert {t.term for t in entry.tags} == {"Zdraví", "Vzdělávání a výchova"}
    again = feedparser.parse(public.get("/feeds/practices.rss").content)
    assert [e.id for e in again.entries] == [e.id for e in feed.entries]
    assert public.get("/feeds/practices.rss", headers={"If-None-Match": response.headers["ETag"]}).status_code == 304


def test_news_atom_is_newest_first_and_has_every_kind_of_news(platform, public, news):
    response, feed = fetch(public, "/feeds/news.atom")
    assert response.headers["Content-Type"].startswith("application/atom+xml") and feed.version == "atom10"
    dates = [e.updated_parsed for e in feed.entries]
    assert dates == sorted(dates, reverse=True)
    ids = {e.id for e in feed.entries}
    assert f"tag:zdravamesta.cz,2024:member:{news['member']['slug']}" in ids
    assert f"tag:zdravamesta.cz,2024:practice:{news['practice']['slug']}" in ids
    assert f"tag:zdravamesta.cz,2024:event:{news['event']['id']}" in ids
    results = next(e for e in feed.entries if e.id == f"tag:zdravamesta.cz,2024:competition:{news['competition']['id']}")
    assert results.title.startswith("Výsledky")
    assert all(e.link.startswith(platform.url + "/api/v1/") for e in feed.entries)
    assert public.get("/feeds/news.atom", headers={"If-None-Match": response.headers["ETag"]}).status_code == 304


def test_tv_feed_carries_every_video_as_media_content(platform, public, news):
    response, feed = fetch(public, "/feeds/tv.xml")
    by_url = {e.media_content[0]["url"]: e for e in feed.entries}
    practice_video = by_url[news["video_url"]]
    assert practice_video.media_content[0]["medium"] == "video"
    assert practice_video.media_content[0]["duration"] == "321"
    assert practice_video.media_thumbnail[0]["url"] == "https://tv.example.cz/n.jpg"
    assert practice_video.link == f"{platform.url}/api/v1/practices/{news['practice']['slug']}"
    assert practice_video.id == f"tag:zdravamesta.cz,2024:practice:{news['practice']['slug']}:video:1"
    assert by_url[news["event_video"]].link == f"{platform.url}/api/v1/events/{news['event']['id']}"
    assert public.get("/feeds/tv.xml", headers={"If-None-Match": response.headers["ETag"]}).status_code == 304


def test_a_feed_changes_its_etag_when_its_content_changes(platform, public, news):
    before = public.get("/feeds/practices.rss").headers["ETag"]
    staff = Client(platform.url, STAFF_TOKEN)
    created = staff.post("/api/v1/practices", json=practice_payload(news["member"]["slug"])).json()
    staff.post(f"/api/v1/practices/{created['slug']}/publish")
    after = public.get("/feeds/practices.rss", headers={"If-None-Match": before})
    assert after.status_code == 200 and after.headers["ETag"] != before
    assert created["slug"] in after.text
    assert datetime.now(timezone.utc) - timedelta(minutes=5) < datetime.fromisoformat(
        staff.get(f"/api/v1/practices/{created['slug']}/detail").json()["published_at"])
