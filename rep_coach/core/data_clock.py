"""Time on the IMU's timeline, for decisions that wait (set rest, late verdicts).

The coaching policy measures rests in the lifter's time, which is the time of the
IMU samples: a replay at 4x real time must end a set after 8 s of *data*, not
8 s of wall clock.  While samples flow, now = the newest stamp; when they stop
(end of a replay, a sensor stall), time goes on at wall-clock pace from there.
"""

from __future__ import annotations

from typing import Optional


class DataClock:
    """Newest sample stamp, extrapolated by wall time while no samples arrive."""

    def __init__(self) -> None:
        self._stamp: Optional[float] = None
        self._wall: float = 0.0

    def observe(self, stamp: float, wall: float) -> None:
        """Record a sample stamp seen at wall time ``wall`` (both seconds)."""
        if self._stamp is None or stamp >= self._stamp:
            self._stamp, self._wall = stamp, wall

    def now(self, wall: float) -> Optional[float]:
        """Return the time on the data timeline, or None before the first sample."""
        if self._stamp is None:
            return None
        return self._stamp + max(0.0, wall - self._wall)
