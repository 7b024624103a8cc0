"""Events endpoints: the calendar, registrations, cancel links, check-in, certificates, events.ics."""
from flask import Response

from gateway import accreditation, audit, limits
from gateway.certificates import certificate_pdf
from gateway.context import api, every_item, forwarder, public_url, services
from gateway.pages import button_page, link_action
from nszm.contracts import events as contract

forward = forwarder("events", tag="events")

forward("list_events", "GET /api/v1/events", "Upcoming events (or those in ?from=&to=)",
        query=contract.EventQuerySchema, response=contract.EventPageSchema)
forward("get_event", "GET /api/v1/events/<event_id>", "One published event with free seats",
        response=contract.EventSchema)


@api.route("/api/v1/events/<event_id>/registration-schema", summary="The JSON Schema of a registration for this "
           "event, with the answers its questions ask for", tag="events", media_type="application/schema+json",
           response=contract.RegistrationFormSchema)
def registration_schema(event_id):
    return contract.registration_json_schema(services().events.get_event(event_id))


forward("get_event_detail", "GET /api/v1/events/<event_id>/detail", "One event as staff see it (drafts too)",
        role="events", response=contract.EventDetailSchema)
forward("create_event", "POST /api/v1/events", "Create an event with its sessions (a draft)", role="events",
        body=contract.EventInputSchema, response=contract.EventDetailSchema, status=201)
forward("publish_event", "POST /api/v1/events/<event_id>/publish", "Publish an event", role="events",
        response=contract.EventDetailSchema, errors=(409,))
forward("register", "POST /api/v1/events/<event_id>/registrations", "Register for sessions of an event",
        body=contract.RegistrationInputSchema, response=contract.RegistrationReceiptSchema, status=201, errors=(409,),
        limits=limits.REGISTRATIONS)
forward("list_registrations", "GET /api/v1/events/<event_id>/registrations", "Registrations for an event",
        role="events", query=contract.RegistrationQuerySchema, response=contract.RegistrationPageSchema)
forward("get_registration", "GET /api/v1/registrations/<registration_id>", "One registration", role="events",
        response=contract.RegistrationSchema)


@api.route("/api/v1/registrations/<registration_id>/cancel", summary="The page behind a cancel link: "
           "a button, no change", tag="events", query=contract.LinkTokenSchema, media_type="text/html",
           cache=False)
def cancel_page(registration_id, query):
    return button_page("cancel.html")


@api.route("/api/v1/registrations/<registration_id>/cancel", "POST",
           summary="Cancel a registration: with the link's token (until the deadline), or as staff", tag="events",
           role="events", link_token=True, query=contract.LinkTokenSchema, response=contract.RegistrationSchema,
           errors=(409,))
def cancel_registration(registration_id, query):
    token = query.get("token")
    return link_action(
        lambda: (services().events.cancel_registration(registration_id, token) if token
                 else services().events.cancel_registration_as_staff(registration_id)),
        "Registraci nelze zrušit",
        lambda _: ("Registrace je zrušena", "Děkujeme, že jste dali vědět. Potvrzení vám přijde e-mailem."))
forward("check_in", "POST /api/v1/registrations/<registration_id>/check-in", "Record attendance at sessions "
        "at once (default: every one with a seat)", role="events",
        body=contract.CheckInSchema, body_required=False, response=contract.RegistrationSchema, errors=(409,))
SESSION = "/api/v1/events/<event_id>/sessions/<session_id>"
forward("check_in_at_session", f"POST {SESSION}/check-in", "Check a participant in to a session by the code "
        "scanned or typed (a repeated scan changes nothing and says so)", role="events", body=contract.ScanSchema,
        response=contract.ScanResultSchema, errors=(409,))
forward("check_out_at_session", f"POST {SESSION}/check-out", "Check a participant out of a session",
        role="events", body=contract.ScanSchema, response=contract.ScanResultSchema, errors=(409,))
forward("session_attendees", f"GET {SESSION}/attendees", "The people of a session and their attendance; "
        "`?q=` finds them by name", role="events", query=contract.AttendeeQuerySchema,
        response=contract.AttendeePageSchema)


@api.route("/api/v1/registrations/<registration_id>/certificate.pdf", summary="Certificate of attendance "
           "(with the registration link's token, or as staff)", tag="events", role="events", link_token=True,
           query=contract.LinkTokenSchema, media_type="application/pdf", errors=(409,), cache=False)
def certificate(registration_id, query):
    token = query.get("token")
    events = services().events
    data = events.certificate(registration_id, token) if token else events.certificate_as_staff(registration_id)
    pdf = certificate_pdf(data, f"{public_url()}/api/v1/certificates/{data['certificate_id']}"
                                f"?code={data['verification_code']}")
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="osvedceni-{data["certificate_id"]}.pdf"'
    return response


forward("verify_certificate", "GET /api/v1/certificates/<certificate_id>", "Verify a certificate: its number "
        "and the code printed on it (`?code=`); the number alone finds nothing",
        query=contract.CertificateCheckQuerySchema, response=contract.CertificateCheckSchema)


# -- the accreditation pack -------------------------------------------------------------------------

forward("certificate_register", "GET /api/v1/events/<event_id>/certificates", "The register of the certificates "
        "issued for the event", role="events", response=contract.IssuedCertificateSchema(many=True))


@api.route("/api/v1/events/<event_id>/certificates.xlsx", summary="The register of certificates issued, as a "
           "workbook", tag="events", role="events", media_type=accreditation.XLSX)
def certificate_register_workbook(event_id):
    entries = services().events.certificate_register(event_id)
    audit.record("export_certificate_register", event_id)
    return accreditation.download(accreditation.register_workbook(entries), f"osvedceni-{event_id}.xlsx")


@api.route("/api/v1/events/<event_id>/attendance.xlsx", summary="Attendance of the event: a sheet per session",
           tag="events", role="events", media_type=accreditation.XLSX)
def attendance_workbook(event_id):
    events = services().events
    event = events.get_event_detail(event_id)
    workbook = accreditation.attendance_workbook(event, accreditation.session_people(events, event))
    audit.record("export_attendance", event_id)
    return accreditation.download(workbook, f"prezence-{event_id}.xlsx")


@api.route(f"{SESSION}/sign-in-sheet.pdf", summary="The printable sign-in sheet of a session, with a signature "
           "column", tag="events", role="events", media_type="application/pdf", errors=(404,))
def sign_in_sheet(event_id, session_id):
    events = services().events
    event = events.get_event_detail(event_id)
    session = accreditation.session_of(event, session_id)
    people = every_item(lambda query: events.session_attendees(event_id, session_id, query))
    audit.record("export_sign_in_sheet", f"{event_id}/{session_id}")
    return accreditation.download(accreditation.sign_in_sheet(event, session, people),
                                  f"prezencni-listina-{event_id}-{session_id}.pdf")
