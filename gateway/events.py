"""Events endpoints: the calendar, registrations, cancel links, check-in, certificates, events.ics."""
from flask import Response

from gateway.certificates import certificate_pdf
from gateway.context import api, public_url, services
from gateway.pages import button_page, link_action
from nszm.contracts import events as contract


@api.route("/api/v1/events", summary="Upcoming events (or those in ?from=&to=)", tag="events",
           query=contract.EventQuerySchema, response=contract.EventPageSchema)
def list_events(query):
    return services().events.list_events(query)


@api.route("/api/v1/events/<event_id>", summary="One published event with free seats", tag="events",
           response=contract.EventSchema)
def get_event(event_id):
    return services().events.get_event(event_id)


@api.route("/api/v1/events/<event_id>/detail", summary="One event as staff see it (drafts too)", tag="events",
           role="events", response=contract.EventDetailSchema)
def get_event_detail(event_id):
    return services().events.get_event_detail(event_id)


@api.route("/api/v1/events", "POST", summary="Create an event with its sessions (a draft)", tag="events",
           role="events", body=contract.EventInputSchema, response=contract.EventDetailSchema, status=201)
def create_event(body):
    return services().events.create_event(body)


@api.route("/api/v1/events/<event_id>/publish", "POST", summary="Publish an event", tag="events", role="events",
           response=contract.EventDetailSchema, errors=(409,))
def publish_event(event_id):
    return services().events.publish_event(event_id)


@api.route("/api/v1/events/<event_id>/registrations", "POST", summary="Register for sessions of an event",
           tag="events", body=contract.RegistrationInputSchema, response=contract.RegistrationReceiptSchema,
           status=201, errors=(409,))
def register(event_id, body):
    return services().events.register(event_id, body)


@api.route("/api/v1/events/<event_id>/registrations", summary="Registrations for an event", tag="events",
           role="events", query=contract.RegistrationQuerySchema, response=contract.RegistrationPageSchema)
def list_registrations(event_id, query):
    return services().events.list_registrations(event_id, query)


@api.route("/api/v1/registrations/<registration_id>", summary="One registration", tag="events", role="events",
           response=contract.RegistrationSchema)
def get_registration(registration_id):
    return services().events.get_registration(registration_id)


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
        lambda: services().events.cancel_registration(registration_id, token=token, by_staff=not token),
        "Registraci nelze zrušit",
        lambda _: ("Registrace je zrušena", "Děkujeme, že jste dali vědět. Potvrzení vám přijde e-mailem."))


@api.route("/api/v1/registrations/<registration_id>/check-in", "POST", summary="Record attendance",
           tag="events", role="events", body=contract.CheckInSchema, body_required=False,
           response=contract.RegistrationSchema, errors=(409,))
def check_in(registration_id, body):
    return services().events.check_in(registration_id, body)


@api.route("/api/v1/registrations/<registration_id>/certificate.pdf", summary="Certificate of attendance "
           "(with the registration link's token, or as staff)", tag="events", role="events", link_token=True,
           query=contract.LinkTokenSchema, media_type="application/pdf", errors=(409,), cache=False)
def certificate(registration_id, query):
    token = query.get("token")
    data = services().events.certificate(registration_id, token=token, by_staff=not token)
    pdf = certificate_pdf(data, f"{public_url()}/api/v1/certificates/{data['certificate_id']}")
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'inline; filename="osvedceni-{data["certificate_id"]}.pdf"'
    return response


@api.route("/api/v1/certificates/<certificate_id>", summary="Verify a certificate by its number", tag="events",
           response=contract.CertificateSchema)
def verify_certificate(certificate_id):
    return services().events.verify_certificate(certificate_id)
