"""
Per-frame measurements the form rules compare with their thresholds.

Each metric takes a :class:`PoseResult` and returns a :class:`Measure`: a value
(degrees, metres or a ratio) or NaN with the reason it could not be measured.
Bilateral metrics use only the sides whose landmarks are reliable, so a
camera at 45 degrees still judges the near side; a fault on either side counts
(``worst``), since one caving knee or one dropped elbow is a fault.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Callable, List, Optional, Sequence

import numpy as np

from rep_coach.pose import geometry as g
from rep_coach.pose.landmarks import Lm, PoseResult

NAN = float('nan')


@dataclass(frozen=True)
class Measure:
    """A metric value, or NaN and why it is missing."""

    value: float
    reason: Optional[str] = None

    @property
    def ok(self) -> bool:
        """Return True when the value is usable."""
        return not math.isnan(self.value)


Metric = Callable[[PoseResult], Measure]

ARM = {'left': (Lm.LEFT_SHOULDER, Lm.LEFT_ELBOW, Lm.LEFT_WRIST, Lm.LEFT_HIP),
       'right': (Lm.RIGHT_SHOULDER, Lm.RIGHT_ELBOW, Lm.RIGHT_WRIST, Lm.RIGHT_HIP)}
LEG = {'left': (Lm.LEFT_HIP, Lm.LEFT_KNEE, Lm.LEFT_ANKLE, Lm.LEFT_HEEL, Lm.LEFT_FOOT_INDEX),
       'right': (Lm.RIGHT_HIP, Lm.RIGHT_KNEE, Lm.RIGHT_ANKLE, Lm.RIGHT_HEEL,
                 Lm.RIGHT_FOOT_INDEX)}
TORSO = (Lm.LEFT_SHOULDER, Lm.RIGHT_SHOULDER, Lm.LEFT_HIP, Lm.RIGHT_HIP)


def _per_side(p: PoseResult, needs: dict, fn: Callable[[str], float],
              reduce: Callable[[Sequence[float]], float]) -> Measure:
    values: List[float] = []
    missing = None
    for side, lms in needs.items():
        bad = p.first_unreliable(lms)
        if bad is not None:
            missing = missing or bad
            continue
        v = fn(side)
        if not math.isnan(v):
            values.append(v)
    if not values:
        return Measure(NAN, f'{missing} not visible' if missing else 'not measurable')
    return Measure(float(reduce(values)))


def _mean(v: Sequence[float]) -> float:
    return float(np.mean(v))


def _needs(p: PoseResult, lms: Sequence[int]) -> Optional[Measure]:
    bad = p.first_unreliable(lms)
    return None if bad is None else Measure(NAN, f'{bad} not visible')


def upper_arm_elevation(p: PoseResult) -> Measure:
    """
    Return the lower upper-arm angle from hanging straight down (degrees).

    90 = upper arm parallel to the floor (front-rack ideal), 0 = hanging.
    """
    w = p.world
    return _per_side(p, {s: ARM[s][:2] for s in ARM},
                     lambda s: g.from_vertical_down(w, ARM[s][0], ARM[s][1]), min)


def knee_valgus(p: PoseResult) -> Measure:
    """Return the worse knee's frontal-plane medial shin tilt (degrees)."""
    w = p.world
    return _per_side(p, {s: LEG[s][1:3] for s in LEG},
                     lambda s: g.knee_medial_angle(w, s), max)


def knee_angle(p: PoseResult) -> Measure:
    """Return the mean knee angle of the reliable legs (180 = straight)."""
    w = p.world
    return _per_side(p, {s: LEG[s][:3] for s in LEG},
                     lambda s: g.joint_angle(w, *LEG[s][:3]), _mean)


def hip_angle(p: PoseResult) -> Measure:
    """Return the mean sagittal trunk-thigh angle of the reliable sides (180 = upright)."""
    miss = _needs(p, TORSO)
    if miss:
        return miss
    w = p.world
    return _per_side(p, {s: LEG[s][:2] for s in LEG},
                     lambda s: g.sagittal_hip_angle(w, s), _mean)


def elbow_angle(p: PoseResult) -> Measure:
    """Return the mean elbow angle of the reliable arms (180 = straight)."""
    w = p.world
    return _per_side(p, {s: ARM[s][:3] for s in ARM},
                     lambda s: g.joint_angle(w, *ARM[s][:3]), _mean)


def arm_from_trunk(p: PoseResult) -> Measure:
    """
    Return the worse angle between upper arm and trunk side (degrees).

    Shoulder->elbow against shoulder->hip: ~0 with the arm at the side, 90 when
    abducted or flexed to shoulder height.  Used for curl elbow drift and bench
    flare.
    """
    w = p.world
    return _per_side(p, {s: (ARM[s][0], ARM[s][1], ARM[s][3]) for s in ARM},
                     lambda s: g.joint_angle(w, ARM[s][1], ARM[s][0], ARM[s][3]), max)


def stance_ratio(p: PoseResult) -> Measure:
    """Return ankle separation (ground plane) over shoulder width (3D)."""
    miss = _needs(p, (Lm.LEFT_ANKLE, Lm.RIGHT_ANKLE, Lm.LEFT_SHOULDER, Lm.RIGHT_SHOULDER))
    if miss:
        return miss
    w = p.world
    feet = float(np.linalg.norm(g.horizontal(w[Lm.LEFT_ANKLE] - w[Lm.RIGHT_ANKLE])))
    shoulders = float(np.linalg.norm(w[Lm.LEFT_SHOULDER] - w[Lm.RIGHT_SHOULDER]))
    if shoulders < 0.1:
        return Measure(NAN, 'shoulder width implausible')
    return Measure(feet / shoulders)


def trunk_lean(p: PoseResult) -> Measure:
    """Return the trunk's angle from vertical (degrees)."""
    miss = _needs(p, TORSO)
    return miss or Measure(g.trunk_lean(p.world))


def thigh_angle(p: PoseResult) -> Measure:
    """Return the mean thigh angle above horizontal of the reliable legs (degrees)."""
    w = p.world
    return _per_side(p, {s: LEG[s][:2] for s in LEG},
                     lambda s: g.thigh_above_horizontal(w, *LEG[s][:2]), _mean)


def bar_over_midfoot(p: PoseResult) -> Measure:
    """
    Return the ground-plane distance from the wrists' midpoint to mid-foot (m).

    The bar hangs in the hands, so the wrists' midpoint stands for the bar.
    """
    w = p.world
    wrists = [lm for lm in (Lm.LEFT_WRIST, Lm.RIGHT_WRIST) if p.reliable([lm])]
    feet = [lm for lm in (Lm.LEFT_HEEL, Lm.RIGHT_HEEL, Lm.LEFT_FOOT_INDEX,
                          Lm.RIGHT_FOOT_INDEX) if p.reliable([lm])]
    if not wrists:
        return Measure(NAN, 'wrists not visible')
    if len(feet) < 2:
        return Measure(NAN, 'feet not visible')
    bar = np.mean([w[i] for i in wrists], axis=0)
    foot = np.mean([w[i] for i in feet], axis=0)
    return Measure(float(np.linalg.norm(g.horizontal(bar - foot))))


def wrist_height_gap(p: PoseResult) -> Measure:
    """Return the vertical gap between the two wrists (m), for a tilted bar."""
    miss = _needs(p, (Lm.LEFT_WRIST, Lm.RIGHT_WRIST))
    if miss:
        return miss
    return Measure(abs(float(p.world[Lm.LEFT_WRIST][1] - p.world[Lm.RIGHT_WRIST][1])))
