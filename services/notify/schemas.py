"""The notify service's boundary schemas: the contract's shapes, re-exported for the service."""
from nszm.contracts.notify import MailPageSchema, MailQuerySchema, MailSchema  # noqa: F401
