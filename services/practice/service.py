"""The practice service's entrypoints: good practice, its moderation, and the NEJpraxe vote."""
from datetime import datetime

from nameko.timer import timer

from nszm.calls import TimedRpcProxy
from nszm.contracts import bus
from nszm.contracts.common import NEWS_PER_SERVICE, NewsItemSchema
from nszm.contracts.errors import Conflict, InvalidInput, NotFound
from nszm.contracts.practice import THEMES
from nszm.entrypoints import rpc, staff_rpc
from nszm.messaging import consumes
from nszm.rules import Refusal
from nszm.rush import RushWrites
from nszm.schemas import load
from nszm.service import PlatformService, as_error, listing, refusals_as_errors
from nszm.storage import utcnow, with_free_id
from services.practice import domain, schemas
from services.practice.storage import CountedMeanwhile, PracticeStoreProvider, PracticeStoreVerbs

CLOSING_INTERVAL_SECONDS = 1.0
RETENTION_BATCH = 500


class PracticeService(PlatformService[PracticeStoreVerbs]):
    name = "practice"
    store = PracticeStoreProvider()
    rush = RushWrites()
    members = TimedRpcProxy("members")

    # -- good practice ----------------------------------------------------------------

    @rpc
    def themes(self):
        return schemas.ThemeSchema(many=True).dump([{"id": i, "name": name} for i, name in THEMES.items()])

    @rpc
    def list_practices(self, query):
        query = load(schemas.PracticeQuerySchema(), query)
        items, total = self.store.list_practices(
            page=query["page"], per_page=query["per_page"], words=domain.query_words(query.get("q") or ""),
            **{key: query.get(key) for key in ("theme", "member", "member_type", "region", "year")})
        return schemas.PracticePageSchema().dump(listing(items, total, query))

    @rpc
    def news(self):
        """The newest published practices and the results of closed competitions, as news."""
        practices, _ = self.store.list_practices(page=1, per_page=NEWS_PER_SERVICE)
        competitions, _ = self.store.list_competitions(page=1, per_page=NEWS_PER_SERVICE)
        results = [domain.results_news(self._public(c)) for c in competitions]
        return NewsItemSchema(many=True).dump([domain.practice_news(p) for p in practices]
                                              + [item for item in results if item])

    @rpc
    def get_practice(self, slug):
        return schemas.PracticeSchema().dump(self.store.get_practice(str(slug)))

    @rpc
    def get_practice_detail(self, slug):
        return schemas.PracticeDetailSchema().dump(self.store.get_practice(str(slug), published_only=False))

    @rpc
    def list_practice_details(self, query):
        query = load(schemas.PracticeDetailQuerySchema(), query)
        items, total = self.store.list_practices(page=query["page"], per_page=query["per_page"],
                                                 words=domain.query_words(query.get("q") or ""),
                                                 status=query.get("status"))
        return schemas.PracticeDetailPageSchema().dump(listing(items, total, query))

    def _member(self, slug: str) -> dict:
        try:
            return self.members.get_member(slug)
        except NotFound:
            raise InvalidInput("No such member.", {"member": ["No active member with this slug."]}) from None

    @staff_rpc
    def create_practice(self, payload):
        data = load(schemas.PracticeInputSchema(), payload)
        member = self._member(data["member"])
        base = domain.slug_base(data["title"])

        def store(slug: str) -> dict:
            practice = domain.new_practice(data, slug, member, utcnow())
            self.store.add_practice(practice)
            return practice

        practice = with_free_id(base, self.store.taken_slugs(base), store)
        return schemas.PracticeDetailSchema().dump(practice)

    @staff_rpc
    def update_practice(self, slug, payload):
        changes = load(schemas.PracticeUpdateSchema(), payload)
        if not changes:
            raise InvalidInput("Nothing to change.", {"_schema": ["Name at least one field to change."]})
        member = self._member(changes["member"]) if "member" in changes else None
        return self._change_practice(str(slug), lambda before: domain.revise(before, changes, member))

    @staff_rpc
    def publish_practice(self, slug):
        return self._change_practice(str(slug), lambda before: domain.publish(before, utcnow()),
                                     domain.practice_published)

    @staff_rpc
    def archive_practice(self, slug):
        return self._change_practice(str(slug), lambda before: domain.archive(before, utcnow()))

    def _change_practice(self, slug: str, change, announcement=None) -> dict:
        def work(tx: PracticeStoreVerbs) -> dict:
            before = tx.get_practice(slug, published_only=False)
            with refusals_as_errors():
                after = change(before)
            tx.save_practice(before, after)
            tx.commit([announcement(after)] if announcement else [])
            return after

        return schemas.PracticeDetailSchema().dump(self.unit_of_work(work))

    @consumes(bus.PRACTICE_MEMBERS)
    def on_member_updated(self, envelope):
        self.handle_once(bus.PRACTICE_MEMBERS, envelope, lambda tx: tx.refresh_member(envelope["data"]))

    # -- NEJpraxe -----------------------------------------------------------------------

    @staff_rpc
    def create_competition(self, payload):
        data = load(schemas.CompetitionInputSchema(), payload)
        with refusals_as_errors():
            competition = domain.new_competition(data, self.store.practices_by_slug(data["nominees"]), utcnow())
        self.store.add_competition(competition)
        return schemas.CompetitionSchema().dump(domain.public_view(competition, utcnow()))

    def _public(self, competition: dict) -> dict:
        now = utcnow()
        counts = self.store.counts(competition["id"]) if domain.phase(competition, now) == "closed" else None
        return domain.public_view(competition, now, counts)

    def _view(self, competition: dict) -> dict:
        return schemas.CompetitionSchema().dump(self._public(competition))

    @rpc
    def get_competition(self, competition_id):
        return self._view(self.store.get_competition(str(competition_id)))

    @rpc
    def list_competitions(self, query):
        query = load(schemas.CompetitionQuerySchema(), query)
        items, total = self.store.list_competitions(page=query["page"], per_page=query["per_page"],
                                                    year=query.get("year"))
        return listing([self._view(c) for c in items], total, query)

    @rpc
    def vote(self, competition_id, payload):
        """Record a vote to be confirmed by mail. The answer never says whether the address voted before."""
        data = load(schemas.VoteInputSchema(), payload)
        competition_id = str(competition_id)
        self.rush.together(f"votes:{competition_id}", (competition_id, data, utcnow()), self._vote_together)
        return schemas.VoteReceiptSchema().dump({"status": "confirmation_sent"})

    def _vote_together(self, requested: list[tuple[str, dict, datetime]]) -> list:
        """The votes cast meanwhile in one competition, in one unit of work, once no other counts
        its votes."""
        with self.rush.one_at_a_time([f"votes:{requested[0][0]}"]):
            return self.unit_of_work(lambda tx: self._store_votes(tx, requested))

    def _store_votes(self, tx: PracticeStoreVerbs, requested: list[tuple[str, dict, datetime]]) -> list:
        """Votes cast at the same time in one competition, decided against one read of it and
        stored in one transaction with the mails they ask for: each None, or its caller's error."""
        competition = tx.get_competition(requested[0][0])
        outcomes, votes, announced = [], [], []
        for _, data, now in requested:
            try:
                vote, token = domain.new_vote(competition, data["practice"], data["email"], now,
                                              self.store.pseudonyms.person(data["email"]))
            except Refusal as refusal:
                outcomes.append(as_error(refusal))
                continue
            announced.append(domain.vote_requested(
                competition, vote, f"{self.settings.public_url}/api/v1/votes/confirm?token={token}"))
            votes.append(vote)
            outcomes.append(None)
        if votes:
            tx.add_votes(votes)
            tx.commit(announced)
        return outcomes

    @rpc
    def confirm_vote(self, token):
        if not isinstance(token, str) or not token:
            raise NotFound("This confirmation link is not valid.")
        now = utcnow()

        def work(tx: PracticeStoreVerbs) -> domain.Confirmation:
            vote = tx.vote_by_token(domain.token_hash(token))
            competition = tx.get_competition(vote["competition_id"])
            address_counted = tx.counted_vote_exists(vote["competition_id"], vote["person"])
            with refusals_as_errors():
                outcome = domain.confirm(vote, competition, address_counted, now)
            if outcome.changed:
                tx.save_vote(outcome.vote)
            tx.commit(outcome.events)
            return outcome

        try:
            outcome = self.unit_of_work(work)
        except CountedMeanwhile:  # decided again, now seeing the concurrent count
            outcome = self.unit_of_work(work)
        return schemas.ConfirmationResultSchema().dump(
            {"status": "counted" if outcome.counts_now else "already_counted", "practice": outcome.vote["practice"]})

    @staff_rpc
    def close_voting(self, competition_id):
        competition = self.store.get_competition(str(competition_id))
        with refusals_as_errors():
            ended = domain.close_early(competition, utcnow())
        if not self.store.end_voting(ended):
            raise Conflict("Voting has closed already.")
        return self._view(ended)

    @timer(interval=CLOSING_INTERVAL_SECONDS)
    def announce_results(self):
        """Announce each finished competition once, a little after closing so late confirmations count."""
        now = utcnow()
        for competition in self.store.due_for_closing(now - domain.RESULTS_GRACE):
            counts = self.store.counts(competition["id"])
            results = domain.results(competition, counts)
            closed = domain.public_view(competition, now, counts)
            announced = [domain.competition_closed(closed)]

            def work(tx: PracticeStoreVerbs):
                if tx.close_competition(competition["id"], results, now):  # False: announced by another worker
                    tx.commit(announced)

            self.unit_of_work(work)

    # -- personal data --------------------------------------------------------------------------

    def personal_sections(self, person: str) -> dict:
        return {"votes": schemas.PersonalVoteSchema(many=True).dump(self.store.votes_of_person(person))}

    @consumes(bus.PRACTICE_PRIVACY)
    def on_person_erased(self, envelope):
        self.erase_on(bus.PRACTICE_PRIVACY, envelope, self._erase)

    @staticmethod
    def _erase(tx: PracticeStoreVerbs, person: str):
        votes = tx.votes_of_person(person)
        tx.forget_events_about("data.email", sorted({vote["email"] for vote in votes}))  # confirmation requests
        tx.save_votes([domain.pseudonymised_vote(vote, utcnow()) for vote in votes])

    def retain(self, now):
        """Votes lose their addresses once their competition's results are out."""
        while due := self.store.votes_to_pseudonymise(RETENTION_BATCH):
            self.unit_of_work(lambda tx: tx.save_votes([domain.pseudonymised_vote(vote, now) for vote in due]))
