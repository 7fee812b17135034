"""
Smooth movement profiles and the rigid-body kinematics of the wrist.

A session is a list of :class:`Phase` (move or hold of the progress variable
``q``); :func:`render_progress` evaluates q and its first two time derivatives
analytically at any sample times, so accelerations carry no finite-difference
error and blocks can start anywhere.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

import numpy as np

from rep_coach.core.units import STANDARD_GRAVITY

_GRAVITY_UP = np.array([0.0, 0.0, STANDARD_GRAVITY])


@dataclass
class Phase:
    """
    Progress moves from ``q0`` to ``q1`` during [start, start + duration).

    ``sticking`` (0..0.9) slows the middle of the movement and speeds its ends,
    the sticking region of a fatigued concentric.
    """

    start: float
    duration: float
    q0: float
    q1: float
    sticking: float = 0.0

    @property
    def end(self) -> float:
        """Time at which the phase ends."""
        return self.start + self.duration


def render_progress(t: np.ndarray, phases: List[Phase]) -> Tuple[np.ndarray, ...]:
    """
    Return q, dq/dt and d2q/dt2 at times ``t`` (phases sorted, contiguous).

    Times before the first phase take its start value, after the last its end
    value.  Each move is a minimum-jerk profile (zero velocity and acceleration at
    both ends, like voluntary point-to-point movements) in a warped time
    ``w(tau) = tau + a sin(2 pi tau) / (2 pi)``, which keeps the ends at rest and
    for a > 0 makes the middle slower.
    """
    starts = np.array([p.start for p in phases])
    dur = np.array([max(p.duration, 1e-9) for p in phases])
    q0 = np.array([p.q0 for p in phases])
    dq = np.array([p.q1 - p.q0 for p in phases])
    a = np.array([p.sticking for p in phases])
    idx = np.clip(np.searchsorted(starts, t, side='right') - 1, 0, len(phases) - 1)
    tau = np.clip((t - starts[idx]) / dur[idx], 0.0, 1.0)
    a_i, d_i, dq_i = a[idx], dur[idx], dq[idx]
    two_pi = 2.0 * np.pi
    w = tau + a_i * np.sin(two_pi * tau) / two_pi
    w1 = 1.0 + a_i * np.cos(two_pi * tau)
    w2 = -a_i * two_pi * np.sin(two_pi * tau)
    f = w ** 3 * (10.0 - 15.0 * w + 6.0 * w * w)
    f1 = 30.0 * w * w * (1.0 - w) ** 2
    f2 = 60.0 * w * (1.0 - w) * (1.0 - 2.0 * w)
    inside = (t >= starts[idx]) & (t < starts[idx] + d_i)
    q = q0[idx] + dq_i * f
    qd = np.where(inside, dq_i * f1 * w1 / d_i, 0.0)
    qdd = np.where(inside, dq_i * (f2 * w1 * w1 + f1 * w2) / (d_i * d_i), 0.0)
    return q, qd, qdd


def axis_rotations(axis: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Return (N, 3, 3) rotation matrices about the unit ``axis`` by angles ``theta``."""
    k = np.asarray(axis, dtype=np.float64)
    k = k / np.linalg.norm(k)
    kx = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    s = np.sin(theta)[:, None, None]
    c = np.cos(theta)[:, None, None]
    return np.eye(3)[None] + s * kx[None] + (1.0 - c) * (kx @ kx)[None]


def rotation_about(axis: np.ndarray, angle: float) -> np.ndarray:
    """Return one rotation matrix about ``axis`` by ``angle`` radians."""
    return axis_rotations(axis, np.array([angle]))[0]


def wrist_imu(theta: np.ndarray, theta_d: np.ndarray, theta_dd: np.ndarray,
              axis: np.ndarray, base: np.ndarray, lever: np.ndarray,
              trans_dd: np.ndarray, sway: np.ndarray, sway_d: np.ndarray
              ) -> Tuple[np.ndarray, np.ndarray]:
    """
    Return ideal specific force (m/s^2) and angular rate (rad/s) in the sensor frame.

    The segment orientation is ``Rs(sway) Rk(theta) base`` with ``Rk`` the joint
    rotation about the fixed world ``axis`` and ``Rs`` a small sway (rotation
    vector, rad) linearised because it stays within a few degrees.  ``lever`` is
    the joint-to-sensor vector at theta = 0, ``trans_dd`` the world acceleration
    of the joint itself (N, 3).  Specific force is a - g: gravity appears as
    +9.81 m/s^2 along world up, rotating with the forearm in the sensor frame.
    """
    k = np.asarray(axis, dtype=np.float64)
    k = k / np.linalg.norm(k)
    rk = axis_rotations(k, theta)                               # (N, 3, 3)
    r = rk @ lever                                              # (N, 3) lever in world
    k_x_r = np.cross(k, r)
    acc_w = (theta_dd[:, None] * k_x_r + theta_d[:, None] ** 2 * np.cross(k, k_x_r)
             + trans_dd)
    f_w = acc_w + _GRAVITY_UP
    f_w = f_w - np.cross(sway, f_w)            # Rs^T v ~ v - sway x v (small angle)
    w_w = theta_d[:, None] * k + sway_d
    # sensor = (Rk base)^T world; einsum avoids building (N,3,3) products twice
    rot = rk @ base                                             # (N, 3, 3) sensor->world
    f_s = np.einsum('nji,nj->ni', rot, f_w)
    w_s = np.einsum('nji,nj->ni', rot, w_w)
    return f_s, w_s
