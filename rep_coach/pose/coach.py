"""
FormCoach: pose estimator + smoothing + form rules + reps -> verdicts and cues.

This is the core the ``form_coach`` node and ``rep-coach form`` both call:
``process(frame_bgr, t)`` per frame, ``finish()`` at the end of a stream.
``process_pose(pose, t)`` takes landmarks from any source (tests feed
synthetic sequences through it).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
import math
from typing import Callable, Dict, List, Optional, Set

import numpy as np

from rep_coach.pose.estimator import make_estimator, PoseEstimator
from rep_coach.pose.exercises import Exercise, get_exercise
from rep_coach.pose.geometry import estimate_view
from rep_coach.pose.landmarks import PoseResult
from rep_coach.pose.metrics import Measure, Metric, TORSO
from rep_coach.pose.reps import RepCounter, RepEdge
from rep_coach.pose.rules import FrameRule, RepTrace
from rep_coach.pose.smoothing import OneEuroFilter

#: Seconds the view must stay unsuitable before the coach says so aloud.
VIEW_CUE_AFTER_S = 1.0
VIEW_ADVICE = {'side': 'film from the side', 'oblique': 'film at 45 degrees',
               'front': 'film from the front'}


@dataclass
class RepVerdict:
    """The verdict on one completed rep (``index`` counts from 1)."""

    index: int
    t_start: float
    t_end: float
    faults: List[str]
    values: Dict[str, float] = field(default_factory=dict)
    unjudged: Dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict:
        """Return a JSON-ready dict."""
        return {'index': self.index, 't_start': round(self.t_start, 3),
                't_end': round(self.t_end, 3), 'faults': list(self.faults),
                'values': {k: _r(v) for k, v in self.values.items()},
                'unjudged': dict(self.unjudged)}


@dataclass
class FrameVerdict:
    """
    What the coach concluded on one frame.

    ``status`` is ``ok``, ``no_person`` or ``view_unsuitable`` (nothing can be
    judged from this view; ``reason`` says why).  ``faults`` are the faults
    active now; ``unjudged`` maps the faults that could not be judged on this
    frame to the reason; ``rep`` is set on the frame a rep is completed;
    ``cues`` are short spoken texts (each fault at most once per rep).
    """

    index: int
    t: float
    person: bool
    status: str
    reason: str = ''
    view: Optional[str] = None
    yaw_deg: float = float('nan')
    faults: List[str] = field(default_factory=list)
    unjudged: Dict[str, str] = field(default_factory=dict)
    metrics: Dict[str, float] = field(default_factory=dict)
    rep_count: int = 0
    rep: Optional[RepVerdict] = None
    cues: List[str] = field(default_factory=list)
    pose: Optional[PoseResult] = field(default=None, repr=False)

    def to_dict(self) -> dict:
        """Return a JSON-ready dict (without the landmarks)."""
        return {'index': self.index, 't': round(self.t, 3), 'person': self.person,
                'status': self.status, 'reason': self.reason, 'view': self.view,
                'yaw_deg': _r(self.yaw_deg), 'faults': list(self.faults),
                'unjudged': dict(self.unjudged),
                'metrics': {k: _r(v) for k, v in self.metrics.items()},
                'rep_count': self.rep_count,
                'rep': self.rep.to_dict() if self.rep else None, 'cues': list(self.cues)}


def _r(v: float) -> Optional[float]:
    return None if v is None or math.isnan(v) else round(float(v), 3)


@dataclass
class _RuleState:
    active: bool = False
    streak: int = 0


class PoseSmoother:
    """One-Euro smoothing of world, image and probability arrays of a pose."""

    def __init__(self) -> None:
        """Create the filters (metres, normalized units, probabilities)."""
        self._world = OneEuroFilter(min_cutoff_hz=1.5, beta=2.0)
        self._image = OneEuroFilter(min_cutoff_hz=1.5, beta=4.0)
        self._prob = OneEuroFilter(min_cutoff_hz=3.0, beta=0.0)

    def __call__(self, p: PoseResult) -> PoseResult:
        """Return the smoothed copy of ``p``."""
        probs = self._prob(np.stack([p.visibility, np.nan_to_num(p.presence, nan=-1.0)]), p.t)
        pres = np.where(np.isnan(p.presence), np.nan, probs[1])
        return replace(p, world=self._world(p.world, p.t), image=self._image(p.image, p.t),
                       visibility=probs[0], presence=pres)


class FormCoach:
    """
    Judge one lifter's form, frame by frame and rep by rep.

    ``estimator`` defaults to the mediapipe backend (``static_image`` selects
    single-image mode: no tracking, no smoothing, no reps, faults on the first
    frame).  ``min_frames`` is how many consecutive frames a fault must persist
    to be raised or cleared.
    """

    def __init__(self, exercise: str = 'front_squat', estimator: Optional[PoseEstimator] = None,
                 static_image: bool = False, backend: str = 'mediapipe',
                 min_frames: int = 3) -> None:
        """Set up the coach; the estimator is built lazily on the first frame."""
        self.exercise: Exercise = get_exercise(exercise)
        self.static_image = static_image
        self.min_frames = 1 if static_image else max(1, int(min_frames))
        self._estimator = estimator
        self._backend = backend
        self._smoother: Optional[PoseSmoother] = None if static_image else PoseSmoother()
        self._counter = RepCounter(self.exercise.top_deg, self.exercise.bottom_deg)
        self._states: Dict[str, _RuleState] = {r.fault: _RuleState()
                                               for r in self.exercise.frame_rules}
        self._index = 0
        self._trace: Optional[RepTrace] = None
        self._rep_faults: List[str] = []
        self._rep_t0 = float('nan')
        self._cued: Set[str] = set()
        self._bad_view_since: Optional[float] = None
        self._view_cued = False
        self.reps: List[RepVerdict] = []

    # -- public API -------------------------------------------------------
    def process(self, frame_bgr: np.ndarray, t: float) -> FrameVerdict:
        """Estimate the pose in ``frame_bgr`` (BGR uint8) taken at ``t`` s and judge it."""
        if self._estimator is None:
            self._estimator = make_estimator(self._backend, static_image=self.static_image)
        return self.process_pose(self._estimator.estimate(frame_bgr, t), t)

    def process_pose(self, pose: Optional[PoseResult], t: float) -> FrameVerdict:
        """Judge one frame's landmarks (None when no person was found)."""
        index = self._index
        self._index += 1
        if pose is None:
            return self._no_person(index, t)
        if self._smoother is not None:
            pose = self._smoother(pose)
        cache: Dict[Callable, Measure] = {}

        def measure(fn: Metric) -> Measure:
            if fn not in cache:
                cache[fn] = fn(pose)
            return cache[fn]

        v = FrameVerdict(index, t, True, 'ok', pose=pose)
        bad = pose.first_unreliable(TORSO)
        if bad is not None:
            self._clear_rules()
            v.status, v.reason = 'view_unsuitable', f'torso not visible ({bad})'
        else:
            view = estimate_view(pose.world)
            v.view, v.yaw_deg = view.name, view.yaw_deg
            for rule in self.exercise.frame_rules:
                self._judge_rule(rule, view.name, measure, v)
            rep_views = [r for r in self.exercise.rep_rules if view.name in r.views]
            if len(v.unjudged) == len(self.exercise.frame_rules) and not rep_views:
                v.status = 'view_unsuitable'
                v.reason = '; '.join(sorted(set(v.unjudged.values())))
        v.metrics = {fn.__name__: m.value for fn, m in cache.items()}
        if not self.static_image:
            self._update_reps(t, measure(self.exercise.signal).value, v,
                              {k: measure(fn).value for k, fn in self.exercise.recorded.items()})
        self._view_cue(v)
        v.rep_count = self._counter.count
        return v

    def finish(self) -> Optional[RepVerdict]:
        """Close the stream: complete a rep still settling and return it."""
        edge = self._counter.flush()
        return self._finish_rep(self._last_t()) if edge.finished else None

    def close(self) -> None:
        """Release the estimator."""
        if self._estimator is not None:
            self._estimator.close()
            self._estimator = None

    # -- rules ------------------------------------------------------------
    def _judge_rule(self, rule: FrameRule, view: str, measure: Callable[[Metric], Measure],
                    v: FrameVerdict) -> None:
        state = self._states[rule.fault]
        if view not in rule.views:
            v.unjudged[rule.fault] = rule.why_not_view or f'not judged from a {view} view'
            state.active, state.streak = False, 0
            return
        if rule.gate is not None:
            gm = measure(rule.gate[0])
            if not gm.ok:
                v.unjudged[rule.fault] = gm.reason or 'not measurable'
                state.active, state.streak = False, 0
                return
            above = gm.value > rule.gate[1]
            if above != rule.gate[2]:
                state.active, state.streak = False, 0  # outside the phase: no fault
                return
        m = measure(rule.metric)
        if not m.ok:
            v.unjudged[rule.fault] = m.reason or 'not measurable'
            state.active, state.streak = False, 0
            return
        # Count frames that disagree with the current state; flip after min_frames.
        state.streak = state.streak + 1 if rule.beyond(m.value, state.active) != state.active \
            else 0
        if state.streak >= self.min_frames:
            state.active, state.streak = not state.active, 0
            if state.active and rule.fault not in self._cued:
                self._cued.add(rule.fault)
                v.cues.append(rule.cue)
        if state.active:
            v.faults.append(rule.fault)
            if self._counter.in_rep and rule.fault not in self._rep_faults:
                self._rep_faults.append(rule.fault)

    def _clear_rules(self) -> None:
        for state in self._states.values():
            state.active, state.streak = False, 0

    # -- reps -------------------------------------------------------------
    def _update_reps(self, t: float, angle: float, v: FrameVerdict,
                     recorded: Dict[str, float]) -> None:
        edge = self._counter.update(t, angle)
        self._apply_edge(edge, t, v)
        if self._counter.in_rep and self._trace is not None:
            self._trace.add(t, v.view or '', recorded)

    def _apply_edge(self, edge: RepEdge, t: float, v: FrameVerdict) -> None:
        if edge.aborted:
            self._trace, self._rep_faults = None, []
        if edge.finished:
            v.rep = self._finish_rep(t)
            v.cues.extend(c for c in self._rep_cues(v.rep) if c not in v.cues)
        if edge.started:
            self._trace, self._rep_t0 = RepTrace(), t
            # Faults already active when the rep starts belong to it too.
            self._rep_faults = [f for f, s in self._states.items() if s.active]

    def _finish_rep(self, t: float) -> RepVerdict:
        faults, values, unjudged = list(self._rep_faults), {}, {}
        trace = self._trace or RepTrace()
        for rule in self.exercise.rep_rules:
            faulty, value, reason = rule.judge(trace)
            values[rule.fault] = value
            if faulty is None:
                unjudged[rule.fault] = reason
            elif faulty and rule.fault not in faults:
                faults.append(rule.fault)
        rep = RepVerdict(len(self.reps) + 1, self._rep_t0, t, faults, values, unjudged)
        self.reps.append(rep)
        self._trace, self._rep_faults = None, []
        self._cued = {f for f, s in self._states.items() if s.active}
        return rep

    def _rep_cues(self, rep: RepVerdict) -> List[str]:
        cues = {r.fault: r.cue for r in self.exercise.rep_rules}
        return [cues[f] for f in rep.faults if f in cues]

    def _no_person(self, index: int, t: float) -> FrameVerdict:
        v = FrameVerdict(index, t, False, 'no_person', 'no person detected')
        self._clear_rules()
        if not self.static_image:
            self._apply_edge(self._counter.update(t, None), t, v)
        v.rep_count = self._counter.count
        return v

    def _view_cue(self, v: FrameVerdict) -> None:
        if v.status != 'view_unsuitable':
            self._bad_view_since, self._view_cued = None, False
            return
        if self._bad_view_since is None:
            self._bad_view_since = v.t
        if not self._view_cued and (self.static_image
                                    or v.t - self._bad_view_since >= VIEW_CUE_AFTER_S):
            self._view_cued = True
            v.cues.append('move the camera, '
                          + VIEW_ADVICE.get(self.exercise.best_view, 'film from the side'))

    def _last_t(self) -> float:
        return self._trace.t[-1] if self._trace and self._trace.t else self._rep_t0
