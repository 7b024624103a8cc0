"""Mail endpoints for staff: what was sent, what waits, what failed, and sending a failed mail again."""
from gateway.context import api, services
from nszm.contracts import notify as contract


@api.route("/api/v1/mails", summary="Mail the platform sent or is sending, newest first", tag="mail",
           role="mailouts", query=contract.MailQuerySchema, response=contract.MailPageSchema)
def list_mails(query):
    return services().notify.list_mails(query)


@api.route("/api/v1/mails/<mail_id>/retry", "POST", summary="Send a failed mail again", tag="mail",
           role="mailouts", response=contract.MailSchema, errors=(409,))
def retry_mail(mail_id):
    return services().notify.retry_mail(mail_id)
