"""Rules of good practice and of the NEJpraxe public vote."""
import re
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from nszm import czech
from nszm.contracts import bus
from nszm.contracts.practice import CompetitionSchema, PracticeSchema
from nszm.privacy import erased_address
from nszm.records import Vote
from nszm.rules import Refused, RuleBroken
from nszm.schemas import cached_schema
from nszm.tokens import new_token, token_hash

MIN_WORD = 2
CONFIRMATION_VALIDITY = timedelta(hours=48)
RESULTS_GRACE = timedelta(seconds=5)  # confirmations begun before the close may still be committing


# -- good practice ---------------------------------------------------------------------


def words(text: str) -> list[str]:
    """Folded words: 'Zdraví a pohyb' -> ['zdravi', 'a', 'pohyb']."""
    return re.findall(r"[0-9a-z]+", czech.fold(text))


def search_words(*texts: str) -> list[str]:
    """The distinct searchable words of a practice, stored and indexed for search."""
    return sorted({word for text in texts for word in words(text) if len(word) >= MIN_WORD})


def query_words(query: str) -> list[str]:
    """Words of a search; each must begin some word of a practice ('zdrav' finds 'Zdraví')."""
    return [word for word in dict.fromkeys(words(query)) if len(word) >= MIN_WORD][:10]


def slug_base(title: str) -> str:
    """A practice's address from its title, at most 80 characters before any '-2'."""
    return czech.slugify(title)[:80]


def with_member(practice: dict, member: dict) -> dict:
    """The practice with the member's name, type and region copied in, for filters and feeds."""
    return {**practice, "member": member["slug"], "member_name": member["name"], "member_type": member["type"],
            "region": member["region"]}


def new_practice(data: dict, slug: str, member: dict, now: datetime) -> dict:
    practice = {**data, "slug": slug, "themes": sorted(set(data["themes"])), "status": "draft",
                "created_at": now, "published_at": None, "archived_at": None}
    practice = with_member(practice, member)
    practice["search_words"] = search_words(data["title"], data["summary"], data["body"])
    return practice


def revise(practice: dict, changes: dict, member: dict | None) -> dict:
    """The practice with staff's changes; `member` is the newly named member, if the change names one.
    An archived practice stays as it was archived."""
    if practice["status"] == "archived":
        raise Refused("An archived practice cannot be changed.")
    revised = {**practice, **changes}
    if "themes" in changes:
        revised["themes"] = sorted(set(changes["themes"]))
    if member is not None:
        revised = with_member(revised, member)
    revised["search_words"] = search_words(revised["title"], revised["summary"], revised["body"])
    return revised


def publish(practice: dict, now: datetime) -> dict:
    if practice["status"] != "draft":
        raise Refused(f"Only a draft can be published; this practice is {practice['status']}.")
    return {**practice, "status": "published", "published_at": now}


def archive(practice: dict, now: datetime) -> dict:
    if practice["status"] != "published":
        raise Refused(f"Only a published practice can be archived; this one is {practice['status']}.")
    return {**practice, "status": "archived", "archived_at": now}


# -- NEJpraxe ---------------------------------------------------------------------------


def new_competition(data: dict, nominees: list[dict], now: datetime) -> dict:
    slugs = list(dict.fromkeys(data["nominees"]))
    by_slug = {p["slug"]: p for p in nominees}
    missing = [slug for slug in slugs if by_slug.get(slug, {}).get("status") != "published"]
    if missing:
        raise RuleBroken(f"Not a published practice: {', '.join(missing)}.", "nominees")
    if len(slugs) < 2:
        raise RuleBroken("A competition needs at least two nominees.", "nominees")
    return {
        **data,
        "id": f"nejpraxe-{data['year']}-{uuid.uuid4().hex[:6]}",
        "nominees": [{"practice": slug, "title": by_slug[slug]["title"], "member": by_slug[slug]["member"],
                      "member_name": by_slug[slug].get("member_name")} for slug in slugs],
        "created_at": now,
        "closed_at": None,
        "results": None,
    }


def phase(competition: dict, now: datetime) -> str:
    if now < competition["voting_opens_at"]:
        return "upcoming"
    return "open" if now < competition["voting_closes_at"] else "closed"


def ensure_open(competition: dict, now: datetime):
    current = phase(competition, now)
    if current == "upcoming":
        raise Refused("Voting has not opened yet.")
    if current == "closed":
        raise Refused("Voting has closed.")


def close_early(competition: dict, now: datetime) -> dict:
    """Staff end the voting now; the results are then final."""
    if phase(competition, now) == "closed":
        raise Refused("Voting has closed already.")
    if phase(competition, now) == "upcoming":
        raise Refused("Voting has not opened yet; nothing to close.")
    return {**competition, "voting_closes_at": now}


