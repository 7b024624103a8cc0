"""The members service's boundary schemas: the contract's shapes plus the domain's checks."""
from marshmallow import ValidationError, pre_load, validates, validates_schema

from nszm.contracts.members import (  # noqa: F401  (re-exported for the service)
    ApplicationInputSchema,
    ApplicationPageSchema,
    ApplicationQuerySchema,
    ApplicationReceiptSchema,
    ApplicationSchema,
    ApprovalSchema,
    LeaveSchema,
    MemberDetailSchema,
    MemberPageSchema,
    MemberQuerySchema,
    MemberSchema,
    MemberUpdateSchema,
    PersonalContactSchema,
    RejectionSchema,
    StatsSchema,
)
from services.members import domain


class ApplicationLoadSchema(ApplicationInputSchema):
    @pre_load
    def tidy_ico(self, data, **kwargs):
        if isinstance(data, dict) and isinstance(data.get("ico"), str):
            data = {**data, "ico": domain.normalise_ico(data["ico"])}
        return data

    @validates("ico")
    def check_ico(self, value, **kwargs):
        if not domain.is_valid_ico(value):
            raise ValidationError("Not a valid IČO: 8 digits with a correct check digit expected.")


class MemberUpdateLoadSchema(MemberUpdateSchema):
    @validates_schema
    def not_empty(self, data, **kwargs):
        if not data:
            raise ValidationError("Name at least one field to change.")
