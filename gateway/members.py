"""Members endpoints: the public directory, membership applications, staff changes."""
from gateway.context import api, services
from nszm.contracts import members as contract


@api.route("/api/v1/members", summary="The member directory in Czech order", tag="members",
           query=contract.MemberQuerySchema, response=contract.MemberPageSchema)
def list_members(query):
    return services().members.list_members(query)


@api.route("/api/v1/members/stats", summary="Members by type and region, population covered", tag="members",
           response=contract.StatsSchema)
def member_stats():
    return services().members.stats()


@api.route("/api/v1/members/<slug>", summary="One member", tag="members", response=contract.MemberSchema)
def get_member(slug):
    return services().members.get_member(slug)


@api.route("/api/v1/members/<slug>/detail", summary="One member with IČO and contacts", tag="members",
           role="members", response=contract.MemberDetailSchema)
def get_member_detail(slug):
    return services().members.get_member_detail(slug)


@api.route("/api/v1/members/<slug>", "PATCH", summary="Change a member's details", tag="members",
           role="members", body=contract.MemberUpdateSchema, response=contract.MemberDetailSchema, errors=(409,))
def update_member(slug, body):
    return services().members.update_member(slug, body)


@api.route("/api/v1/members/<slug>/leave", "POST", summary="Record that a member left", tag="members",
           role="members", body=contract.LeaveSchema, body_required=False, response=contract.MemberDetailSchema,
           errors=(409,))
def leave(slug, body):
    return services().members.leave(slug, body)


@api.route("/api/v1/membership-applications", "POST", summary="Apply for membership", tag="members",
           body=contract.ApplicationInputSchema, response=contract.ApplicationReceiptSchema, status=201,
           errors=(409,))
def apply(body):
    return services().members.apply(body)


@api.route("/api/v1/membership-applications", summary="Membership applications", tag="members",
           role="members", query=contract.ApplicationQuerySchema, response=contract.ApplicationPageSchema)
def list_applications(query):
    return services().members.list_applications(query)


@api.route("/api/v1/membership-applications/<application_id>", summary="One application", tag="members",
           role="members", response=contract.ApplicationSchema)
def get_application(application_id):
    return services().members.get_application(application_id)


@api.route("/api/v1/membership-applications/<application_id>/approve", "POST", summary="Approve an application",
           tag="members", role="members", body=contract.ApprovalSchema, body_required=False,
           response=contract.MemberDetailSchema, errors=(409,))
def approve_application(application_id, body):
    return services().members.approve_application(application_id, body)


@api.route("/api/v1/membership-applications/<application_id>/reject", "POST", summary="Reject an application",
           tag="members", role="members", body=contract.RejectionSchema, response=contract.ApplicationSchema,
           errors=(409,))
def reject_application(application_id, body):
    return services().members.reject_application(application_id, body)


@api.route("/api/v1/member-types", summary="Member type codes with Czech names", tag="members",
           response=contract.MemberTypeSchema(many=True))
def member_types():
    return [{"code": code, "name": name} for code, name in contract.MEMBER_TYPES.items()]


@api.route("/api/v1/regions", summary="The 14 Czech regions", tag="members",
           response=contract.RegionSchema(many=True))
def regions():
    return [{"name": name} for name in contract.REGIONS]
