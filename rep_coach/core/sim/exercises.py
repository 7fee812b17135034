"""
Kinematic description of the simulated exercises.

World frame (REP-103 style): x forward (where the lifter faces), y left, z up.
The sensor frame of the nominal mounting is the one of the thomas2025 Trigno
wrist sensor: x along the forearm pointing to the elbow, z out of the back
(exterior) of the wrist, y = z x x.  With the arm hanging in a supinated curl the
sensor x reads about +1 g and the elbow-flexion axis is the sensor y axis, as in
the recorded data (the gyro's principal axis there is y).

Each exercise is a rigid rotation of the wrist segment by ``theta`` about a fixed
world axis ``axis`` through a joint (elbow, shoulder, ...) plus an optional
translation along ``translation``; both are driven by one progress variable
``q`` (0 = start pose, 1 = nominal turning pose).  This captures what a wrist IMU
sees of these lifts: gravity rotating with the segment, the centripetal and
tangential acceleration of the lever, and the vertical acceleration of presses
and squats.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

import numpy as np

#: Sensor axes (columns: sensor x, y, z in world) for a supinated hang, dorsal side back.
_SUPINATED_HANG = np.array([[0.0, 0.0, -1.0],
                            [0.0, 1.0, 0.0],
                            [1.0, 0.0, 0.0]])
#: Neutral grip hanging (thumb forward, dorsal side facing out to the right).
_NEUTRAL_HANG = np.array([[0.0, -1.0, 0.0],
                          [0.0, 0.0, -1.0],
                          [1.0, 0.0, 0.0]])
#: Forearm vertical, hand above the elbow, palm forward (press start).
_PRESS_RACK = np.array([[0.0, 0.0, -1.0],
                        [0.0, -1.0, 0.0],
                        [-1.0, 0.0, 0.0]])
#: Front rack: forearm pointing forward from the wrist to the elbow, back of hand down.
_FRONT_RACK = np.array([[1.0, 0.0, 0.0],
                        [0.0, -1.0, 0.0],
                        [0.0, 0.0, -1.0]])


@dataclass(frozen=True)
class Exercise:
    """
    One lift as seen from the wrist.

    ``lever_m`` is the wrist's distance from the joint (range, sampled per
    subject), ``rom_deg`` the joint's range of motion (range), ``theta0_deg`` the
    joint angle at the start pose, measured about ``axis`` from the hanging pose
    that ``base`` describes.  ``translation_m`` scales the unit vector
    ``translation`` of the whole segment (presses, squats).  ``concentric_first``
    is False for lifts that start by lowering (squat): there the first half of a
    rep is the eccentric.  Tempo ranges are the unfatigued half-rep durations (s).
    """

    name: str
    axis: Tuple[float, float, float]
    base: np.ndarray
    lever_m: Tuple[float, float]
    theta0_deg: float
    rom_deg: Tuple[float, float]
    translation: Tuple[float, float, float] = (0.0, 0.0, 0.0)
    translation_m: Tuple[float, float] = (0.0, 0.0)
    concentric_first: bool = True
    concentric_s: Tuple[float, float] = (0.9, 1.5)
    eccentric_s: Tuple[float, float] = (1.0, 1.8)

    def lever_vector(self) -> np.ndarray:
        """Joint-to-wrist vector direction at theta = 0 (the hanging pose), unit length."""
        # The sensor x axis points from the wrist to the joint in every base pose.
        return -self.base[:, 0]


EXERCISES: Dict[str, Exercise] = {e.name: e for e in (
    # Forearm rotates 120-150 deg about the elbow (lateral axis); wrist ~0.25 m from it.
    Exercise('biceps_curl', (0.0, -1.0, 0.0), _SUPINATED_HANG, (0.22, 0.30), 0.0, (120.0, 150.0)),
    # Same joint motion, neutral grip: flexion is about the sensor z axis.
    Exercise('hammer_curl', (0.0, -1.0, 0.0), _NEUTRAL_HANG, (0.22, 0.30), 0.0, (115.0, 140.0)),
    # Upper arm on a 45 deg pad: starts part-flexed, shorter range.
    Exercise('preacher_curl', (0.0, -1.0, 0.0), _SUPINATED_HANG, (0.22, 0.30), 40.0,
             (95.0, 120.0), concentric_s=(1.0, 1.6), eccentric_s=(1.2, 2.0)),
    # Straight arm abducts ~90 deg about the shoulder (forward axis); hand ~0.6 m out.
    Exercise('lateral_raise', (-1.0, 0.0, 0.0), _NEUTRAL_HANG, (0.55, 0.68), 0.0, (75.0, 95.0),
             concentric_s=(0.9, 1.4), eccentric_s=(1.0, 1.7)),
    # Wrist rises ~0.45 m from the shoulders; forearm tilts in a little.
    Exercise('overhead_press', (1.0, 0.0, 0.0), _PRESS_RACK, (0.0, 0.0), 0.0, (10.0, 25.0),
             (0.0, 0.0, 1.0), (0.38, 0.52), concentric_s=(0.8, 1.4), eccentric_s=(1.0, 1.6)),
    # Front squat, wrists at the shoulders: descend ~0.5 m first, torso leans ~15-25 deg.
    Exercise('front_squat', (0.0, -1.0, 0.0), _FRONT_RACK, (0.0, 0.0), 0.0, (12.0, 28.0),
             (0.0, 0.0, -1.0), (0.40, 0.60), concentric_first=False,
             concentric_s=(0.9, 1.6), eccentric_s=(1.1, 1.9)),
)}
#: Accepted aliases of exercise names.
ALIASES = {'curl': 'biceps_curl', 'squat': 'front_squat', 'press': 'overhead_press',
           'ohp': 'overhead_press'}


def get_exercise(name: str) -> Exercise:
    """Return the exercise called ``name`` (or an alias); KeyError lists the known ones."""
    key = ALIASES.get(name, name)
    if key not in EXERCISES:
        raise KeyError(f'unknown exercise {name!r}; known: {", ".join(sorted(EXERCISES))}')
    return EXERCISES[key]
