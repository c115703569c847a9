"""Heartbeats from a side thread while the main thread does one long step outside `fit`.

Building a model can download ImageNet weights (hundreds of MB for the largest backbones) long
after the lease's grace period; the epoch callbacks only heartbeat once `fit` runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger("trainer.keepalive")


@contextmanager
def heartbeats(beat: Callable[[], object], interval: float = 2.0) -> Iterator[None]:
    """Call `beat` every `interval` seconds until the block ends."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(interval):
            try:
                beat()
            except Exception as error:  # the next beat, or the fenced writes, will tell
                log.warning("heartbeat failed: %s", error)

    thread = threading.Thread(target=loop, name="heartbeats", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
