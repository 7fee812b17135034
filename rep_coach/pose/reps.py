"""
Rep counting on one joint angle with hysteresis.

Every lift in the catalogue starts extended: a rep is the angle leaving the
top band (below ``top``), reaching the bottom band (below ``bottom``), and
returning above ``top``.  The gap between the bands is the hysteresis that
keeps jitter from counting reps; a dip that never reaches ``bottom`` is not a
rep.  After the return the rep stays open for a short settle window so the
lockout (the peak after the crossing) belongs to it.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Optional


@dataclass
class RepEdge:
    """What one update of the counter did."""

    started: bool = False
    reached_bottom: bool = False
    finished: bool = False
    aborted: bool = False


@dataclass
class RepCounter:
    """
    Hysteresis rep counter on a joint angle (degrees).

    ``settle_s``: how long after re-crossing ``top`` the rep keeps collecting
    frames; ``max_gap_s``: a rep with no measurement for this long is dropped
    (the person left or was hidden), so a rep is never invented across a gap.
    """

    top: float
    bottom: float
    settle_s: float = 0.4
    max_gap_s: float = 2.0
    state: str = 'unknown'  # unknown -> top -> down -> bottom -> settle -> top
    count: int = 0
    _last_t: float = float('nan')
    _settle_t0: float = float('nan')
    _peak: float = float('-inf')

    def __post_init__(self) -> None:
        if not self.bottom < self.top:
            raise ValueError(f'RepCounter: bottom {self.bottom} must be below top {self.top}')

    @property
    def in_rep(self) -> bool:
        """Return True while a rep is open (descending, at bottom or settling)."""
        return self.state in ('down', 'bottom', 'settle')

    def update(self, t: float, angle: Optional[float]) -> RepEdge:
        """Feed one frame's angle (None/NaN when unmeasured) and return the edges."""
        edge = RepEdge()
        if angle is None or math.isnan(angle):
            if self.in_rep and t - self._last_t > self.max_gap_s:
                edge.finished = self.state == 'settle'
                edge.aborted = not edge.finished
                self.count += int(edge.finished)
                self.state = 'unknown'
            return edge
        self._last_t = t
        if self.state == 'unknown':
            if angle > self.top:
                self.state = 'top'
        elif self.state == 'top':
            if angle < self.top:
                self.state, edge.started = 'down', True
        if self.state == 'down':  # not elif: a fast drop may pass both bands at once
            if angle < self.bottom:
                self.state, edge.reached_bottom = 'bottom', True
            elif angle > self.top:
                self.state, edge.aborted = 'top', True  # a dip, not a rep
        elif self.state == 'bottom':
            if angle > self.top:
                self.state, self._settle_t0, self._peak = 'settle', t, angle
        elif self.state == 'settle':
            self._peak = max(self._peak, angle)
            # Ends after the window, or early once it is clearly going down again.
            if t - self._settle_t0 >= self.settle_s or angle < self._peak - 10.0:
                self.count += 1
                edge.finished = True
                if angle < self.top:
                    self.state, edge.started = 'down', True
                else:
                    self.state = 'top'
        return edge

    def flush(self) -> RepEdge:
        """Close a rep still settling at the end of the stream."""
        edge = RepEdge()
        if self.state == 'settle':
            self.count += 1
            edge.finished = True
            self.state = 'top'
        return edge
