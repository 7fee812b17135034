"""
Joint angles and the camera-view estimate, in metric world coordinates.

Everything here works on MediaPipe *world* landmarks (metres, hip-centred,
camera axes with y pointing down).  Unlike normalized image x/y (anisotropic on
non-square frames) mixed with unscaled z, these are isotropic, so an angle
means the same in every direction.  The camera is assumed roughly level, so
world -y is "up".
"""

from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np

from rep_coach.pose.landmarks import Lm

UP = np.array([0.0, -1.0, 0.0])


def angle_between(u: np.ndarray, v: np.ndarray) -> float:
    """Return the angle between vectors ``u`` and ``v`` in degrees (0..180)."""
    nu, nv = float(np.linalg.norm(u)), float(np.linalg.norm(v))
    if nu < 1e-9 or nv < 1e-9:
        return float('nan')
    c = float(np.dot(u, v)) / (nu * nv)
    return math.degrees(math.acos(max(-1.0, min(1.0, c))))


def joint_angle(w: np.ndarray, a: int, b: int, c: int) -> float:
    """Return the angle at landmark ``b`` between ``b->a`` and ``b->c`` (degrees)."""
    return angle_between(w[a] - w[b], w[c] - w[b])


def from_vertical_down(w: np.ndarray, a: int, b: int) -> float:
    """Return the angle of segment ``a->b`` from straight down (0 = hanging)."""
    return angle_between(w[b] - w[a], -UP)


def from_vertical_up(w: np.ndarray, a: np.ndarray, b: np.ndarray) -> float:
    """Return the angle of segment ``a->b`` (points) from straight up."""
    return angle_between(b - a, UP)


def horizontal(v: np.ndarray) -> np.ndarray:
    """Return the (x, z) ground-plane part of a world vector."""
    return np.array([v[0], v[2]])


def mid(w: np.ndarray, a: int, b: int) -> np.ndarray:
    """Return the midpoint of two landmarks."""
    return 0.5 * (w[a] + w[b])


def trunk_lean(w: np.ndarray) -> float:
    """Return the trunk's angle from vertical (mid-hip -> mid-shoulder), degrees."""
    return from_vertical_up(w, mid(w, Lm.LEFT_HIP, Lm.RIGHT_HIP),
                            mid(w, Lm.LEFT_SHOULDER, Lm.RIGHT_SHOULDER))


def thigh_above_horizontal(w: np.ndarray, hip: int, knee: int) -> float:
    """
    Return how far the thigh rises from knee to hip above horizontal, degrees.

    90 standing, 0 at parallel, negative when the hip is below the knee.
    """
    d = w[hip] - w[knee]
    rise = -d[1]  # y points down
    run = float(np.linalg.norm(horizontal(d)))
    return math.degrees(math.atan2(rise, run))


def body_lateral_axis(w: np.ndarray) -> np.ndarray:
    """Return the unit ground-plane vector toward the subject's left (x, z)."""
    lr = horizontal(0.5 * ((w[Lm.LEFT_SHOULDER] - w[Lm.RIGHT_SHOULDER])
                           + (w[Lm.LEFT_HIP] - w[Lm.RIGHT_HIP])))
    n = float(np.linalg.norm(lr))
    return lr / n if n > 1e-9 else np.array([1.0, 0.0])


def knee_medial_angle(w: np.ndarray, side: str) -> float:
    """
    Return the shin's medial tilt in the body's frontal plane, degrees.

    The frontal-plane shin angle: how far the knee sits inside (toward the
    midline, positive = valgus) the ankle, over the shin's height.  With the
    toes turned out, knees that track over the toes sit *outside* the ankles
    (negative); a knee inside the ankle is caving whatever the toe angle.
    The body's frontal plane comes from the shoulder and hip lines, which the
    model places far more reliably than the 15 cm heel-to-toe line.
    """
    knee, ankle = ((Lm.LEFT_KNEE, Lm.LEFT_ANKLE) if side == 'left'
                   else (Lm.RIGHT_KNEE, Lm.RIGHT_ANKLE))
    lateral = body_lateral_axis(w) * (1.0 if side == 'left' else -1.0)
    medial = -float(np.dot(horizontal(w[knee] - w[ankle]), lateral))
    height = float(w[ankle][1] - w[knee][1])  # y points down
    if height <= 0.05:
        return float('nan')
    return math.degrees(math.atan2(medial, height))


def sagittal_hip_angle(w: np.ndarray, side: str) -> float:
    """
    Return the trunk-thigh angle in the sagittal plane, degrees (180 = upright).

    Both segments lose their left-right component first: the shoulders sit
    wider than the hip joints and the stance abducts the thighs, which would
    otherwise read as ~10 degrees of flexion in a fully locked-out stand.
    """
    hip, knee = ((Lm.LEFT_HIP, Lm.LEFT_KNEE) if side == 'left'
                 else (Lm.RIGHT_HIP, Lm.RIGHT_KNEE))
    lat2 = body_lateral_axis(w)
    lat = np.array([lat2[0], 0.0, lat2[1]])
    trunk = mid(w, Lm.LEFT_SHOULDER, Lm.RIGHT_SHOULDER) - mid(w, Lm.LEFT_HIP, Lm.RIGHT_HIP)
    thigh = w[knee] - w[hip]
    trunk = trunk - np.dot(trunk, lat) * lat
    thigh = thigh - np.dot(thigh, lat) * lat
    return angle_between(trunk, thigh)


@dataclass
class ViewEstimate:
    """
    Where the camera stands relative to the body.

    ``yaw_deg`` is the angle between the subject's left-right axis and the
    image plane, signed by which way the subject faces: 0 facing the camera,
    +-90 side-on, 180 back to the camera.  ``name`` is one of ``front``,
    ``oblique``, ``side``, ``back``.
    """

    name: str
    yaw_deg: float


#: View boundaries on |yaw| (degrees).  45-degree filming is the coaches'
#: usual compromise, so ``oblique`` is given a wide band around it.
FRONT_MAX_DEG = 25.0
OBLIQUE_MAX_DEG = 65.0
SIDE_MAX_DEG = 115.0


def estimate_view(w: np.ndarray) -> ViewEstimate:
    """Classify the camera view from the shoulder and hip lines (world)."""
    lr = 0.5 * ((w[Lm.LEFT_SHOULDER] - w[Lm.RIGHT_SHOULDER]) + (w[Lm.LEFT_HIP] - w[Lm.RIGHT_HIP]))
    # Facing the camera (toward -z) puts the subject's left at +x.
    yaw = math.degrees(math.atan2(lr[2], lr[0]))
    a = abs(yaw)
    if a < FRONT_MAX_DEG:
        name = 'front'
    elif a < OBLIQUE_MAX_DEG:
        name = 'oblique'
    elif a < SIDE_MAX_DEG:
        name = 'side'
    else:
        name = 'back'
    return ViewEstimate(name, yaw)
