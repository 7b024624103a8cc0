"""Mail endpoints: the mail queue and mailouts for staff; the newsletter and unsubscribing for everyone."""
from gateway import delivery_log, limits
from gateway.context import api, forwarder, services
from gateway.pages import button_page, link_action
from nszm.contracts import notify as contract
from nszm.contracts import webhooks

mail = forwarder("notify", tag="mail")
mailouts = forwarder("notify", tag="mailouts")
newsletter = forwarder("notify", tag="newsletter")
hooks = forwarder("notify", tag="webhooks")

mail("list_mails", "GET /api/v1/mails", "Mail the platform sent or is sending, newest first", role="mailouts",
     query=contract.MailQuerySchema, response=contract.MailPageSchema)
mail("retry_mail", "POST /api/v1/mails/<mail_id>/retry", "Send a failed mail again", role="mailouts",
     response=contract.MailSchema, errors=(409,))


# -- mailouts (staff) ------------------------------------------------------------------------

mailouts("create_mailout", "POST /api/v1/mailouts", "A draft mailout to an audience; answers its recipient count",
         role="mailouts", body=contract.MailoutInputSchema, response=contract.MailoutSchema, status=201,
         errors=(409,))
mailouts("list_mailouts", "GET /api/v1/mailouts", "Mailouts, newest first", role="mailouts",
         query=contract.MailoutQuerySchema, response=contract.MailoutPageSchema)
mailouts("audience_count", "POST /api/v1/mailouts/audience-count", "How many would get a mailout to this audience",
         role="mailouts", body=contract.AudienceSchema, response=contract.AudienceCountSchema)
mailouts("get_mailout", "GET /api/v1/mailouts/<mailout_id>", "A mailout and its progress", role="mailouts",
         response=contract.MailoutSchema)
mailouts("update_mailout", "PUT /api/v1/mailouts/<mailout_id>", "Change a draft", role="mailouts",
         body=contract.MailoutInputSchema, response=contract.MailoutSchema, errors=(409,))
mailouts("list_recipients", "GET /api/v1/mailouts/<mailout_id>/recipients", "The delivery log: each recipient's "
         "state (queued, sent, bounced, failed, skipped with its reason)", role="mailouts",
         query=contract.RecipientQuerySchema, response=contract.RecipientPageSchema)
mailouts("preview", "GET /api/v1/mailouts/<mailout_id>/preview", "The message as one recipient will get it",
         role="mailouts", query=contract.PreviewQuerySchema, response=contract.PreviewSchema, name="preview_mailout")
mailouts("test_send", "POST /api/v1/mailouts/<mailout_id>/test", "Send one copy to a staff address", role="mailouts",
         body=contract.TestSendSchema, response=contract.MailSchema, status=202, name="test_mailout")
mailouts("send_mailout", "POST /api/v1/mailouts/<mailout_id>/send", "Send now, or at `at`; only once", role="mailouts",
         body=contract.SendSchema, body_required=False, response=contract.MailoutSchema, status=202, errors=(409,))


for action, summary in [("pause", "Pause sending; nothing more goes out until resumed"),
                        ("resume", "Go on sending a paused mailout"),
                        ("cancel", "Stop for good; recipients not reached yet get nothing")]:
    mailouts(f"{action}_mailout", f"POST /api/v1/mailouts/<mailout_id>/{action}", summary, role="mailouts",
             response=contract.MailoutSchema, errors=(409,))

mailouts("retry_failed", "POST /api/v1/mailouts/<mailout_id>/retry-failed", "Send again to the recipients whose "
         "messages failed, and to nobody else", role="mailouts", response=contract.MailoutSchema, status=202,
         errors=(409,))


@api.route("/api/v1/mailouts/<mailout_id>/recipients.csv", summary="The delivery log as CSV (UTF-8, semicolons)",
           tag="mailouts", role="mailouts", media_type="text/csv")
def delivery_log_csv(mailout_id):
    return delivery_log.export(mailout_id)


# -- newsletter and unsubscribing (public) ----------------------------------------------------