def new_vote(competition: dict, practice: str, email: str, now: datetime, person: str) -> tuple[Vote, str]:
    """An unconfirmed vote and its single-use confirmation token (only its hash is stored). `person`
    is the keyed hash of the address folded as one mailbox (`nszm.privacy`): aliases count once."""
    ensure_open(competition, now)
    if practice not in {n["practice"] for n in competition["nominees"]}:
        raise RuleBroken("Not a nominee of this competition.", "practice")
    token = new_token()
    vote: Vote = {
        "id": uuid.uuid4().hex,
        "competition_id": competition["id"],
        "practice": practice,
        "email": email,
        "person": person,
        "token_hash": token_hash(token),
        "created_at": now,
        "expires_at": min(now + CONFIRMATION_VALIDITY, competition["voting_closes_at"]),
        "confirmed_at": None,
        "counted": False,
    }
    return vote, token


@dataclass
class Confirmation:
    vote: Vote
    counts_now: bool  # this confirmation is the one that made the vote count
    changed: bool  # False when the link had been used already

    @property
    def events(self) -> list[dict]:
        """vote_confirmed, once the vote counts."""
        if not self.counts_now:
            return []
        return [bus.envelope(bus.VOTE_CONFIRMED, {"competition_id": self.vote["competition_id"],
                                                  "practice": self.vote["practice"]})]


def confirm(vote: Vote, competition: dict, address_counted: bool, now: datetime) -> Confirmation:
    """Confirm a vote by its mailed link. It counts unless a vote from the same address counts in the
    competition already (`address_counted`); a link used again changes nothing."""
    if vote["confirmed_at"] is not None:
        return Confirmation(vote, counts_now=False, changed=False)
    ensure_open(competition, now)
    if now > vote["expires_at"]:
        raise Refused("The confirmation link has expired; please vote again.")
    return Confirmation({**vote, "confirmed_at": now, "counted": not address_counted},
                        counts_now=not address_counted, changed=True)


def vote_requested(competition: dict, vote: Vote, confirm_url: str) -> dict:
    """The event asking notify to mail the voter the confirmation link."""
    title = next(n["title"] for n in competition["nominees"] if n["practice"] == vote["practice"])
    return bus.envelope(bus.VOTE_REQUESTED, {
        "competition_id": competition["id"], "competition_title": competition["title"],
        "practice": vote["practice"], "practice_title": title, "email": vote["email"],
        "confirm_url": confirm_url, "expires_at": vote["expires_at"].isoformat(),
    })


def practice_published(practice: dict) -> dict:
    return bus.envelope(bus.PRACTICE_PUBLISHED, cached_schema(PracticeSchema).dump(practice))


def competition_closed(view: dict) -> dict:
    """The results, announced once (`view`: the competition as the public sees it once closed)."""
    return bus.envelope(bus.COMPETITION_CLOSED, cached_schema(CompetitionSchema).dump(view))


def results(competition: dict, counts: dict[str, int]) -> dict:
    """Nominees with their votes, most first; a winner only if one nominee leads alone."""
    ranked = sorted(({**n, "votes": counts.get(n["practice"], 0)} for n in competition["nominees"]),
                    key=lambda n: (-n["votes"], czech.sort_key(n["title"])))
    leader = ranked[0]["votes"] if ranked else 0
    leaders = [n for n in ranked if n["votes"] == leader]
    return {"nominees": ranked, "total_votes": sum(counts.get(n["practice"], 0) for n in ranked),
            "winner": leaders[0]["practice"] if len(leaders) == 1 and leader > 0 else None}


def public_view(competition: dict, now: datetime, counts: dict[str, int] | None = None) -> dict:
    """What anyone may see: vote counts only once voting has closed."""
    view = {**competition, "status": phase(competition, now), "total_votes": None, "winner": None}
    if view["status"] == "closed":
        view.update(results(competition, counts or {}))
    return view


def practice_news(practice: dict) -> dict:
    """A published practice as the news feed tells it."""
    return {"key": f"practice:{practice['slug']}", "title": f"Dobrá praxe: {practice['title']}",
            "summary": practice["summary"], "path": f"/api/v1/practices/{practice['slug']}",
            "published": practice["published_at"], "category": "practice"}


def results_news(view: dict) -> dict | None:
    """A competition's results as the news feed tells them; None until its voting has closed."""
    if view["status"] != "closed":
        return None
    winner = next((n for n in view["nominees"] if n["practice"] == view.get("winner")), None)
    summary = (f"Vítězem je {winner['title']} ({winner.get('member_name') or winner['member']})" if winner
               else "Hlasování skončilo.")
    return {"key": f"competition:{view['id']}", "title": f"Výsledky: {view['title']}", "summary": summary,
            "path": f"/api/v1/competitions/{view['id']}", "published": view["voting_closes_at"],
            "category": "results"}


# -- personal data ------------------------------------------------------------------------------

def pseudonymised_vote(vote: Vote, now: datetime) -> Vote:
    """A vote without its address: on request, or once its competition's results are out. Which
    nominee it was for and whether it counted stay; the keyed hash keeps one vote per person."""
    if vote.get("pseudonymised_at"):
        return vote
    return {**vote, "email": erased_address(vote["person"]), "pseudonymised_at": now}
