"""Mail endpoints: the mail queue and mailouts for staff; the newsletter and unsubscribing for everyone."""
from gateway.context import api, services
from gateway.pages import button_page, link_action
from nszm.contracts import notify as contract


@api.route("/api/v1/mails", summary="Mail the platform sent or is sending, newest first", tag="mail",
           role="mailouts", query=contract.MailQuerySchema, response=contract.MailPageSchema)
def list_mails(query):
    return services().notify.list_mails(query)


@api.route("/api/v1/mails/<mail_id>/retry", "POST", summary="Send a failed mail again", tag="mail",
           role="mailouts", response=contract.MailSchema, errors=(409,))
def retry_mail(mail_id):
    return services().notify.retry_mail(mail_id)


# -- mailouts (staff) ------------------------------------------------------------------------

@api.route("/api/v1/mailouts", "POST", summary="A draft mailout to an audience; answers its recipient count",
           tag="mailouts", role="mailouts", body=contract.MailoutInputSchema, response=contract.MailoutSchema,
           status=201)
def create_mailout(body):
    return services().notify.create_mailout(body)


@api.route("/api/v1/mailouts", summary="Mailouts, newest first", tag="mailouts", role="mailouts",
           query=contract.MailoutQuerySchema, response=contract.MailoutPageSchema)
def list_mailouts(query):
    return services().notify.list_mailouts(query)


@api.route("/api/v1/mailouts/audience-count", "POST", summary="How many would get a mailout to this audience",
           tag="mailouts", role="mailouts", body=contract.AudienceSchema, response=contract.AudienceCountSchema)
def audience_count(body):
    return services().notify.audience_count(body)


@api.route("/api/v1/mailouts/<mailout_id>", summary="A mailout and its progress", tag="mailouts",
           role="mailouts", response=contract.MailoutSchema)
def get_mailout(mailout_id):
    return services().notify.get_mailout(mailout_id)


@api.route("/api/v1/mailouts/<mailout_id>", "PUT", summary="Change a draft", tag="mailouts", role="mailouts",
           body=contract.MailoutInputSchema, response=contract.MailoutSchema, errors=(409,))
def update_mailout(mailout_id, body):
    return services().notify.update_mailout(mailout_id, body)


@api.route("/api/v1/mailouts/<mailout_id>/recipients", summary="Each recipient's state", tag="mailouts",
           role="mailouts", query=contract.RecipientQuerySchema, response=contract.RecipientPageSchema)
def list_recipients(mailout_id, query):
    return services().notify.list_recipients(mailout_id, query)


@api.route("/api/v1/mailouts/<mailout_id>/preview", summary="The message as one recipient will get it",
           tag="mailouts", role="mailouts", query=contract.PreviewQuerySchema, response=contract.PreviewSchema)
def preview_mailout(mailout_id, query):
    return services().notify.preview(mailout_id, query)


@api.route("/api/v1/mailouts/<mailout_id>/test", "POST", summary="Send one copy to a staff address",
           tag="mailouts", role="mailouts", body=contract.TestSendSchema, response=contract.MailSchema, status=202)
def test_mailout(mailout_id, body):
    return services().notify.test_send(mailout_id, body)


@api.route("/api/v1/mailouts/<mailout_id>/send", "POST", summary="Send now, or at `at`; only once",
           tag="mailouts", role="mailouts", body=contract.SendSchema, body_required=False,
           response=contract.MailoutSchema, status=202, errors=(409,))
def send_mailout(mailout_id, body):
    return services().notify.send_mailout(mailout_id, body)


def _mailout_action(name: str, summary: str):
    def action(mailout_id):
        return getattr(services().notify, f"{name}_mailout")(mailout_id)

    action.__name__ = f"{name}_mailout"
    api.route(f"/api/v1/mailouts/<mailout_id>/{name}", "POST", summary=summary, tag="mailouts", role="mailouts",
              response=contract.MailoutSchema, errors=(409,))(action)


_mailout_action("pause", "Pause sending; nothing more goes out until resumed")
_mailout_action("resume", "Go on sending a paused mailout")
_mailout_action("cancel", "Stop for good; recipients not reached yet get nothing")


# -- newsletter and unsubscribing (public) ----------------------------------------------------

@api.route("/api/v1/newsletter/subscriptions", "POST", summary="Subscribe; a confirmation link is mailed",
           tag="newsletter", body=contract.SubscriptionInputSchema, response=contract.SubscriptionReceiptSchema,
           status=202)
def subscribe(body):
    return services().notify.subscribe(body)


@api.route("/api/v1/newsletter/confirm", summary="The page behind a subscription link: a button, no change",
           tag="newsletter", query=contract.LinkTokenQuerySchema, media_type="text/html", cache=False)
def confirm_subscription_page(query):
    return button_page("confirm_subscription.html")


@api.route("/api/v1/newsletter/confirm", "POST", summary="Confirm a subscription with the mailed token",
           tag="newsletter", query=contract.LinkTokenQuerySchema, response=contract.SubscriptionResultSchema,
           errors=(409,))
def confirm_subscription(query):
    return link_action(lambda: services().notify.confirm_subscription(query.get("token") or ""),
                       "Odběr nelze potvrdit",
                       lambda _: ("Odběr je potvrzen", "Děkujeme, zpravodaj Vám budeme posílat."))


@api.route("/api/v1/unsubscribe", summary="The page behind an unsubscribe link: a button, no change",
           tag="newsletter", query=contract.LinkTokenQuerySchema, media_type="text/html", cache=False)
def unsubscribe_page(query):
    return button_page("unsubscribe.html")


@api.route("/api/v1/unsubscribe", "POST", summary="Unsubscribe from all bulk mail (RFC 8058 one-click too)",
           tag="newsletter", query=contract.LinkTokenQuerySchema, response=contract.UnsubscribeResultSchema)
def unsubscribe(query):
    return link_action(lambda: services().notify.unsubscribe(query.get("token") or ""), "Odhlášení se nepodařilo",
                       lambda _: ("Jste odhlášeni", "Hromadné e-maily Vám už posílat nebudeme. Potvrzení "
                                  "registrací a hlasování Vám ale přijdou dál."))
