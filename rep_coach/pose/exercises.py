"""
The exercise catalogue: rep signal, rules and thresholds with their reasons.

Thresholds come from coaching norms plus a margin for BlazePose's error on world
landmarks (a few centimetres, so roughly 5-10 degrees on a limb); they are not
fitted to any photo.  ``docs/pose.md`` gives the reasoning for each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Tuple

from rep_coach.pose import metrics as m
from rep_coach.pose.rules import (ALL_VIEWS, extreme_of, FrameRule, FRONTAL, range_of,
                                  RepRule, SAGITTAL, trunk_lag)

SIDE_OR_45 = 'film from the side or at 45 degrees'
FRONT_OR_45 = 'film from the front or at 45 degrees'


@dataclass(frozen=True)
class Exercise:
    """
    One lift: the joint angle that counts reps, and its form rules.

    A rep starts when ``signal`` (degrees; every lift here starts extended)
    drops below ``top_deg``, must reach below ``bottom_deg``, and ends when it
    rises back above ``top_deg``.  ``recorded`` metrics are kept per frame for
    the rep rules.
    """

    name: str
    signal: m.Metric
    top_deg: float
    bottom_deg: float
    frame_rules: Tuple[FrameRule, ...]
    rep_rules: Tuple[RepRule, ...]
    recorded: Dict[str, m.Metric]
    best_view: str


def _gate_knees_bent() -> Tuple[m.Metric, float, bool]:
    # The shin has no direction to compare with the foot until the knee bends.
    return (m.knee_angle, 150.0, False)


def _knees_caving() -> FrameRule:
    # Knee inside the ankle by 10 deg of frontal-plane shin tilt (FPPA-like);
    # knees tracking over turned-out toes sit outside the ankles (negative).
    return FrameRule('knees_caving', 'knees out', m.knee_valgus, 10.0, True, FRONTAL, 3.0,
                     gate=_gate_knees_bent(),
                     why_not_view='knee travel is across the camera axis in a side view; '
                                  + FRONT_OR_45)


def _stance() -> Tuple[FrameRule, FrameRule]:
    why = 'the feet overlap in a side view; ' + FRONT_OR_45
    return (FrameRule('stance_narrow', 'feet wider', m.stance_ratio, 0.8, False, FRONTAL, 0.05,
                      why_not_view=why),
            FrameRule('stance_wide', 'feet closer', m.stance_ratio, 1.8, True, FRONTAL, 0.05,
                      why_not_view=why))


def _torso_forward(limit: float) -> FrameRule:
    return FrameRule('torso_forward', 'chest up', m.trunk_lean, limit, True, SAGITTAL, 5.0,
                     why_not_view='trunk lean is along the camera axis in a front view; '
                                  + SIDE_OR_45)


def _depth() -> RepRule:
    # Parallel (hip joint level with the knee joint) plus 10 degrees for noise;
    # the vertical axis is in the image plane from any level camera.
    return RepRule('depth_shallow', 'go deeper', extreme_of('thigh_angle', use_max=False),
                   10.0, True, ALL_VIEWS)


SQUAT_RECORDED = {'thigh_angle': m.thigh_angle, 'knee_angle': m.knee_angle,
                  'trunk_lean': m.trunk_lean}

FRONT_SQUAT = Exercise(
    name='front_squat', signal=m.knee_angle, top_deg=160.0, bottom_deg=140.0,
    frame_rules=(
        # Front rack: upper arms near parallel to the floor (90 deg from hanging);
        # 60 allows 30 deg for mobility and landmark error before "elbows up".
        FrameRule('elbows_low', 'elbows up', m.upper_arm_elevation, 60.0, False, SAGITTAL, 5.0,
                  why_not_view='upper-arm elevation lies along the camera axis in a front '
                               'view; ' + SIDE_OR_45),
        _knees_caving(), *_stance(), _torso_forward(45.0)),
    rep_rules=(_depth(),), recorded=SQUAT_RECORDED, best_view='oblique')

BACK_SQUAT = Exercise(
    name='back_squat', signal=m.knee_angle, top_deg=160.0, bottom_deg=140.0,
    frame_rules=(_knees_caving(), *_stance(), _torso_forward(60.0)),
    rep_rules=(_depth(),), recorded=SQUAT_RECORDED, best_view='oblique')

DEADLIFT = Exercise(
    name='deadlift', signal=m.hip_angle, top_deg=155.0, bottom_deg=120.0,
    frame_rules=(
        # The bar should travel over mid-foot; 12 cm = a few cm of coaching
        # tolerance plus world-landmark error.  Only while the hips are bent.
        FrameRule('bar_drift', 'bar close', m.bar_over_midfoot, 0.12, True, SAGITTAL, 0.02,
                  gate=(m.hip_angle, 150.0, False),
                  why_not_view='bar-to-foot distance is along the camera axis in a front '
                               'view; ' + SIDE_OR_45),),
    rep_rules=(
        RepRule('lockout_incomplete', 'finish the hips', extreme_of('hip_angle', True),
                165.0, False, SAGITTAL, 'hip extension is seen from the side; ' + SIDE_OR_45),
        RepRule('hips_rise_early', 'chest and hips together', trunk_lag, 0.2, False, SAGITTAL,
                'trunk angle is seen from the side; ' + SIDE_OR_45)),
    recorded={'hip_angle': m.hip_angle, 'knee_angle': m.knee_angle,
              'trunk_lean': m.trunk_lean},
    best_view='side')

BENCH_PRESS = Exercise(
    name='bench_press', signal=m.elbow_angle, top_deg=150.0, bottom_deg=125.0,
    frame_rules=(
        # 45-75 deg of arm-to-torso angle is the usual tuck; beyond 80 flares.
        FrameRule('elbows_flared', 'tuck the elbows', m.arm_from_trunk, 80.0, True,
                  ALL_VIEWS, 5.0, gate=(m.elbow_angle, 110.0, False)),
        # A bar tilted by more than 6 cm between the hands is visible asymmetry.
        FrameRule('uneven_press', 'press evenly', m.wrist_height_gap, 0.06, True, FRONTAL,
                  0.01, gate=(m.elbow_angle, 150.0, False),
                  why_not_view='one hand hides the other in a side view; ' + FRONT_OR_45)),
    rep_rules=(
        # Bar to chest puts the elbows at ~70-90 deg; 100 leaves 10 for error.
        RepRule('rom_partial', 'touch the chest', extreme_of('elbow_angle', False), 100.0,
                True, ALL_VIEWS),
        RepRule('lockout_incomplete', 'lock out', extreme_of('elbow_angle', True), 160.0,
                False, ALL_VIEWS)),
    recorded={'elbow_angle': m.elbow_angle}, best_view='side')

BICEPS_CURL = Exercise(
    name='biceps_curl', signal=m.elbow_angle, top_deg=140.0, bottom_deg=90.0,
    frame_rules=(
        # Upper arm stays by the side; 30 deg allows the slight forward travel
        # coaches accept at the top.
        FrameRule('elbow_drift', 'elbows still', m.arm_from_trunk, 30.0, True, SAGITTAL, 5.0,
                  why_not_view='forward elbow travel is along the camera axis in a front '
                               'view; ' + SIDE_OR_45),),
    rep_rules=(
        RepRule('rom_partial', 'curl all the way', extreme_of('elbow_angle', False), 65.0,
                True, SAGITTAL, 'elbow flexion is along the camera axis in a front view; '
                + SIDE_OR_45),
        # More than 15 deg of trunk swing is using momentum.
        RepRule('torso_swing', 'no swinging', range_of('trunk_lean'), 15.0, True, SAGITTAL,
                'trunk swing is seen from the side; ' + SIDE_OR_45)),
    recorded={'elbow_angle': m.elbow_angle, 'trunk_lean': m.trunk_lean}, best_view='side')

EXERCISES: Dict[str, Exercise] = {e.name: e for e in (
    FRONT_SQUAT, BACK_SQUAT, DEADLIFT, BENCH_PRESS, BICEPS_CURL)}


def get_exercise(name: str) -> Exercise:
    """Return the exercise called ``name`` or raise ValueError listing the choices."""
    try:
        return EXERCISES[name]
    except KeyError:
        raise ValueError(f'exercise {name!r} unknown; choose one of {sorted(EXERCISES)}') \
            from None
