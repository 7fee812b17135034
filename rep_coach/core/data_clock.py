"""
Time on the IMU's timeline, for decisions that wait (set rest, late verdicts).

The coaching policy measures rests in the lifter's time, which is the time of the
IMU samples: a replay at 4x real time must end a set after 8 s of *data*, not
8 s of wall clock.  While samples flow, now = the newest stamp; when they stop
(end of a replay, a sensor stall), time goes on at wall-clock pace from there.

One stamp is never trusted alone to move the clock somewhere else: a single
message stamped far off (a sensor glitch, a hand-made payload) would otherwise
freeze the clock there for the rest of the session.  A stamp more than
``jump_s`` away from where the clock expects to be is held as a candidate, and
the clock moves to the new timeline only when the next stamp agrees with it (a
replay restarted, the sensor clock reset).
"""

from __future__ import annotations

import math
from typing import Optional, Tuple

#: Default jump tolerance, s: data stamps come every IMU_CLOCK_PERIOD_S (0.2 s) on
#: imu/clock, and reps within a set a few seconds apart, so a healthy stream stays
#: well within it of the extrapolated clock even when data runs faster than real time.
JUMP_S = 5.0


class DataClock:
    """Newest sample stamp, extrapolated by wall time while no samples arrive."""

    def __init__(self, jump_s: float = JUMP_S) -> None:
        self.jump_s = float(jump_s)
        self._stamp: Optional[float] = None
        self._wall: float = 0.0
        self._candidate: Optional[Tuple[float, float]] = None   # (stamp, wall) of a jump
        #: Stamps ignored: non-finite, or a jump that the next stamp did not confirm.
        self.ignored = 0

    def observe(self, stamp: float, wall: float) -> None:
        """Record a sample stamp seen at wall time ``wall`` (both seconds)."""
        if not math.isfinite(stamp):
            self.ignored += 1
            return
        if self._stamp is None:
            self._stamp, self._wall = stamp, wall
            return
        if abs(stamp - self._expected(self._stamp, self._wall, wall)) <= self.jump_s:
            if self._candidate is not None:   # the previous stamp was a lone outlier
                self.ignored += 1
                self._candidate = None
            if stamp >= self._stamp:
                self._stamp, self._wall = stamp, wall
            return
        candidate, self._candidate = self._candidate, (stamp, wall)
        if candidate is not None:
            if abs(stamp - self._expected(*candidate, wall)) <= self.jump_s:
                # Two stamps agree on a new timeline: follow it.
                self._stamp, self._wall = max(stamp, candidate[0]), wall
                self._candidate = None
            else:
                self.ignored += 1

    @staticmethod
    def _expected(stamp: float, seen: float, wall: float) -> float:
        return stamp + max(0.0, wall - seen)

    def now(self, wall: float) -> Optional[float]:
        """Return the time on the data timeline, or None before the first sample."""
        if self._stamp is None:
            return None
        return self._expected(self._stamp, self._wall, wall)
