"""Members endpoints: the public directory, membership applications, staff changes."""
from gateway import limits
from gateway.context import api, forwarder
from nszm.contracts import members as contract

forward = forwarder("members", tag="members")

forward("list_members", "GET /api/v1/members", "The member directory in Czech order", query=contract.MemberQuerySchema,
        response=contract.MemberPageSchema)
forward("stats", "GET /api/v1/members/stats", "Members by type and region, population covered",
        response=contract.StatsSchema, name="member_stats")
forward("get_member", "GET /api/v1/members/<slug>", "One member", response=contract.MemberSchema)
forward("get_member_detail", "GET /api/v1/members/<slug>/detail", "One member with IČO and contacts", role="members",
        response=contract.MemberDetailSchema)
forward("update_member", "PATCH /api/v1/members/<slug>", "Change a member's details", role="members",
        body=contract.MemberUpdateSchema, response=contract.MemberDetailSchema, errors=(409,))
forward("leave", "POST /api/v1/members/<slug>/leave", "Record that a member left", role="members",
        body=contract.LeaveSchema, body_required=False, response=contract.MemberDetailSchema, errors=(409,))
forward("apply", "POST /api/v1/membership-applications", "Apply for membership", body=contract.ApplicationInputSchema,
        response=contract.ApplicationReceiptSchema, status=201, errors=(409,), limits=limits.APPLICATIONS)
forward("list_applications", "GET /api/v1/membership-applications", "Membership applications", role="members",
        query=contract.ApplicationQuerySchema, response=contract.ApplicationPageSchema)
forward("get_application", "GET /api/v1/membership-applications/<application_id>", "One application", role="members",
        response=contract.ApplicationSchema)
forward("approve_application", "POST /api/v1/membership-applications/<application_id>/approve",
        "Approve an application", role="members", body=contract.ApprovalSchema, body_required=False,
        response=contract.MemberDetailSchema, errors=(409,))
forward("reject_application", "POST /api/v1/membership-applications/<application_id>/reject", "Reject an application",
        role="members", body=contract.RejectionSchema, response=contract.ApplicationSchema, errors=(409,))


@api.route("/api/v1/member-types", summary="Member type codes with Czech names", tag="members",
           response=contract.MemberTypeSchema(many=True))
def member_types():
    return [{"code": code, "name": name} for code, name in contract.MEMBER_TYPES.items()]


@api.route("/api/v1/regions", summary="The 14 Czech regions", tag="members",
           response=contract.RegionSchema(many=True))
def regions():
    return [{"name": name} for name in contract.REGIONS]
