"""Shared code of the NSZM platform: configuration, bus contracts, Czech text rules, storage base."""
import sys

# The platform speaks AMQP through py-amqp only. kombu looks for the optional librabbitmq
# extension in every `Connection()`, and nameko makes one for every message it publishes: an
# import that fails anew each time (a search of sys.path). Marked absent, it fails at once.
sys.modules.setdefault("librabbitmq", None)
