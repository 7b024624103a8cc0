"""Webhooks: the platform's public events POSTed, signed, to endpoints staff registered."""
