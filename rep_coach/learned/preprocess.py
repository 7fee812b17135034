"""
Input scaling shared by training and runtime (the published design's convention).

IMU samples on the 100 Hz grid are scaled so a model sees values in [-1, 1]:
accelerometer / 2 g and gyroscope / 250 deg/s, then clipped.  Training imports
these functions so the deployed models see exactly what they were trained on.

The classifier's encoder reads a rep's raw signal through :func:`rep_channels`:
quantities of the scaled axes that no sensor mounting changes.  Lifters strap the
sensor on turned by more than 90 deg relative to each other; on the raw axes the
encoder learned the training lifters' mountings (thomas2025 LOSO, seeds 0/1:
near-failure rep F1 0.68/0.66 on raw axes, 0.70/0.75 on these channels).
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
#: Channels of the classifier's rep input (:func:`rep_channels`).
N_REP_CHANNELS = 5
#: Samples at a rep's start that define its reference gravity direction.
_REFERENCE_POINTS = 4


def scale(accel: np.ndarray, gyro: np.ndarray, clip: bool = True) -> np.ndarray:
    """Return (6, N) float32 model input from (N, 3) accel m/s^2 and gyro rad/s."""
    x = np.concatenate([np.asarray(accel, dtype=np.float64).reshape(-1, 3) / ACCEL_SCALE,
                        np.asarray(gyro, dtype=np.float64).reshape(-1, 3) / GYRO_SCALE],
                       axis=1).T
    if clip:
        x = np.clip(x, -1.0, 1.0)
    return np.ascontiguousarray(x, dtype=np.float32)


def scale_signal(signal: Optional[np.ndarray], clip: bool = True) -> np.ndarray:
    """
    Return the classifier's (6, REP_SIGNAL_POINTS) float32 input from a rep's signal.

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


def rep_channels(x: np.ndarray) -> np.ndarray:
    """
    Return (N_REP_CHANNELS, L) float32 mounting-invariant channels of a scaled rep.

    ``x`` is (6, L) from :func:`scale_signal` (accel / 2 g, gyro / 250 deg/s):

    0. |omega|;
    1. |a| - g;
    2. the angle of the accelerometer's direction from its direction over the rep's
       first samples, / pi (how far the forearm turned against gravity);
    3. the rate about the rep's principal gyro axis, signed positive over the rep's
       first half (a rep starts with the lift);
    4. that rate integrated and divided by its largest magnitude (the rotation's
       shape).

    Rotating both triplets of ``x`` by any rotation leaves all five unchanged.
    """
    x = np.asarray(x, dtype=np.float64)
    accel, gyro = x[0:3], x[3:6]
    out = np.zeros((N_REP_CHANNELS, x.shape[1]), dtype=np.float64)
    out[0] = np.sqrt(np.einsum('ij,ij->j', gyro, gyro))
    accel_norm = np.sqrt(np.einsum('ij,ij->j', accel, accel))
    out[1] = accel_norm - STANDARD_GRAVITY / ACCEL_SCALE
    u = accel / np.maximum(accel_norm, 1e-9)
    ref = u[:, :_REFERENCE_POINTS].mean(axis=1)
    ref = ref / max(float(np.linalg.norm(ref)), 1e-9)
    out[2] = np.arccos(np.clip(ref @ u, -1.0, 1.0)) / math.pi
    _, _, vt = np.linalg.svd(gyro.T, full_matrices=False)
    rate = gyro.T @ vt[0]
    if rate[:rate.size // 2].sum() < 0.0:
        rate = -rate
    out[3] = rate
    turned = np.cumsum(rate)
    out[4] = turned / max(float(np.abs(turned).max()), 1e-9)
    return out.astype(np.float32)


def classifier_input(signal: Optional[np.ndarray]) -> np.ndarray:
    """Return the classifier's (N_REP_CHANNELS, L) input from a ``RepEvent.signal``."""
    return rep_channels(scale_signal(signal))


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Numerically safe logistic function."""
    z = np.asarray(z, dtype=np.float64)
    return np.where(z >= 0, 1.0 / (1.0 + np.exp(-np.abs(z))),
                    np.exp(-np.abs(z)) / (1.0 + np.exp(-np.abs(z))))


def is_finite(value: float) -> bool:
    """Return True for a finite float."""
    return isinstance(value, (int, float)) and math.isfinite(value)
