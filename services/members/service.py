"""The members service's entrypoints: load with a schema, apply the domain, store, dump."""
from datetime import date

from nszm import imports
from nszm.contracts.bus import MEMBERS_PRIVACY
from nszm.contracts.common import NEWS_PER_SERVICE, NewsItemSchema
from nszm.contracts.imports import ImportReportSchema, ImportRequestSchema
from nszm.contracts.notify import MailingContactSchema, MembersAudienceSchema
from nszm.entrypoints import rpc, staff_read, staff_rpc
from nszm.messaging import consumes
from nszm.schemas import load
from nszm.service import PlatformService, listing, refusals_as_errors
from nszm.storage import utcnow, with_free_id
from services.members import domain, schemas
from services.members.storage import MembersStoreProvider, MembersStoreVerbs

RETENTION_BATCH = 500


class MembersService(PlatformService[MembersStoreVerbs]):
    name = "members"
    store = MembersStoreProvider()

    # -- the public directory -------------------------------------------------------

    @rpc
    def list_members(self, query):
        query = load(schemas.MemberQuerySchema(), query)
        items, total = self.store.list_members(**query)
        return schemas.MemberPageSchema().dump(listing(items, total, query))

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
        """Contacts of active members in the chosen roles, for a mailout's audience; for the notify service."""
        filters = load(MembersAudienceSchema(), filters or {})
        contacts = domain.audience_contacts(self.store.active_members(), filters["type"], filters["region"],
                                            filters["roles"])
        return MailingContactSchema(many=True).dump(contacts)

    @rpc
    def stats(self):
        return schemas.StatsSchema().dump(domain.statistics(self.store.active_members()))

    # -- applications -----------------------------------------------------------------

    @rpc
    def apply(self, payload):
        data = load(schemas.ApplicationLoadSchema(), payload)

        def work(tx: MembersStoreVerbs) -> dict:
            with refusals_as_errors():
                application = domain.new_application(data, utcnow(), self.store.pseudonyms.person(
                    data["contact"]["email"]), holder=tx.member_with_ico(data["ico"]))
            tx.add_application(application)
            tx.commit([domain.applied(application)])
            return application

        return schemas.ApplicationReceiptSchema().dump(self.unit_of_work(work))

    @staff_read
    def list_applications(self, query):
        query = load(schemas.ApplicationQuerySchema(), query)
        items, total = self.store.list_applications(**query)
        return schemas.ApplicationPageSchema().dump(listing(items, total, query))

    @staff_read
    def get_application(self, application_id):
        return schemas.ApplicationSchema().dump(self.store.get_application(str(application_id)))

    @staff_rpc
    def approve_application(self, application_id, payload=None):
        options = load(schemas.ApprovalSchema(), payload or {})
        member_since = options.get("member_since") or date.today()
        application = self.store.get_application(str(application_id))

        def admit(slug: str) -> dict:
            def work(tx: MembersStoreVerbs) -> dict:
                pending = tx.get_application(application["id"])
                returning = tx.member_with_ico(pending["ico"])
                with refusals_as_errors():
                    decided, member = domain.approve(pending, slug, member_since, utcnow(), returning)
                tx.save_decision(decided)
                if returning:
                    tx.save_member(returning, member)
                else:
                    tx.add_member(member)
                tx.commit([domain.joined(member)])
                return member

            return self.unit_of_work(work)

        base = domain.slug_base(application["name"])
        return schemas.MemberDetailSchema().dump(with_free_id(base, self.store.taken_slugs(base), admit))

    @staff_rpc
    def reject_application(self, application_id, payload):
        reason = load(schemas.RejectionSchema(), payload)["reason"]

        def work(tx: MembersStoreVerbs) -> dict:
            with refusals_as_errors():
                decided = domain.reject(tx.get_application(str(application_id)), reason, utcnow())
            tx.save_decision(decided)
            return decided

        return schemas.ApplicationSchema().dump(self.unit_of_work(work))

    # -- staff changes to members -----------------------------------------------------

    @staff_read
    def get_member_detail(self, slug):
        return schemas.MemberDetailSchema().dump(self.store.get_member(str(slug), include_left=True))

    @staff_rpc
    def update_member(self, slug, payload):
        changes = load(schemas.MemberUpdateLoadSchema(), payload)
        return self._change_member(str(slug), lambda member: domain.update(member, changes),
                                   lambda before, after: domain.change_announced(before, after,
                                                                                 self.store.pseudonyms.person))

    @staff_rpc
    def leave(self, slug, payload=None):
        left_on = load(schemas.LeaveSchema(), payload or {}).get("left_on") or date.today()
        return self._change_member(str(slug), lambda member: domain.leave(member, left_on),
                                   lambda before, after: [domain.left(after)], include_left=True)

    def _change_member(self, slug: str, change, announcements, include_left: bool = False) -> dict:
        def work(tx: MembersStoreVerbs) -> dict:
            before = tx.get_member(slug, include_left=include_left)
            with refusals_as_errors():
                after = change(before)
            tx.save_member(before, after)
            tx.commit(announcements(before, after))
            return after

        return schemas.MemberDetailSchema().dump(self.unit_of_work(work))

    # -- imports -----------------------------------------------------------------------------

    @staff_rpc
    def import_members(self, payload):
        """Members with their contacts from a list: checked row by row (dry run, the default), or
        imported all at once (the broken rows left out, as the check reported them)."""
        request = load(ImportRequestSchema(), payload)
        rows, errors = imports.loaded_rows(schemas.MemberImportRowSchema(), request["rows"])

        def write(tx: MembersStoreVerbs, plan: domain.MemberImport):
            tx.add_members(plan.added)
            for before, after in plan.saved:
                tx.save_member(before, after)

        result = self.checked_import("members", request, errors, lambda tx: domain.planned_import(
            rows, tx.members_with_icos({row["ico"] for row in rows}), tx.all_slugs(), date.today(), utcnow(),
            self.store.pseudonyms.person), write)
        return ImportReportSchema().dump(result)

    # -- personal data ------------------------------------------------------------------------

    def personal_sections(self, person: str) -> dict:
        contacts = [{**contact, "member": member["slug"], "member_name": member["name"]}
                    for member in self.store.members_with_person(person) for contact in member.get("contacts", [])
                    if self.store.pseudonyms.person(contact["email"]) == person]
        return {"member_contacts": schemas.PersonalContactSchema(many=True).dump(contacts),
                "applications": schemas.ApplicationSchema(many=True).dump(self.store.applications_of_person(person))}

    @consumes(MEMBERS_PRIVACY)
    def on_person_erased(self, envelope):
        self.erase_on(MEMBERS_PRIVACY, envelope, self._erase)

    def _erase(self, tx: MembersStoreVerbs, person: str):
        now = utcnow()
        tx.save_applications([domain.erased_application(a, now) for a in tx.applications_of_person(person)])
        for member in tx.members_with_person(person):
            after = domain.without_contacts_of(member, person, self.store.pseudonyms.person)
            if after is not None:
                tx.save_member(member, after)

    def retain(self, now):
        """Rejected applications past RETAIN_REJECTED_APPLICATIONS_MONTHS lose their contact person."""
        cutoff = self.settings.retention.cutoff("rejected_applications", now)
        while due := self.store.rejected_before(cutoff, RETENTION_BATCH):
            erased = [domain.erased_application(application, now) for application in due]
            self.unit_of_work(lambda tx: tx.save_applications(erased))
