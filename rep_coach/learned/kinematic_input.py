"""
Mounting-invariant input channels of the learned segmenter, from :mod:`arm_pose`.

The raw 6 axes depend on how the sensor is strapped (thomas2025 subjects wear it
turned by more than 90 deg relative to each other), and an angle integrated
from the gyro needs its lifting direction guessed.  The segmenter therefore
sees only what :class:`~rep_coach.core.arm_pose.ArmPose` derives per sample:

0. the forearm's angle from its extended pose (gravity-referenced) / pi;
1. the principal-axis rate, lifting positive / 250 deg/s;
2. |omega| / 250 deg/s;
3. (|a| - g) / 2 g.

All four are unchanged by any rotation of the sensor.  To be identical in
training and live, the tracker is fed one hop of grid samples at a time (hops
on the absolute 100 Hz grid) and keeps a bounded history of angle and rate for
the per-rep features.
"""

from __future__ import annotations

import math
from typing import List, Tuple

import numpy as np

from rep_coach.core.arm_pose import ArmPose
from rep_coach.core.resample import hop_slices
from rep_coach.core.types import ImuBlock
from rep_coach.learned.preprocess import ACCEL_SCALE, GYRO_SCALE, RATE_HZ

#: Samples per hop on the 100 Hz grid (0.1 s).
HOP = 10
#: Channels of the segmenter input (see the module docstring).
N_INPUTS = 4
#: rad that maps to 1.0 for the angle channel.
THETA_SCALE = math.pi


class KinematicInput:
    """Feeds grid hops to an :class:`ArmPose`; returns the scaled channels per hop."""

    def __init__(self, history_s: float = 30.0) -> None:
        """Create the tracker; ``history_s`` of angle/rate are kept for rep features."""
        self.capacity = int(history_s * RATE_HZ)
        self.pose = ArmPose()
        self.reset()

    def resume(self) -> None:
        """
        Go on after a hole in the same stream (see :meth:`ArmPose.resume`).

        The kept angle and rate stay: they are real samples of the set under way, and
        the rep that spans the hole is measured on them.
        """
        self.pose.resume()

    def reset(self) -> None:
        """Forget the stream."""
        self.pose.reset()
        self._t: List[np.ndarray] = []
        self._angle: List[np.ndarray] = []
        self._rate: List[np.ndarray] = []
        self._kept = 0

    def push_hop(self, hop: ImuBlock) -> np.ndarray:
        """Consume one hop of grid samples; return (N_INPUTS, n) float32 channels."""
        sig = self.pose.push(hop.accel, hop.gyro)
        self._remember(hop.t, sig.angle, sig.rate)
        out = np.empty((N_INPUTS, len(hop)), dtype=np.float32)
        out[0] = sig.angle / THETA_SCALE
        out[1] = sig.rate / GYRO_SCALE
        out[2] = sig.gyro_norm / GYRO_SCALE
        out[3] = sig.accel_dev / ACCEL_SCALE
        return np.clip(out, -1.0, 1.0)

    def _remember(self, t: np.ndarray, angle: np.ndarray, rate: np.ndarray) -> None:
        # Lists of hops, joined lazily: appending 10 samples must not copy 30 s.
        self._t.append(np.asarray(t, dtype=np.float64))
        self._angle.append(angle)
        self._rate.append(rate)
        self._kept += len(t)
        while self._kept - len(self._t[0]) >= self.capacity:
            self._kept -= len(self._t.pop(0))
            self._angle.pop(0)
            self._rate.pop(0)

    def signals(self) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the kept history (t, angle rad, rate rad/s) for per-rep features."""
        if not self._t:
            empty = np.zeros(0)
            return empty, empty, empty
        return np.concatenate(self._t), np.concatenate(self._angle), np.concatenate(self._rate)


def replay_channels(grid: ImuBlock) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """
    Channels of a whole grid recording exactly as the live segmenter sees them.

    Returns ``(channels (N_INPUTS, N), angle (N,), rate (N,))``; the last two feed
    the per-rep features in training.
    """
    kin = KinematicInput(history_s=len(grid) / RATE_HZ + 1.0)
    k = np.rint(grid.t * RATE_HZ).astype(np.int64)
    out = np.zeros((N_INPUTS, len(grid)), dtype=np.float32)
    last = 0
    for i0, i1 in hop_slices(k, HOP):
        out[:, i0:i1] = kin.push_hop(grid.slice(i0, i1))
        last = i1
    if last < len(grid):
        out[:, last:] = kin.push_hop(grid.slice(last, None))
    _, angle, rate = kin.signals()
    return out, angle, rate
