"""`make run` stops on the first SIGINT or SIGTERM, and a second one (another Ctrl-C, or the
SIGTERM it gets when `make` exits first) does not interrupt the stopping."""
import os
import signal

import pytest

from ops import run


@pytest.fixture
def stop_handlers():
    saved = {sig: signal.getsignal(sig) for sig in run.STOP_SIGNALS}
    run.stop_on_signals()
    yield
    for sig, handler in saved.items():
        signal.signal(sig, handler)


@pytest.mark.parametrize("first, second", [(signal.SIGTERM, signal.SIGTERM), (signal.SIGINT, signal.SIGTERM),
                                           (signal.SIGTERM, signal.SIGINT)])
def test_the_first_signal_stops_and_the_next_does_not_interrupt_the_stopping(stop_handlers, first, second):
    stopped_cleanly = False
    with pytest.raises(run.StopRequested):
        os.kill(os.getpid(), first)
    try:
        os.kill(os.getpid(), second)  # raised here, it would skip the rest of the clean-up
        stopped_cleanly = True
    finally:
        assert stopped_cleanly
