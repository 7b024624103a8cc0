"""The platform's nameko services."""
