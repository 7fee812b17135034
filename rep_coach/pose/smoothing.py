"""
One-Euro filter for landmark arrays (Casiez, Roussel, Vogel, CHI 2012).

The cutoff rises with speed: still poses are smoothed hard (jitter would flip
thresholds), fast movement passes with little lag (reps would be blunted).
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from typing import Optional

import numpy as np


def _alpha(cutoff_hz: np.ndarray, dt: float) -> np.ndarray:
    tau = 1.0 / (2.0 * math.pi * cutoff_hz)
    return 1.0 / (1.0 + tau / dt)


@dataclass
class OneEuroFilter:
    """
    Element-wise One-Euro filter over arrays of a fixed shape.

    ``min_cutoff_hz`` sets smoothing at rest; ``beta`` how fast the cutoff rises
    with speed (in the array's units per second); ``d_cutoff_hz`` filters the
    speed estimate.  A gap longer than ``reset_after_s`` restarts the filter.
    """

    min_cutoff_hz: float = 1.5
    beta: float = 2.0
    d_cutoff_hz: float = 1.0
    reset_after_s: float = 0.5
    _x: Optional[np.ndarray] = field(default=None, init=False, repr=False)
    _dx: Optional[np.ndarray] = field(default=None, init=False, repr=False)
    _t: float = field(default=float('nan'), init=False, repr=False)

    def reset(self) -> None:
        """Forget the state."""
        self._x, self._dx, self._t = None, None, float('nan')

    def __call__(self, x: np.ndarray, t: float) -> np.ndarray:
        """Filter sample ``x`` taken at ``t`` seconds and return the estimate."""
        x = np.asarray(x, dtype=np.float64)
        if self._x is None or self._x.shape != x.shape or not (t > self._t) or \
                t - self._t > self.reset_after_s:
            self._x, self._dx, self._t = x.copy(), np.zeros_like(x), t
            return x.copy()
        dt = t - self._t
        dx = (x - self._x) / dt
        self._dx = self._dx + _alpha(np.full_like(x, self.d_cutoff_hz), dt) * (dx - self._dx)
        cutoff = self.min_cutoff_hz + self.beta * np.abs(self._dx)
        self._x = self._x + _alpha(cutoff, dt) * (x - self._x)
        self._t = t
        return self._x.copy()
