"""The members service's boundary schemas: the contract's shapes plus the domain's checks."""
from typing import Mapping, Sequence

from marshmallow import ValidationError, fields, pre_load, validate, validates, validates_schema

from nszm import czech
from nszm.contracts.common import EmailAddress, text, web_url
from nszm.contracts.members import (  # noqa: F401  (re-exported for the service)
    CONTACT_ROLES,
    MEMBER_TYPES,
    REGIONS,
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
from nszm.imports import CellDate, CellInteger, ImportRowBase
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


def _by_folded_name(*spellings: Mapping[str, Sequence[str]]) -> dict[str, str]:
    """Each code by its folded spellings (the code itself among them)."""
    return {czech.fold(name): code for names in spellings for code, spelled in names.items()
            for name in (code, *spelled)}


# What people write in a sheet for a type, a region, a role: the code, or its Czech name.
TYPE_NAMES = _by_folded_name({code: (name, *name.split(" / ")) for code, name in MEMBER_TYPES.items()},
                             {"mas": ("MAS",), "city_district": ("MČ", "městský obvod")})
REGION_NAMES = _by_folded_name({region: (region.removesuffix(" kraj"), region.removeprefix("Kraj "))
                                for region in REGIONS}, {"Hlavní město Praha": ("Praha", "HMP")})
ROLE_NAMES = _by_folded_name({
    "coordinator": ("koordinátor", "koordinátorka", "koordinátor/ka", CONTACT_ROLES["coordinator"]),
    "politician": ("politik", "politička", "odpovědný politik", CONTACT_ROLES["politician"]),
    "other": ("další", "jiný", "jiná", "ostatní", CONTACT_ROLES["other"])})


def _named(value, names: dict[str, str]):
    return names.get(czech.fold(value), value) if isinstance(value, str) else value


class MemberImportRowSchema(ImportRowBase):
    """A row of a members' import: the member (by IČO) and, optionally, one of its contacts."""

    ico = fields.String(required=True)
    name = text(200)
    type = fields.String(validate=validate.OneOf(list(MEMBER_TYPES)))
    region = fields.String(validate=validate.OneOf(REGIONS))
    population = CellInteger(validate=validate.Range(min=1, max=20_000_000))
    website = web_url(300)
    member_since = CellDate()
    contact_name = text(200)
    contact_email = EmailAddress()
    contact_phone = text(40)
    contact_role = fields.String(validate=validate.OneOf(list(CONTACT_ROLES)))
    contact_function = text(120)

    @pre_load
    def read_cells(self, data, **kwargs):
        if not isinstance(data, dict):
            return data
        data = dict(data)
        ico = data.get("ico")
        if isinstance(ico, (int, float)) and not isinstance(ico, bool) and float(ico).is_integer():
            ico = str(int(ico)).zfill(8)  # a number cell drops the IČO's leading zeros
        if isinstance(ico, str):
            ico = domain.normalise_ico(ico)
            ico = ico.zfill(8) if ico.isdigit() and len(ico) < 8 else ico
        if ico is not None:
            data["ico"] = ico
        for key, names in (("type", TYPE_NAMES), ("region", REGION_NAMES), ("contact_role", ROLE_NAMES)):
            if key in data:
                data[key] = _named(data[key], names)
        website = data.get("website")
        if isinstance(website, str) and "://" not in website:
            data["website"] = f"https://{website}"
        return data

    @validates("ico")
    def check_ico(self, value, **kwargs):
        if not domain.is_valid_ico(value):
            raise ValidationError("Not a valid IČO: 8 digits with a correct check digit expected.")

    @validates_schema
    def contact_complete(self, data, **kwargs):
        contact = [key for key in ("contact_name", "contact_phone", "contact_role", "contact_function") if key in data]
        if contact and "contact_email" not in data:
            raise ValidationError("A contact needs an e-mail address.", "contact_email")
        if "contact_email" in data and "contact_name" not in data:
            raise ValidationError("A contact needs a name.", "contact_name")
