"""The events service: events, their sessions and registrations."""
