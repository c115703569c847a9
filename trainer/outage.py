"""One stretch of "the database does not answer": back-off delays and a log line a minute.

The worker's idle loop and each run's link (trainer/link.py) keep one `Outage` each: every
failure asks it how long to wait, and the first success after failures logs how long the
database was away.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from db.session import describe_unavailable, is_unavailable


def is_transient(error: BaseException) -> bool:
    """Worth retrying: the database did not answer, or the artifact folder could not be
    reached (an OSError: a network path or object store that is away for now)."""
    return is_unavailable(error) or isinstance(error, OSError)


class Outage:
    """Back-off from `first` doubling to `most` seconds; a warning at most every `every` s.

    Args:
        log: where the lines go.
        what: who is waiting, for the lines ("worker w1", "run 12").
        clock: monotonic seconds (tests pass a fake one).
    """

    def __init__(
        self,
        log: logging.Logger,
        what: str,
        *,
        first: float = 0.5,
        most: float = 5.0,
        every: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = log
        self._what = what
        self._first = first
        self._most = most
        self._every = every
        self._clock = clock
        self._delay = first
        self._since: float | None = None
        self._last_line: float | None = None
        self.failures = 0

    @property
    def down(self) -> bool:
        return self._since is not None

    def failed(self, error: BaseException, pending: str = "") -> float:
        """Note a failure; returns the seconds to wait before trying again.

        `pending` says what is kept meanwhile ("3 writes kept locally").
        """
        now = self._clock()
        if self._since is None:
            self._since = now
            self._delay = self._first
        else:
            self._delay = min(self._delay * 2, self._most)
        self.failures += 1
        if self._last_line is None or now - self._last_line >= self._every:
            self._last_line = now
            away = f" for {now - self._since:.0f} s" if now > self._since else ""
            kept = f"; {pending}" if pending else ""
            self._log.warning(
                "%s: database unreachable%s (%s)%s; retrying with back-off",
                self._what,
                away,
                describe_unavailable(error),
                kept,
            )
        return self._delay

    def recovered(self, done: str = "") -> float | None:
        """Note a success; after failures, log and return how long the database was away."""
        if self._since is None:
            return None
        away = self._clock() - self._since
        self._since = None
        self._last_line = None
        self._delay = self._first
        self._log.warning(
            "%s: database back after %.1f s%s", self._what, away, f"; {done}" if done else ""
        )
        return away
