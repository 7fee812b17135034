"""Input scaling shared by training and runtime (the published design's convention).

IMU samples on the 100 Hz grid are scaled so a model sees values in [-1, 1]:
accelerometer / 2 g and gyroscope / 250 deg/s, then clipped.  Training imports
these functions so the deployed models see exactly what they were trained on.
"""

from __future__ import annotations

import math
from typing import Optional

import numpy as np

from rep_coach.core.types import REP_SIGNAL_POINTS
from rep_coach.core.units import DEG_TO_RAD, STANDARD_GRAVITY

#: Rate of the grid every learned model runs on, Hz.
RATE_HZ = 100.0
#: m/s^2 that map to 1.0 (2 g).
ACCEL_SCALE = 2.0 * STANDARD_GRAVITY
#: rad/s that map to 1.0 (250 deg/s).
GYRO_SCALE = 250.0 * DEG_TO_RAD
#: Channels of a model input: accel x, y, z, gyro x, y, z.
N_CHANNELS = 6


def scale(accel: np.ndarray, gyro: np.ndarray, clip: bool = True) -> np.ndarray:
    """Return (6, N) float32 model input from (N, 3) accel m/s^2 and gyro rad/s."""
    x = np.concatenate([np.asarray(accel, dtype=np.float64).reshape(-1, 3) / ACCEL_SCALE,
                        np.asarray(gyro, dtype=np.float64).reshape(-1, 3) / GYRO_SCALE],
                       axis=1).T
    if clip:
        x = np.clip(x, -1.0, 1.0)
    return np.ascontiguousarray(x, dtype=np.float32)


def scale_signal(signal: Optional[np.ndarray], clip: bool = True) -> np.ndarray:
    """Return the classifier's (6, REP_SIGNAL_POINTS) float32 input from a rep's signal.

    ``signal`` is ``RepEvent.signal`` (SI units, cut by
    :func:`rep_coach.core.rep_signal.rep_signal`), or None for a rep without one,
    which gives zeros (what the model saw before signals came with the rep, for a
    rep outside the classifier's own IMU buffer).  Training passes its signals
    through here too (``clip=False`` before augmenting, which clips), so the
    deployed model gets exactly what it was trained on.
    """
    if signal is None:
        return np.zeros((N_CHANNELS, REP_SIGNAL_POINTS), dtype=np.float32)
    return scale(signal[:3].T, signal[3:].T, clip=clip)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically safe logistic function."""
    z = np.asarray(z, dtype=np.float64)
    return np.where(z >= 0, 1.0 / (1.0 + np.exp(-np.abs(z))),
                    np.exp(-np.abs(z)) / (1.0 + np.exp(-np.abs(z))))


def is_finite(value: float) -> bool:
    """Return True for a finite float."""
    return isinstance(value, (int, float)) and math.isfinite(value)
