"""
Pose-based form coaching: BlazePose landmarks -> form faults, reps and cues.

Public API (stable for the ``form_coach`` node)::

    from rep_coach.pose import FormCoach
    coach = FormCoach('front_squat')          # mediapipe backend, video mode
    verdict = coach.process(frame_bgr, t)     # FrameVerdict: faults, cues, rep
    coach.finish(); coach.close()

The mediapipe backend is an optional extra (``pip install rep_coach[pose]``);
importing this package never imports mediapipe.
"""

from rep_coach.pose.coach import FormCoach, FrameVerdict, RepVerdict
from rep_coach.pose.estimator import (BACKENDS, make_estimator, PoseBackendUnavailable,
                                      PoseEstimator)
from rep_coach.pose.exercises import EXERCISES, get_exercise
from rep_coach.pose.landmarks import Lm, PoseResult

__all__ = ['BACKENDS', 'EXERCISES', 'FormCoach', 'FrameVerdict', 'Lm', 'PoseBackendUnavailable',
           'PoseEstimator', 'PoseResult', 'RepVerdict', 'get_exercise', 'make_estimator']
