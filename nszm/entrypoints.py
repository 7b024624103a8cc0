"""The RPC entrypoints every service uses: platform errors are expected, not crashes.

`staff_rpc` marks a staff action: the caller must say who does it (the `actor` in the call's
context, which the gateway sets from the staff token); a call without one is refused before
any work starts, and the unit of work writes the actor, the action and its target to the
service's audit log in the same transaction as the change.
"""
import sys

from nameko.rpc import Rpc
from nameko.rpc import rpc as nameko_rpc

from nszm.contracts.errors import PlatformError, StaffOnly

ACTOR = "actor"  # context data keys, sent as `nameko.actor` and `nameko.actor_token` headers
ACTOR_TOKEN = "actor_token"

rpc = nameko_rpc(expected_exceptions=PlatformError)


class StaffRpc(Rpc):
    def handle_message(self, body, message):
        actor = self.unpack_message_headers(message).get(ACTOR)
        if not isinstance(actor, str) or not actor.strip():
            try:
                raise StaffOnly(f"'{self.method_name}' is a staff action: the call must name its actor.")
            except StaffOnly:
                self.handle_result(message, None, None, sys.exc_info())
            return
        super().handle_message(body, message)

    def handle_result(self, message, worker_ctx, result, exc_info):
        """Before the caller hears back, the dependencies that keep a record of staff actions
        (the audit trail) complete it."""
        for dependency in self.container.dependencies if worker_ctx is not None else ():
            finished = getattr(dependency, "staff_call_finished", None)
            if finished is not None:
                finished(worker_ctx, result, exc_info)
        return super().handle_result(message, worker_ctx, result, exc_info)


staff_rpc = StaffRpc.decorator(expected_exceptions=PlatformError)


def staff_context(actor: str, token_id: str | None = None) -> dict:
    """The context data of calls made for the staff member `actor` (e.g. `ServiceRpcProxy(...,
    context_data=staff_context("Jana"))` in an operations script)."""
    return {ACTOR: actor, **({ACTOR_TOKEN: token_id} if token_id else {})}
