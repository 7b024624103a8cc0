"""The members service's RPC contract: codes, payload shapes and the service name.

These schemas fix the shape of what crosses the bus. Business rules that go beyond shape
(the IČO check digit, for one) are added by the members service's own schemas.
"""
from marshmallow import EXCLUDE, Schema, fields, validate

from nszm.contracts.common import EmailAddress, PageQuerySchema, page_schema, text, web_url

SERVICE = "members"

MEMBER_TYPES = {
    "city": "město",
    "city_district": "městská část",
    "municipality": "obec",
    "region": "kraj",
    "microregion": "mikroregion / svazek obcí",
    "mas": "místní akční skupina",
}

REGIONS = (
    "Hlavní město Praha",
    "Středočeský kraj",
    "Jihočeský kraj",
    "Plzeňský kraj",
    "Karlovarský kraj",
    "Ústecký kraj",
    "Liberecký kraj",
    "Královéhradecký kraj",
    "Pardubický kraj",
    "Kraj Vysočina",
    "Jihomoravský kraj",
    "Olomoucký kraj",
    "Zlínský kraj",
    "Moravskoslezský kraj",
)

CONTACT_ROLES = {
    "coordinator": "koordinátor/ka Zdravého města",
    "politician": "odpovědný politik/politička",
    "other": "další kontakt",
}

APPLICATION_STATUSES = ("pending", "approved", "rejected")
MAX_CONTACTS = 20  # contacts of one member

member_type = fields.String(required=True, validate=validate.OneOf(list(MEMBER_TYPES)))
region = fields.String(required=True, validate=validate.OneOf(REGIONS))


class MemberTypeSchema(Schema):
    code = fields.String(required=True)
    name = fields.String(required=True)


class RegionSchema(Schema):
    name = fields.String(required=True)


class ContactSchema(Schema):
    role = fields.String(validate=validate.OneOf(list(CONTACT_ROLES)),
                         metadata={"description": "coordinator (koordinátor/ka), politician (odpovědný politik), other"})
    function = text(120, allow_none=True, metadata={"description": "the person's office, e.g. místostarosta"})
    name = text(200, required=True)
    email = EmailAddress(required=True)
    phone = text(40)


class PersonalContactSchema(ContactSchema):
    """A person's place among a member's contacts, in their data export."""

    member = fields.String(required=True)
    member_name = fields.String(required=True)


class MemberSchema(Schema):
    """A member as the public directory shows it: no contacts, no IČO."""

    slug = fields.String(required=True)
    name = fields.String(required=True)
    type = fields.String(required=True)
    region = fields.String(required=True)
    population = fields.Integer(required=True)
    member_since = fields.Date(required=True)
    website = fields.String(allow_none=True)
    part_of = fields.String(allow_none=True, metadata={"description": "slug of the member it lies within"})
    version = fields.Integer(metadata={"description": "counts the member's changes: of two events about one "
                                                      "member, the higher version is the newer"})


class MemberDetailSchema(MemberSchema):
    """A member as staff see it."""

    ico = fields.String(required=True)
    contacts = fields.List(fields.Nested(ContactSchema), required=True)
    status = fields.String(required=True, validate=validate.OneOf(["active", "left"]))
    left_on = fields.Date(allow_none=True)


class MemberQuerySchema(PageQuerySchema):
    type = fields.String(validate=validate.OneOf(list(MEMBER_TYPES)))
    region = fields.String(validate=validate.OneOf(REGIONS))
    q = text(200, metadata={"description": "matches names ignoring case and diacritics"})
    sort = fields.String(load_default="name", validate=validate.OneOf(["name", "newest"]),
                         metadata={"description": "Czech order of names (default), or newest members first"})


MemberPageSchema = page_schema(MemberSchema, "MemberPage")


class StatsSchema(Schema):
    total = fields.Integer(required=True)
    by_type = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    by_region = fields.Dict(keys=fields.String(), values=fields.Integer(), required=True)
    population_covered = fields.Integer(required=True)


class ApplicationInputSchema(Schema):
    """A membership application as a website submits it."""

    name = text(200, required=True)
    type = member_type
    region = region
    ico = fields.String(required=True, metadata={"description": "8 digits, the last a mod-11 check digit",
                                                 "format": "ico", "pattern": r"^(\s*[0-9]){8}\s*$"})
    population = fields.Integer(required=True, strict=True, validate=validate.Range(min=1, max=20_000_000))
    contact = fields.Nested(ContactSchema, required=True)
    website = web_url(300, allow_none=True)
    part_of = text(120, allow_none=True)
    note = text(2000)


class ApplicationSchema(Schema):
    id = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf(APPLICATION_STATUSES))
    name = fields.String()
    type = fields.String()
    region = fields.String()
    ico = fields.String()
    population = fields.Integer()
    contact = fields.Nested(ContactSchema)
    website = fields.String(allow_none=True)
    part_of = fields.String(allow_none=True)
    note = fields.String()
    submitted_at = fields.DateTime()
    decided_at = fields.DateTime(allow_none=True)
    member = fields.String(allow_none=True, metadata={"description": "slug of the member once approved"})
    reason = fields.String(allow_none=True)


class ApplicationReceiptSchema(Schema):
    id = fields.String(required=True)
    status = fields.String(required=True)


class ApplicationQuerySchema(PageQuerySchema):
    status = fields.String(validate=validate.OneOf(APPLICATION_STATUSES))


ApplicationPageSchema = page_schema(ApplicationSchema, "ApplicationPage")


class ApprovalSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    member_since = fields.Date(metadata={"description": "defaults to today"})


class RejectionSchema(Schema):
    reason = text(2000, required=True)


class MemberUpdateSchema(Schema):
    """Fields staff may change on a member; all optional, at least one."""

    name = text(200)
    population = fields.Integer(strict=True, validate=validate.Range(min=1, max=20_000_000))
    website = web_url(300, allow_none=True)
    contacts = fields.List(fields.Nested(ContactSchema), validate=validate.Length(max=MAX_CONTACTS))
    part_of = text(120, allow_none=True)


class LeaveSchema(Schema):
    left_on = fields.Date(metadata={"description": "defaults to today"})
    reason = text(2000)
