"""Input scaling shared by training and runtime (the published design's convention).

IMU samples on the 100 Hz grid are scaled so a model sees values in [-1, 1]:
accelerometer / 2 g and gyroscope / 250 deg/s, then clipped.  Training imports
these functions so the deployed models see exactly what they were trained on.
"""

from __future__ import annotations

import math

import numpy as np

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


def resample_fixed(x: np.ndarray, length: int) -> np.ndarray:
    """Linearly resample a (C, N) signal to (C, length) over its own span (N >= 1)."""
    n = x.shape[1]
    if n == 0:
        return np.zeros((x.shape[0], length), dtype=np.float32)
    if n == 1:
        return np.repeat(x.astype(np.float32), length, axis=1)
    src = np.linspace(0.0, n - 1.0, length)
    i0 = np.floor(src).astype(int)
    i1 = np.minimum(i0 + 1, n - 1)
    w = (src - i0)[None, :]
    return (x[:, i0] * (1.0 - w) + x[:, i1] * w).astype(np.float32)


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically safe logistic function."""
    z = np.asarray(z, dtype=np.float64)
    return np.where(z >= 0, 1.0 / (1.0 + np.exp(-np.abs(z))),
                    np.exp(-np.abs(z)) / (1.0 + np.exp(-np.abs(z))))


def is_finite(value: float) -> bool:
    """Return True for a finite float."""
    return isinstance(value, (int, float)) and math.isfinite(value)
