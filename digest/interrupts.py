"""Holding Ctrl-C (and SIGTERM, which the scheduler turns into it) across a step that
must not be cut in half: a message in flight, a build being written."""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def hold_interrupts() -> Iterator[None]:
    """SIGINT waits until the block is done, then stops the run.

    Only the main thread can own signal handlers; elsewhere (a scheduler's worker) this
    does nothing, and the caller's own rule covers the window (the send log's "in doubt").
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, frame: caught.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt
