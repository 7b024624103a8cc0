"""The feeds the websites, TV and media read: events.ics, practices.rss, news.atom and tv.xml.

Built here from what the services answer, with feedgen and icalendar; every link is absolute
from PUBLIC_URL and every entry keeps its id from one build to the next.
"""
import mimetypes
from datetime import datetime, timezone

from feedgen.feed import FeedGenerator
from flask import Response
from icalendar import Calendar, Event

from gateway.context import api, every_item, public_url, services
from nszm import formatting

PUBLISHER = "Národní síť Zdravých měst ČR"
TAG = "tag:zdravamesta.cz,2024:"
PAGE = 100
FEED_MAX_AGE = 300
EVER = "2000-01-01"


def _moment(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _feed(title: str, path: str, description: str) -> FeedGenerator:
    base = public_url()
    feed = FeedGenerator()
    feed.id(f"{base}{path}")
    feed.title(title)
    feed.description(description)
    feed.subtitle(description)
    feed.author({"name": PUBLISHER, "uri": "https://www.zdravamesta.cz"})
    feed.link(href=f"{base}{path}", rel="self")
    feed.link(href=f"{base}/", rel="alternate")
    feed.language("cs")
    return feed


def _respond(body: bytes, mimetype: str) -> Response:
    return Response(body, mimetype=mimetype)


def _dated(feed: FeedGenerator, dates: list[datetime]) -> FeedGenerator:
    """Date the feed by its newest entry, so that an unchanged feed keeps its ETag."""
    newest = max(dates, default=datetime(2024, 1, 1, tzinfo=timezone.utc))
    feed.lastBuildDate(newest)
    feed.updated(newest)
    return feed


# -- calendars ------------------------------------------------------------------------------


def events_calendar(events: list[dict], public_url: str) -> bytes:
    calendar = Calendar()
    calendar.add("prodid", formatting.CALENDAR_PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", "Akce Národní sítě Zdravých měst ČR")
    calendar.add("x-wr-timezone", "Europe/Prague")
    for item in events:
        entry = Event()
        entry.add("uid", formatting.calendar_uid(item["id"]))
        entry.add("dtstamp", _moment(item["published_at"]) if item.get("published_at") else datetime.now(timezone.utc))
        entry.add("dtstart", _moment(item["starts_at"]))
        entry.add("dtend", _moment(item["ends_at"]))
        entry.add("summary", item["title"])
        if item.get("description"):
            entry.add("description", item["description"])
        entry.add("location", formatting.place(item.get("venue")) or "online")
        entry.add("url", f"{public_url}/api/v1/events/{item['id']}")
        entry.add("categories", [item["type"]])
        calendar.add_component(entry)
    return calendar.to_ical()


@api.route("/feeds/events.ics", summary="iCalendar of upcoming public events", tag="feeds",
           media_type="text/calendar", max_age=FEED_MAX_AGE)
def events_ics():
    return _respond(events_calendar(every_item(services().events.list_events), public_url()), "text/calendar")


# -- good practice ----------------------------------------------------------------------------


@api.route("/feeds/practices.rss", summary="RSS 2.0 of published good practice", tag="feeds",
           media_type="application/rss+xml", max_age=FEED_MAX_AGE)
def practices_rss():
    base = public_url()
    feed = _feed("Dobrá praxe Zdravých měst", "/feeds/practices.rss",
                 "Příklady dobré praxe členů Národní sítě Zdravých měst ČR")
    themes = {t["id"]: t["name"] for t in services().practice.themes()}
    practices = every_item(services().practice.list_practices)
    _dated(feed, [_moment(p["published_at"]) for p in practices])
    for practice in practices:
        entry = feed.add_entry(order="append")
        link = f"{base}/api/v1/practices/{practice['slug']}"
        entry.id(link)
        entry.guid(link, permalink=True)
        entry.title(practice["title"])
        entry.link(href=link)
        entry.description(practice["summary"])
        entry.author({"name": practice.get("member_name") or practice["member"], "email": "info@zdravamesta.cz"})
        entry.published(_moment(practice["published_at"]))
        for theme in practice["themes"]:
            entry.category(term=themes.get(theme, str(theme)))
    return _respond(feed.rss_str(pretty=True), "application/rss+xml")


# -- news ---------------------------------------------------------------------------------------


def _news_items() -> list[dict]:
    """What each service tells as news, newest first, with the feed's ids and absolute links."""
    base = public_url()
    rpc = services()
    news = [{**item, "id": f"{TAG}{item['key']}", "link": f"{base}{item['path']}", "date": _moment(item["published"])}
            for source in (rpc.members, rpc.events, rpc.practice) for item in source.news()]
    return sorted(news, key=lambda item: (item["date"], item["id"]), reverse=True)


@api.route("/feeds/news.atom", summary="Atom news: new members, events, practices, competition results",
           tag="feeds", media_type="application/atom+xml", max_age=FEED_MAX_AGE)
def news_atom():
    feed = _feed("Novinky Národní sítě Zdravých měst ČR", "/feeds/news.atom",
                 "Noví členové, akce, dobrá praxe a výsledky soutěže NEJpraxe")
    items = _news_items()
    _dated(feed, [item["date"] for item in items])
    for item in items:
        entry = feed.add_entry(order="append")
        entry.id(item["id"])
        entry.title(item["title"])
        entry.link(href=item["link"], rel="alternate")
        entry.updated(item["date"])
        entry.published(item["date"])
        entry.summary(item["summary"])
        entry.category(term=item["category"])
    return _respond(feed.atom_str(pretty=True), "application/atom+xml")


# -- television -------------------------------------------------------------------------------


def _videos() -> list[dict]:
    base = public_url()
    found = []
    for practice in every_item(services().practice.list_practices):
        for number, video in enumerate(practice.get("videos") or [], start=1):
            found.append({**video, "guid": f"{TAG}practice:{practice['slug']}:video:{number}",
                          "page": f"{base}/api/v1/practices/{practice['slug']}", "about": practice["title"],
                          "date": _moment(practice["published_at"])})
    for event in every_item(services().events.list_events, {"from": EVER}):
        for number, video in enumerate(event.get("videos") or [], start=1):
            found.append({**video, "guid": f"{TAG}event:{event['id']}:video:{number}",
                          "page": f"{base}/api/v1/events/{event['id']}", "about": event["title"],
                          "date": _moment(event["published_at"])})
    return sorted(found, key=lambda video: (video["date"], video["guid"]), reverse=True)


@api.route("/feeds/tv.xml", summary="Media RSS of the videos of practices and events", tag="feeds",
           media_type="application/rss+xml", max_age=FEED_MAX_AGE)
def tv_xml():
    feed = _feed("ZdravaMesta.cz/TV", "/feeds/tv.xml", "Videa Zdravých měst: dobrá praxe a záznamy z akcí")
    feed.load_extension("media", rss=True, atom=False)
    videos = _videos()
    _dated(feed, [video["date"] for video in videos])
    for video in videos:
        entry = feed.add_entry(order="append")
        entry.id(video["guid"])
        entry.guid(video["guid"], permalink=False)
        entry.title(video["title"])
        entry.link(href=video["page"])
        entry.description(f"{video['title']} – {video['about']}")
        entry.published(video["date"])
        content = {"url": video["url"], "medium": "video",
                   "type": mimetypes.guess_type(video["url"])[0] or "video/mp4"}
        if video.get("duration"):
            content["duration"] = str(video["duration"])
        entry.media.content(content)
        if video.get("thumbnail"):
            entry.media.thumbnail({"url": video["thumbnail"]})
    return _respond(feed.rss_str(pretty=True), "application/rss+xml")
