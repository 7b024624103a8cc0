"""E-mail addresses as the platform compares them."""


def email_key(email: str) -> str:
    """One key per mailbox as people type it: surrounding spaces and case do not matter."""
    return email.strip().casefold()