newsletter("subscribe", "POST /api/v1/newsletter/subscriptions", "Subscribe; a confirmation link is mailed",
           body=contract.SubscriptionInputSchema, response=contract.SubscriptionReceiptSchema, status=202,
           limits=limits.SUBSCRIPTIONS)


@api.route("/api/v1/newsletter/confirm", summary="The page behind a subscription link: a button, no change",
           tag="newsletter", query=contract.LinkTokenQuerySchema, media_type="text/html", cache=False)
def confirm_subscription_page(query):
    return button_page("confirm_subscription.html")


@api.route("/api/v1/newsletter/confirm", "POST", summary="Confirm a subscription with the mailed token",
           tag="newsletter", query=contract.LinkTokenQuerySchema, response=contract.SubscriptionResultSchema,
           errors=(404, 409))
def confirm_subscription(query):
    return link_action(lambda: services().notify.confirm_subscription(query.get("token") or ""),
                       "Odběr nelze potvrdit",
                       lambda _: ("Odběr je potvrzen", "Děkujeme, zpravodaj Vám budeme posílat."))


@api.route("/api/v1/unsubscribe", summary="The page behind an unsubscribe link: a button, no change",
           tag="newsletter", query=contract.LinkTokenQuerySchema, media_type="text/html", cache=False)
def unsubscribe_page(query):
    return button_page("unsubscribe.html")


@api.route("/api/v1/unsubscribe", "POST", summary="Unsubscribe from all bulk mail (RFC 8058 one-click too)",
           tag="newsletter", query=contract.LinkTokenQuerySchema, response=contract.UnsubscribeResultSchema,
           errors=(404,))
def unsubscribe(query):
    return link_action(lambda: services().notify.unsubscribe(query.get("token") or ""), "Odhlášení se nepodařilo",
                       lambda _: ("Jste odhlášeni", "Hromadné e-maily Vám už posílat nebudeme. Potvrzení "
                                  "registrací a hlasování Vám ale přijdou dál."))


# -- the suppression list and bounces --------------------------------------------------------

mailouts("list_suppressions", "GET /api/v1/suppressions", "The suppression list, newest first: addresses that get "
         "no bulk mail (and, if undeliverable, no other mail they did not ask for)", role="mailouts",
         query=contract.SuppressionQuerySchema, response=contract.SuppressionPageSchema)
mailouts("lift_suppression", "POST /api/v1/suppressions/lift", "Take an address off the list (audited)",
         role="mailouts", body=contract.LiftSchema, response=contract.SuppressionSchema, errors=(409,))
mail("take_bounce", "POST /api/v1/bounces", "A bounce or complaint from a mail provider: the message that came "
     "back, or what the provider says of it", role="bounces", basic_auth=True, body=contract.BounceInputSchema,
     response=contract.BounceOutcomeSchema)
mail("take_bounce", "POST /api/v1/bounces/message", "A bounce or complaint as it came back (a mail server's pipe "
     "to the platform)", role="bounces", basic_auth=True, raw="message/rfc822", response=contract.BounceOutcomeSchema,
     name="take_bounce_message")


# -- webhooks (admin) ------------------------------------------------------------------------

hooks("create_webhook", "POST /api/v1/webhooks", "Send the chosen events to a URL, signed (Standard Webhooks); "
      "the answer shows the secret once", role="admin", body=webhooks.WebhookInputSchema,
      response=webhooks.WebhookCreatedSchema, status=201)
hooks("list_webhooks", "GET /api/v1/webhooks", "Webhook endpoints", role="admin", query=webhooks.WebhookQuerySchema,
      response=webhooks.WebhookPageSchema)
hooks("delete_webhook", "DELETE /api/v1/webhooks/<webhook_id>", "Stop sending to an endpoint; its log goes too",
      role="admin", status=204)
hooks("enable_webhook", "POST /api/v1/webhooks/<webhook_id>/enable", "Turn on an endpoint disabled after a day "
      "of failures", role="admin", response=webhooks.WebhookSchema)
hooks("list_deliveries", "GET /api/v1/webhooks/<webhook_id>/deliveries", "The endpoint's deliveries, newest first: "
      "status, tries, the last answer", role="admin", query=webhooks.DeliveryQuerySchema,
      response=webhooks.DeliveryPageSchema)
