"""The practice service's RPC contract: themes, good practice, NEJpraxe competitions and votes."""
from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema

from nszm.contracts.common import (
    EmailAddress,
    PageQuerySchema,
    VideoSchema,
    all_optional,
    aware,
    page_schema,
    text,
    web_url,
)
from nszm.contracts.members import MEMBER_TYPES, REGIONS

SERVICE = "practice"

THEMES = {
    1: "Správa věcí veřejných a územní rozvoj",
    2: "Životní prostředí",
    3: "Udržitelná spotřeba a výroba",
    4: "Doprava a mobilita",
    5: "Zdraví",
    6: "Místní ekonomika a podnikání",
    7: "Vzdělávání a výchova",
    8: "Kultura a místní tradice",
    9: "Sociální prostředí",
    10: "Globální odpovědnost",
}
PRACTICE_STATUSES = ("draft", "published", "archived")


class ThemeSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)


class LinkSchema(Schema):
    title = text(200, required=True)
    url = web_url(500, required=True)


class AttachmentSchema(LinkSchema):
    content_type = text(100, metadata={"description": "e.g. application/pdf"})


class PracticeInputSchema(Schema):
    title = text(200, required=True)
    summary = text(1000, required=True)
    body = text(50_000, required=True)
    member = text(120, required=True, metadata={"description": "slug of the member that runs it"})
    themes = fields.List(fields.Integer(strict=True, validate=validate.OneOf(list(THEMES))), required=True,
                         validate=validate.Length(min=1, max=10))
    year = fields.Integer(required=True, strict=True, validate=validate.Range(min=1994, max=2100))
    links = fields.List(fields.Nested(LinkSchema), load_default=list, validate=validate.Length(max=30))
    attachments = fields.List(fields.Nested(AttachmentSchema), load_default=list, validate=validate.Length(max=30))
    videos = fields.List(fields.Nested(VideoSchema), load_default=list, validate=validate.Length(max=30))


class PracticeSchema(Schema):
    """A published practice as the public sees it."""

    slug = fields.String(required=True)
    title = fields.String(required=True)
    summary = fields.String(required=True)
    body = fields.String()
    member = fields.String(required=True)
    member_name = fields.String()
    member_type = fields.String()
    region = fields.String()
    themes = fields.List(fields.Integer(), required=True)
    year = fields.Integer(required=True)
    links = fields.List(fields.Nested(LinkSchema))
    attachments = fields.List(fields.Nested(AttachmentSchema))
    videos = fields.List(fields.Nested(VideoSchema), required=True)
    published_at = aware(allow_none=True)


class PracticeDetailSchema(PracticeSchema):
    status = fields.String(required=True, validate=validate.OneOf(PRACTICE_STATUSES))
    created_at = aware()
    archived_at = aware(allow_none=True)


class PracticeQuerySchema(PageQuerySchema):
    theme = fields.Integer(validate=validate.OneOf(list(THEMES)))
    member = text(120)
    member_type = fields.String(validate=validate.OneOf(list(MEMBER_TYPES)))
    region = fields.String(validate=validate.OneOf(REGIONS))
    year = fields.Integer(validate=validate.Range(min=1994, max=2100))
    q = text(200, metadata={"description": "words found in title, summary or text, ignoring case and diacritics"})


PracticePageSchema = page_schema(PracticeSchema, "PracticePage")

PracticeUpdateSchema = all_optional(PracticeInputSchema, "PracticeUpdate")


class PracticeDetailQuerySchema(PageQuerySchema):
    """Staff's list: every state, newest first."""

    status = fields.String(validate=validate.OneOf(PRACTICE_STATUSES))
    q = text(200, metadata={"description": "words found in title, summary or text, ignoring case and diacritics"})


PracticeDetailPageSchema = page_schema(PracticeDetailSchema, "PracticeDetailPage")


class CompetitionInputSchema(Schema):
    year = fields.Integer(required=True, strict=True, validate=validate.Range(min=2000, max=2100))
    title = text(200, required=True)
    voting_opens_at = aware(required=True)
    voting_closes_at = aware(required=True)
    nominees = fields.List(text(120, required=True), required=True, validate=validate.Length(min=2, max=100))

    @validates_schema
    def window(self, data, **kwargs):
        if "voting_opens_at" in data and "voting_closes_at" in data \
                and data["voting_closes_at"] <= data["voting_opens_at"]:
            raise ValidationError("Must be after voting_opens_at.", "voting_closes_at")


class NomineeSchema(Schema):
    practice = fields.String(required=True)
    title = fields.String(required=True)
    member = fields.String(required=True)
    member_name = fields.String()
    votes = fields.Integer(metadata={"description": "only once voting has closed"})


class CompetitionSchema(Schema):
    id = fields.String(required=True)
    year = fields.Integer(required=True)
    title = fields.String(required=True)
    voting_opens_at = aware(required=True)
    voting_closes_at = aware(required=True)
    status = fields.String(required=True, validate=validate.OneOf(["upcoming", "open", "closed"]))
    nominees = fields.List(fields.Nested(NomineeSchema), required=True,
                           metadata={"description": "with `votes`, most first, once voting has closed"})
    total_votes = fields.Integer(allow_none=True)
    winner = fields.String(allow_none=True, metadata={"description": "practice slug, once closed"})


class CompetitionQuerySchema(PageQuerySchema):
    year = fields.Integer(validate=validate.Range(min=2000, max=2100))


CompetitionPageSchema = page_schema(CompetitionSchema, "CompetitionPage")


class VoteInputSchema(Schema):
    practice = text(120, required=True)
    email = EmailAddress(required=True)


class VoteReceiptSchema(Schema):
    status = fields.String(required=True, metadata={"description": "always `confirmation_sent`: whether this "
                                                                   "address voted before is never revealed"})


class ConfirmationSchema(Schema):
    class Meta:
        unknown = EXCLUDE

    token = fields.String(validate=validate.Length(max=200))


class ConfirmationResultSchema(Schema):
    status = fields.String(required=True, validate=validate.OneOf(["counted", "already_counted"]))
    practice = fields.String(required=True)


class PersonalVoteSchema(Schema):
    """A vote in its voter's data export."""

    competition_id = fields.String(required=True)
    practice = fields.String(required=True)
    email = fields.String(required=True)
    created_at = aware(required=True)
    confirmed_at = aware(allow_none=True)
    counted = fields.Boolean(required=True)
