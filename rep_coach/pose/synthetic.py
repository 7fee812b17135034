"""
Synthetic BlazePose landmarks from a few joint angles, for tests and benches.

A stick figure is posed in the sagittal plane (thigh, shin, trunk, upper arm,
elbow), given a stance width, toe-out and knee valgus, turned by a camera yaw
and projected with a pinhole camera.  Metrics computed on the result are the
ground truth the rules are checked against; it is not a body model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import math
from typing import Sequence

import numpy as np

from rep_coach.pose.landmarks import Lm, N_LANDMARKS, PoseResult


@dataclass
class Posture:
    """
    Joint angles (degrees) and sizes (metres) of the synthetic lifter.

    ``thigh_deg``: thigh above horizontal (90 standing); ``shin_deg``: shin
    forward lean; ``trunk_deg``: trunk forward lean; ``arm_deg``: upper arm
    forward elevation from hanging; ``elbow_deg``: elbow angle (180 straight);
    ``rack``: hands on the shoulders (front rack) instead of following the
    forearm; ``valgus_deg``: knees turned inside the foot line; ``yaw_deg``:
    camera yaw (0 = facing the camera, 90 = left side to the camera).
    """

    thigh_deg: float = 90.0
    shin_deg: float = 0.0
    trunk_deg: float = 5.0
    arm_deg: float = 0.0
    elbow_deg: float = 175.0
    rack: bool = False
    stance_m: float = 0.40
    shoulder_m: float = 0.34
    toe_out_deg: float = 15.0
    valgus_deg: float = 0.0
    yaw_deg: float = 40.0
    hidden: Sequence[int] = field(default_factory=tuple)


SHIN, THIGH, TRUNK, UPPER, FORE, HIP_HALF = 0.42, 0.44, 0.50, 0.29, 0.26, 0.10


def _fwd(deg_from_down: float) -> np.ndarray:
    """Return a unit vector in the sagittal plane: 0 = down, 90 = forward (-z)."""
    a = math.radians(deg_from_down)
    return np.array([0.0, math.cos(a), -math.sin(a)])


def world_landmarks(p: Posture) -> np.ndarray:
    """Return (33, 3) hip-centred world landmarks (camera axes) for ``p``."""
    w = np.zeros((N_LANDMARKS, 3))
    phi, th = math.radians(p.shin_deg), math.radians(p.thigh_deg)
    for sgn, (hip, knee, ankle, heel, toe) in (
            (1, (Lm.LEFT_HIP, Lm.LEFT_KNEE, Lm.LEFT_ANKLE, Lm.LEFT_HEEL, Lm.LEFT_FOOT_INDEX)),
            (-1, (Lm.RIGHT_HIP, Lm.RIGHT_KNEE, Lm.RIGHT_ANKLE, Lm.RIGHT_HEEL,
                  Lm.RIGHT_FOOT_INDEX))):
        out = math.radians(p.toe_out_deg)
        foot = np.array([sgn * math.sin(out), 0.0, -math.cos(out)])
        kdir_a = math.radians(p.toe_out_deg - p.valgus_deg)
        kdir = np.array([sgn * math.sin(kdir_a), 0.0, -math.cos(kdir_a)])
        # Pose the leg in a sagittal plane through the hip, then shear it out to
        # the stance width (a shear keeps straight legs straight).
        a = np.array([sgn * HIP_HALF, 0.0, 0.0])
        k = a + SHIN * (math.cos(phi) * np.array([0, -1.0, 0]) + math.sin(phi) * kdir)
        h = np.array([sgn * HIP_HALF, k[1] - THIGH * math.sin(th),
                      k[2] + THIGH * math.cos(th)])
        hl = a + np.array([0, 0.05, 0]) - 0.06 * foot
        tl = a + np.array([0, 0.06, 0]) + 0.16 * foot
        spread = sgn * (p.stance_m / 2 - HIP_HALF)
        for pt in (a, k, hl, tl):
            pt[0] += spread * (pt[1] - h[1]) / (a[1] - h[1])
        w[ankle], w[knee], w[hip], w[heel], w[toe] = a, k, h, hl, tl
    mid_hip = 0.5 * (w[Lm.LEFT_HIP] + w[Lm.RIGHT_HIP])
    lam = math.radians(p.trunk_deg)
    sh_mid = mid_hip + TRUNK * np.array([0.0, -math.cos(lam), -math.sin(lam)])
    arms = ((1, (Lm.LEFT_SHOULDER, Lm.LEFT_ELBOW, Lm.LEFT_WRIST,
                 (Lm.LEFT_PINKY, Lm.LEFT_INDEX, Lm.LEFT_THUMB))),
            (-1, (Lm.RIGHT_SHOULDER, Lm.RIGHT_ELBOW, Lm.RIGHT_WRIST,
                  (Lm.RIGHT_PINKY, Lm.RIGHT_INDEX, Lm.RIGHT_THUMB))))
    for sgn, (sh, el, wr, idx) in arms:
        s = sh_mid + np.array([sgn * p.shoulder_m / 2, 0, 0])
        e = s + UPPER * _fwd(p.arm_deg)
        if p.rack:
            wrist = s + np.array([-sgn * 0.03, 0.02, -0.10])
        else:
            wrist = e + FORE * _fwd(p.arm_deg + 180.0 - p.elbow_deg)
        w[sh], w[el], w[wr] = s, e, wrist
        for i in idx:
            w[i] = wrist + 0.1 * (wrist - e)  # the hand continues the forearm
    head = sh_mid + np.array([0, -0.20, -0.06])
    for i, off in ((Lm.NOSE, (0, 0, -0.08)), (Lm.LEFT_EYE, (0.03, -0.03, -0.07)),
                   (Lm.RIGHT_EYE, (-0.03, -0.03, -0.07)), (Lm.LEFT_EAR, (0.07, -0.02, 0)),
                   (Lm.RIGHT_EAR, (-0.07, -0.02, 0)), (Lm.MOUTH_LEFT, (0.02, 0.03, -0.07)),
                   (Lm.MOUTH_RIGHT, (-0.02, 0.03, -0.07)),
                   (Lm.LEFT_EYE_INNER, (0.015, -0.03, -0.075)),
                   (Lm.LEFT_EYE_OUTER, (0.045, -0.03, -0.06)),
                   (Lm.RIGHT_EYE_INNER, (-0.015, -0.03, -0.075)),
                   (Lm.RIGHT_EYE_OUTER, (-0.045, -0.03, -0.06))):
        w[i] = head + np.array(off)
    w -= 0.5 * (w[Lm.LEFT_HIP] + w[Lm.RIGHT_HIP])
    # Turn the body by the camera yaw about the vertical axis.
    c, s_ = math.cos(math.radians(p.yaw_deg)), math.sin(math.radians(p.yaw_deg))
    x, z = w[:, 0].copy(), w[:, 2].copy()
    w[:, 0], w[:, 2] = x * c - z * s_, x * s_ + z * c
    return w


def make_pose(p: Posture, t: float = 0.0, width: int = 640, height: int = 480,
              noise_m: float = 0.0, rng: np.random.Generator = None) -> PoseResult:
    """Return a :class:`PoseResult` of ``p`` seen by a pinhole camera 3.5 m away."""
    w = world_landmarks(p)
    if noise_m > 0:
        rng = rng or np.random.default_rng(0)
        w = w + rng.normal(0.0, noise_m, w.shape)
    depth, focal = 3.5, 450.0
    z = depth + w[:, 2]
    u = width / 2 + focal * w[:, 0] / z
    v = height / 2 + focal * (w[:, 1] - 0.1) / z
    image = np.stack([u / width, v / height, focal * w[:, 2] / depth / width], axis=1)
    vis = np.full(N_LANDMARKS, 0.98)
    vis[list(p.hidden)] = 0.1
    return PoseResult(t, image, w, vis, np.full(N_LANDMARKS, 0.99), width, height)


def squat_posture(depth: float, **kw) -> Posture:
    """Return a squat posture at ``depth`` in [0, 1] (1 = thighs 5 deg below parallel)."""
    d = min(max(depth, 0.0), 1.0)
    bottom_thigh = kw.pop('bottom_thigh_deg', -5.0)
    return Posture(thigh_deg=90.0 - d * (90.0 - bottom_thigh), shin_deg=d * 35.0,
                   trunk_deg=kw.pop('trunk_deg', 5.0 + d * 20.0), **kw)


def squat_sequence(n_reps: int, fps: float = 30.0, rep_s: float = 2.0, rest_s: float = 1.0,
                   **kw) -> list:
    """Return [(t, Posture)] for ``n_reps`` squats (cosine depth profile) with rests."""
    out, t = [], 0.0
    for _ in range(int(rest_s * fps)):
        out.append((t, squat_posture(0.0, **dict(kw))))
        t += 1.0 / fps
    for _ in range(n_reps):
        for i in range(int(rep_s * fps)):
            d = 0.5 - 0.5 * math.cos(2 * math.pi * i / (rep_s * fps))
            out.append((t, squat_posture(d, **dict(kw))))
            t += 1.0 / fps
        for _ in range(int(rest_s * fps)):
            out.append((t, squat_posture(0.0, **dict(kw))))
            t += 1.0 / fps
    return out
