"""
Forearm angle from gravity: how far the arm is from its extended (start) pose.

The baseline integrates the gyro about the principal rotation axis; that angle
drifts, and which way is "up" must be guessed from the first large excursion
(wrong in 3 of the 44 thomas2025 recordings).  Gravity gives both for free:
before a set the lifter stands still with the arm extended, so the direction of
gravity in the sensor frame at that moment is the *reference pose*; during the
set the angle between the current gravity direction and the reference is the
forearm's angle from extension, ~0 at every rep end and ~120-150 deg at the top,
whatever the sensor's mounting and with no sign to guess.  On thomas2025 the
cosine to the reference is 0.56-1.00 at the labelled rep ends and -0.3 to -0.97
at the labelled tops in every one of the 44 sets.

:class:`ArmPose` computes, per sample of the 100 Hz grid and causally:

* ``angle`` - arccos(u . ref), rad in [0, pi], u the low-passed gravity direction;
* ``rate`` - the angular velocity about the principal gyro axis, rad/s, signed so
  that it is positive while ``angle`` grows (lifting);
* ``gyro_norm`` - |omega|, rad/s; ``accel_dev`` - |a| - g, m/s^2 (how hard the
  wrist accelerates beyond gravity).

The reference follows the arm while it is still ("idle" for ``idle_s``), so it
is the pose the lifter holds before the first rep; it moves to a new still pose
only when that pose is close to it (drift) or was held for ``rest_s`` (a rest
between sets), so a pause at the top of a rep does not become the reference.
The reference and the rate's sign change once per :meth:`ArmPose.push` call;
callers feed fixed hops of the 100 Hz grid
(:class:`~rep_coach.learned.kinematic_input.KinematicInput`), so the outputs do
not depend on how the live stream arrives.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Dict, Optional

import numpy as np

from rep_coach.core.filters import butter_lowpass, PrincipalAxis
from rep_coach.core.units import STANDARD_GRAVITY


@dataclass
class ArmPoseConfig:
    """Constants of :class:`ArmPose` (chosen from physics, not fitted)."""

    rate_hz: float = 100.0
    lowpass_hz: float = 3.0        # gravity direction: keeps the curl (<1 Hz), drops jolts
    still_rate: float = 0.5        # rad/s of low-passed |omega| below which the arm is still
    idle_s: float = 0.5            # still this long = idle: the reference may follow
    rest_s: float = 4.0            # idle this long = a rest: any pose becomes the reference
    drift_deg: float = 45.0        # shorter idles move the reference only this close
    sign_tau_s: float = 4.0        # memory of the rate/angle correlation that signs the rate


@dataclass
class ArmSignals:
    """Per-sample outputs of one :meth:`ArmPose.push` call (all (N,) float64)."""

    angle: np.ndarray
    rate: np.ndarray
    gyro_norm: np.ndarray
    accel_dev: np.ndarray


class ArmPose:
    """Streaming forearm angle from the extended pose (see the module docstring)."""

    def __init__(self, config: Optional[ArmPoseConfig] = None) -> None:
        """Create a tracker; feed it with :meth:`push`."""
        self.config = config or ArmPoseConfig()
        self.reset()

    def reset(self) -> None:
        """Forget the stream (reference, filters, sign)."""
        self.reference: Optional[np.ndarray] = None
        self._moved = False           # any motion since the stream started
        self._restart_filters()

    def resume(self) -> None:
        """
        Go on after a hole in the same stream: the filters start afresh, the reference stays.

        A hole does not move the sensor on the wrist, so the extended pose it measured
        before still holds.  Taken afresh, the reference would be the first pose after
        the hole, often a rep's top, and every angle of the set would read inverted
        until a rest.  Without a reference yet this is :meth:`reset`.
        """
        if self.reference is None:
            self.reset()
            return
        self._moved = True            # the reference follows only a still pose near it
        self._restart_filters()

    def _restart_filters(self) -> None:
        cfg = self.config
        self._lp_accel = butter_lowpass(cfg.lowpass_hz, cfg.rate_hz, 2, channels=3)
        self._lp_gyro = butter_lowpass(cfg.lowpass_hz, cfg.rate_hz, 2, channels=1)
        self._axis = PrincipalAxis()
        self._still_samples = 0
        self._last_angle: Optional[float] = None
        self._corr = 0.0              # EW mean of rate * d(angle)/dt
        self._dt = 1.0 / cfg.rate_hz
        self._decay = math.exp(-self._dt / cfg.sign_tau_s)
        self._weights: Dict[int, np.ndarray] = {}   # decay ** (k-1 .. 0), per hop length k

    def push(self, accel: np.ndarray, gyro: np.ndarray) -> ArmSignals:
        """Consume (N, 3) accel m/s^2 and gyro rad/s of the grid; return the signals."""
        accel = np.asarray(accel, dtype=np.float64).reshape(-1, 3)
        gyro = np.asarray(gyro, dtype=np.float64).reshape(-1, 3)
        n = accel.shape[0]
        if n == 0:
            empty = np.zeros(0)
            return ArmSignals(empty, empty, empty, empty)
        lp = self._lp_accel(accel)
        norm = np.sqrt(np.einsum('ij,ij->i', lp, lp))
        u = lp / np.maximum(norm, 1e-9)[:, None]
        if self.reference is None:
            self.reference = u[0].copy()
        angle = np.arccos(np.minimum(np.maximum(u @ self.reference, -1.0), 1.0))
        gyro_norm = np.sqrt(np.einsum('ij,ij->i', gyro, gyro))
        rate = self._signed_rate(gyro, angle)
        self._follow_reference(u[-1], self._lp_gyro(gyro_norm), float(angle[-1]))
        accel_dev = np.sqrt(np.einsum('ij,ij->i', accel, accel)) - STANDARD_GRAVITY
        return ArmSignals(angle, rate, gyro_norm, accel_dev)

    def _signed_rate(self, gyro: np.ndarray, angle: np.ndarray) -> np.ndarray:
        axis = self._axis.update(gyro, self._dt)
        if axis is None:
            return np.zeros(angle.shape[0])
        raw = gyro @ axis
        # The axis has no preferred sign; the rate is made positive while the angle
        # from extension grows, by the sign of their running correlation.
        prev = self._last_angle if self._last_angle is not None else angle[0]
        # np.diff(angle, prepend=prev) written out: this runs per hop, and the wrapper
        # cost more than the arithmetic (which is the same).
        d_angle = np.empty_like(angle)
        d_angle[0] = angle[0] - prev
        np.subtract(angle[1:], angle[:-1], out=d_angle[1:])
        d_angle /= self._dt
        k = raw.shape[0]
        weights = self._weights.get(k)
        if weights is None:
            weights = self._weights[k] = self._decay ** np.arange(k - 1, -1, -1)
        self._corr = (self._decay ** k) * self._corr + float(
            (1.0 - self._decay) * np.dot(weights, raw * d_angle))
        self._last_angle = float(angle[-1])
        return raw if self._corr >= 0.0 else -raw

    def _follow_reference(self, u_last: np.ndarray, speed: np.ndarray,
                          angle_last: float) -> None:
        cfg = self.config
        still = speed < cfg.still_rate
        if bool(still.all()):
            self._still_samples += still.size
        else:
            self._moved = True
            # Trailing still samples of this hop start a new still run.
            self._still_samples = int(still.size - 1 - np.flatnonzero(~still)[-1])
        idle = self._still_samples * self._dt >= cfg.idle_s
        if not self._moved or (idle and (
                angle_last <= math.radians(cfg.drift_deg)
                or self._still_samples * self._dt >= cfg.rest_s)):
            self.reference = u_last.copy()
