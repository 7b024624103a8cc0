"""Mailouts: staff-written messages to an audience, sent at a steady rate and resumed after any crash."""
