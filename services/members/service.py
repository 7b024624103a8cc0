"""The members service's entrypoints: load with a schema, apply the domain, store, dump."""
from datetime import date

from nszm.contracts.bus import MEMBER_APPLIED, MEMBER_JOINED, MEMBER_LEFT, MEMBER_UPDATED, envelope
from nszm.contracts.common import NEWS_PER_SERVICE, NewsItemSchema
from nszm.contracts.errors import Conflict
from nszm.contracts.notify import MailingContactSchema, MembersAudienceSchema
from nszm.entrypoints import rpc
from nszm.schemas import load
from nszm.service import PlatformService, page
from nszm.storage import utcnow, with_free_id
from services.members import domain, schemas
from services.members.storage import MembersStoreProvider


class MembersService(PlatformService):
    name = "members"
    store = MembersStoreProvider()

    # -- the public directory -------------------------------------------------------

    @rpc
    def list_members(self, query):
        query = load(schemas.MemberQuerySchema(), query)
        items, total = self.store.list_members(**query)
        return schemas.MemberPageSchema().dump(page(items, total, query))

    @rpc
    def news(self):
        """The newest members, as news."""
        members, _ = self.store.list_members(page=1, per_page=NEWS_PER_SERVICE, sort="newest")
        return NewsItemSchema(many=True).dump([domain.news_item(member) for member in members])

    @rpc
    def get_member(self, slug):
        return schemas.MemberSchema().dump(self.store.get_member(str(slug)))

    @rpc
    def coordinator_of(self, email):
        """The member (public view) whose coordinator uses `email`, or None; for other services."""
        member = self.store.coordinator_of(str(email)) if isinstance(email, str) and email.strip() else None
        return schemas.MemberSchema().dump(member) if member else None

    @rpc
    def mailing_contacts(self, filters):
        """Coordinator contacts of active members for a mailout's audience; for the notify service."""
        filters = load(MembersAudienceSchema(), filters or {})
        contacts = domain.coordinator_contacts(self.store.active_members(), filters["type"], filters["region"])
        return MailingContactSchema(many=True).dump(contacts)

    @rpc
    def stats(self):
        return schemas.StatsSchema().dump(domain.statistics(self.store.active_members()))

    # -- applications -----------------------------------------------------------------

    @rpc
    def apply(self, payload):
        data = load(schemas.ApplicationLoadSchema(), payload)
        application = domain.new_application(data, utcnow())
        event = envelope(
            MEMBER_APPLIED,
            {"application_id": application["id"], **{k: data[k] for k in ("name", "type", "region", "population", "contact")}},
        )
        self.store.add_application(application, [event])
        self.publish([event])
        return schemas.ApplicationReceiptSchema().dump(application)

    @rpc
    def list_applications(self, query):
        query = load(schemas.ApplicationQuerySchema(), query)
        items, total = self.store.list_applications(**query)
        return schemas.ApplicationPageSchema().dump(page(items, total, query))

    @rpc
    def get_application(self, application_id):
        return schemas.ApplicationSchema().dump(self.store.get_application(str(application_id)))

    @rpc
    def approve_application(self, application_id, payload=None):
        options = load(schemas.ApprovalSchema(), payload or {})
        application = self.store.get_application(str(application_id))
        returning = self.store.returning_member(application["ico"])

        def store(slug: str) -> tuple[dict, dict]:
            try:
                decided, member = domain.approve(application, slug, options.get("member_since") or date.today(),
                                                 utcnow())
            except domain.NotPending:
                raise Conflict(f"The application is {application['status']} already.") from None
            if returning:
                member["version"] = returning.get("version", 0)
            event = envelope(MEMBER_JOINED, schemas.MemberSchema().dump(member))
            self.store.approve_application(decided, member, [event], returning=bool(returning))
            return member, event

        if returning:
            member, event = store(returning["slug"])
        else:
            base = domain.slug_base(application["name"])
            member, event = with_free_id(base, self.store.taken_slugs(base), store)
        self.publish([event])
        return schemas.MemberDetailSchema().dump(member)

    @rpc
    def reject_application(self, application_id, payload):
        reason = load(schemas.RejectionSchema(), payload)["reason"]
        application = self.store.get_application(str(application_id))
        try:
            decided = domain.reject(application, reason, utcnow())
        except domain.NotPending:
            raise Conflict(f"The application is {application['status']} already.") from None
        self.store.reject_application(decided)
        return schemas.ApplicationSchema().dump(decided)

    # -- staff changes to members -----------------------------------------------------

    @rpc
    def get_member_detail(self, slug):
        return schemas.MemberDetailSchema().dump(self.store.get_member(str(slug), include_left=True))

    @rpc
    def update_member(self, slug, payload):
        changes = load(schemas.MemberUpdateLoadSchema(), payload)
        before = self.store.get_member(str(slug))
        after = domain.update(before, changes)
        event = envelope(MEMBER_UPDATED, schemas.MemberSchema().dump(after))
        self.store.save_member(before, after, [event])
        self.publish([event])
        return schemas.MemberDetailSchema().dump(after)

    @rpc
    def leave(self, slug, payload=None):
        options = load(schemas.LeaveSchema(), payload or {})
        before = self.store.get_member(str(slug), include_left=True)
        try:
            after = domain.leave(before, options.get("left_on") or date.today())
        except domain.AlreadyLeft:
            raise Conflict(f"{before['name']} has left the network already.") from None
        event = envelope(MEMBER_LEFT, {"slug": after["slug"], "name": after["name"], "left_on": after["left_on"].isoformat()})
        self.store.save_member(before, after, [event])
        self.publish([event])
        return schemas.MemberDetailSchema().dump(after)
