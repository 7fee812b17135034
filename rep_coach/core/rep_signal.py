"""
The raw IMU signal of one rep, as carried by ``RepEvent.signal``.

Stage 2 used to read the whole 100 Hz IMU stream only to cut each rep's signal
out of it; the segmenters already hold that stream on their 100 Hz grid, so they
cut it and send it with the rep (``reps`` payload, about 3 kB per rep).

The cut (:func:`rep_signal`): the grid samples whose times lie in ``[start, end]``
(to within :data:`TIME_TOL_S`, grid times being ``k / 100`` in floating point),
each of the six axes linearly resampled over those samples to
:data:`~rep_coach.core.types.REP_SIGNAL_POINTS` points, in SI units (accel m/s^2
with gravity x, y, z, then gyro rad/s x, y, z), rounded by
:func:`~rep_coach.core.types.quantize_signal`.  Training cuts its rep signals
with the same function, so what a model is trained on and what it gets live agree
by construction.
"""

from __future__ import annotations

from typing import Optional

import numpy as np

from rep_coach.core.history import RowHistory
from rep_coach.core.resample import DEFAULT_RATE_HZ
from rep_coach.core.types import quantize_signal, REP_SIGNAL_CHANNELS, REP_SIGNAL_POINTS

#: Seconds of grid kept for cutting: the longest rep (10 s) with room to spare.
DEFAULT_SPAN_S = 20.0
#: A grid sample within this of a rep boundary counts as inside the rep, s: grid
#: times are ``k / rate`` in floating point, so a boundary on a grid sample may sit
#: a rounding error on either side of it (and training computes the same times as
#: ``t0 + i / rate``).
TIME_TOL_S = 1e-6


def resample_fixed(x: np.ndarray, length: int) -> np.ndarray:
    """Linearly resample a (C, N) signal to (C, length) float64 over its own span (N >= 1)."""
    n = x.shape[1]
    if n == 0:
        return np.zeros((x.shape[0], length))
    if n == 1:
        return np.repeat(x.astype(np.float64), length, axis=1)
    src = np.linspace(0.0, n - 1.0, length)
    i0 = np.floor(src).astype(int)
    i1 = np.minimum(i0 + 1, n - 1)
    w = (src - i0)[None, :]
    return x[:, i0] * (1.0 - w) + x[:, i1] * w


def rep_signal(t: np.ndarray, x: np.ndarray, start: float, end: float) -> Optional[np.ndarray]:
    """
    Cut ``[start, end]`` out of grid samples ``x`` (N, 6) at times ``t`` (N,), increasing.

    Returns the ``(REP_SIGNAL_CHANNELS, REP_SIGNAL_POINTS)`` signal described in the
    module docstring, or None when no sample lies in the interval or one of its
    values is not finite (stage 2 then handles the rep as one without a signal).
    """
    i0 = int(np.searchsorted(t, start - TIME_TOL_S, side='left'))
    i1 = int(np.searchsorted(t, end + TIME_TOL_S, side='right'))
    if i1 <= i0:
        return None
    signal = quantize_signal(resample_fixed(x[i0:i1].T, REP_SIGNAL_POINTS))
    return signal if np.isfinite(signal).all() else None


class RepSignalBuffer:
    """The last ``span_s`` of a segmenter's raw 100 Hz grid, for :func:`rep_signal` cuts."""

    def __init__(self, span_s: float = DEFAULT_SPAN_S, rate_hz: float = DEFAULT_RATE_HZ) -> None:
        """Keep at least ``span_s`` seconds of a ``rate_hz`` grid."""
        self._rows = RowHistory(int(round(span_s * rate_hz)), 1 + REP_SIGNAL_CHANNELS)

    def reset(self) -> None:
        """Forget the stream (a new session)."""
        self._rows.clear()

    def append(self, t: np.ndarray, accel: np.ndarray, gyro: np.ndarray) -> None:
        """Append grid samples: ``t`` (m,) s, ``accel`` (m, 3) m/s^2, ``gyro`` (m, 3) rad/s."""
        if t.size:
            self._rows.append(t, accel, gyro)

    def cut(self, start: float, end: float) -> Optional[np.ndarray]:
        """Return the signal of ``[start, end]`` from the held samples (see :func:`rep_signal`)."""
        rows = self._rows.rows
        return rep_signal(rows[:, 0], rows[:, 1:], start, end)
