"""The embedded database server: SecantusDB's own command line, except that a transaction left
open by a client that died inside it is rolled back after TRANSACTION_IDLE_SECONDS, not after
SecantusDB's minute (mongod's `transactionLifetimeLimitSeconds`, which deploy/ sets alike).

Until it is rolled back, such a transaction holds what it wrote: with the events service killed
inside a registration, every registration for that event conflicts with it and is retried, and
for a minute the public got 503s. The platform's transactions take milliseconds; a live one
idle this long is rolled back too and its client retries it whole.

Run as a script (`python ops/secantusd.py --port …`), from any directory.
"""
import functools
import sys

from secantus import cli

TRANSACTION_IDLE_SECONDS = 5.0


def main(argv: list[str] | None = None) -> int:
    cli.SecantusDBServer = functools.partial(cli.SecantusDBServer,
                                             transaction_lifetime_seconds=TRANSACTION_IDLE_SECONDS)
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main())
