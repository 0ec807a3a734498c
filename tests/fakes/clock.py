"""A clock the test moves by hand: the stores and desks take ``now=`` callables."""

from __future__ import annotations

from datetime import datetime, timedelta

# A Wednesday, 10:00: every department is open.
WEDNESDAY_10AM = datetime(2025, 3, 12, 10, 0)


class Clock:
    """Call it for the current time; set ``now`` or ``advance()`` to move it."""

    def __init__(self, now: datetime = WEDNESDAY_10AM):
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta) -> None:
        self.now += timedelta(**delta)
