"""The notify service: transactional mail and mailouts."""
