"""E-mail addresses as the platform compares them."""


def email_key(email: str) -> str:
    """One key per mailbox as people type it: surrounding spaces and case do not matter."""
    return email.strip().casefold()


GMAIL_DOMAINS = ("gmail.com", "googlemail.com")


def canonical_mailbox(email: str) -> str:
    """One key per person behind the aliases a mailbox accepts: case, a `+tag` after the local
    part, and for Gmail the dots in it and googlemail.com (`Jana.Novak+nejpraxe@googlemail.com`
    is `jananovak@gmail.com`)."""
    local, _, domain = email_key(email).rpartition("@")
    local = local.split("+", 1)[0] or local
    if domain in GMAIL_DOMAINS:
        local, domain = local.replace(".", ""), GMAIL_DOMAINS[0]
    return f"{local}@{domain}"
