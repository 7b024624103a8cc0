"""Shared code of the NSZM platform: configuration, bus contracts, Czech text rules, storage base."""
