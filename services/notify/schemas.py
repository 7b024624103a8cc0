"""The notify service's boundary schemas: the contract's shapes, re-exported for the service, and
the rows of an imported list."""
from nszm.contracts.common import EmailAddress, text
from nszm.contracts.notify import (  # noqa: F401
    AddressListSchema,
    AudienceCountSchema,
    AudienceSchema,
    BounceInputSchema,
    BounceOutcomeSchema,
    BounceSchema,
    LiftSchema,
    MailoutInputSchema,
    MailoutPageSchema,
    MailoutQuerySchema,
    MailoutSchema,
    MailPageSchema,
    MailQuerySchema,
    MailSchema,
    PersonalMailoutSchema,
    PersonalMailSchema,
    PersonalSubscriptionSchema,
    PreviewQuerySchema,
    PreviewSchema,
    RecipientPageSchema,
    RecipientQuerySchema,
    SendSchema,
    SubscriptionInputSchema,
    SubscriptionReceiptSchema,
    SubscriptionResultSchema,
    SuppressionPageSchema,
    SuppressionQuerySchema,
    SuppressionSchema,
    TestSendSchema,
    UnsubscribeResultSchema,
)
from nszm.contracts.privacy import ErasureSchema, PersonQuerySchema  # noqa: F401, E402
from nszm.contracts.webhooks import (  # noqa: F401, E402
    DeliveryPageSchema,
    DeliveryQuerySchema,
    WebhookCreatedSchema,
    WebhookInputSchema,
    WebhookPageSchema,
    WebhookQuerySchema,
    WebhookSchema,
)
from nszm.imports import CellDate, ImportRowBase  # noqa: E402


class SubscriberImportRowSchema(ImportRowBase):
    """A row of an imported list: an address, a name, and when consent was given, if the list records it."""

    email = EmailAddress(required=True)
    name = text(200)
    consent_at = CellDate(metadata={"description": "the day the person consented; none: ask them by mail"})
