"""The events service's boundary schemas: the contract's shapes, re-exported for the service."""
from nszm.contracts.events import (  # noqa: F401
    CertificateSchema,
    CheckInSchema,
    EventDetailPageSchema,
    EventDetailQuerySchema,
    EventDetailSchema,
    EventInputSchema,
    EventPageSchema,
    EventQuerySchema,
    EventSchema,
    LinkTokenSchema,
    RegistrationInputSchema,
    RegistrationPageSchema,
    RegistrationQuerySchema,
    RegistrationReceiptSchema,
    RegistrationSchema,
)
