"""
Form rules: what is measured, where it can be seen, and when it is a fault.

A :class:`FrameRule` compares one per-frame metric with a threshold, with
hysteresis and a minimum duration so landmark jitter cannot toggle it.  A
:class:`RepRule` reduces a metric over a whole rep (e.g. the deepest point) and
is judged once when the rep ends.  Each rule lists the camera views from which
its metric is observable; from any other view it is refused, with a reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Dict, FrozenSet, List, Optional, Tuple

import numpy as np

from rep_coach.pose.metrics import Measure, Metric

ALL_VIEWS: FrozenSet[str] = frozenset({'front', 'oblique', 'side', 'back'})
SAGITTAL: FrozenSet[str] = frozenset({'oblique', 'side'})
FRONTAL: FrozenSet[str] = frozenset({'front', 'oblique', 'back'})


@dataclass(frozen=True)
class FrameRule:
    """
    A fault judged on every frame.

    The fault is raised when ``metric`` is beyond ``threshold`` (above it when
    ``above`` else below) for ``min_frames`` frames, and cleared once it is back
    by ``hysteresis`` for as long.  ``gate`` (on the same pose) limits the rule
    to the movement phase where it applies, e.g. knees only once bent.
    """

    fault: str
    cue: str
    metric: Metric
    threshold: float
    above: bool
    views: FrozenSet[str]
    hysteresis: float = 0.0
    gate: Optional[Tuple[Metric, float, bool]] = None
    why_not_view: str = ''

    def beyond(self, value: float, active: bool) -> bool:
        """Return True when ``value`` counts as faulty, given the current state."""
        margin = -self.hysteresis if active else 0.0
        if self.above:
            return value > self.threshold + margin
        return value < self.threshold - margin


@dataclass
class RepTrace:
    """Per-frame metric values recorded over one rep (NaN where unmeasured)."""

    t: List[float] = field(default_factory=list)
    views: List[str] = field(default_factory=list)
    values: Dict[str, List[float]] = field(default_factory=dict)

    def add(self, t: float, view: str, values: Dict[str, float]) -> None:
        """Append one frame."""
        self.t.append(t)
        self.views.append(view)
        for k in set(self.values) | set(values):
            self.values.setdefault(k, [float('nan')] * (len(self.t) - 1))
            self.values[k].append(values.get(k, float('nan')))

    def series(self, name: str) -> np.ndarray:
        """Return the values of metric ``name`` as an array."""
        return np.asarray(self.values.get(name, [float('nan')] * len(self.t)), dtype=float)


#: Reduces a rep's trace to one number (NaN = cannot judge) and the view it was
#: judged from.
Reducer = Callable[[RepTrace], Tuple[float, str]]


@dataclass(frozen=True)
class RepRule:
    """A fault judged once per rep from a reduction of its trace."""

    fault: str
    cue: str
    reduce: Reducer
    threshold: float
    above: bool
    views: FrozenSet[str]
    why_not_view: str = ''

    def judge(self, trace: RepTrace) -> Tuple[Optional[bool], float, str]:
        """Return (faulty or None when not judgeable, value, reason)."""
        value, view = self.reduce(trace)
        if np.isnan(value):
            return None, value, 'not measurable during the rep'
        if view not in self.views:
            return None, value, self.why_not_view or f'not judged from a {view} view'
        faulty = value > self.threshold if self.above else value < self.threshold
        return faulty, value, ''


def extreme_of(name: str, use_max: bool) -> Reducer:
    """Return a reducer taking the min (or max) of metric ``name`` over the rep."""
    def reduce(trace: RepTrace) -> Tuple[float, str]:
        s = trace.series(name)
        if not np.any(np.isfinite(s)):
            return float('nan'), ''
        i = int(np.nanargmax(s) if use_max else np.nanargmin(s))
        return float(s[i]), trace.views[i]
    return reduce


def range_of(name: str) -> Reducer:
    """Return a reducer taking the max - min of metric ``name`` over the rep."""
    def reduce(trace: RepTrace) -> Tuple[float, str]:
        s = trace.series(name)
        if np.sum(np.isfinite(s)) < 2:
            return float('nan'), ''
        views = [v for v, x in zip(trace.views, s) if np.isfinite(x)]
        return float(np.nanmax(s) - np.nanmin(s)), max(set(views), key=views.count)
    return reduce


def trunk_lag(trace: RepTrace) -> Tuple[float, str]:
    """
    Return the share of trunk rise done when the knees are half extended.

    Deadlift "hips shoot up": from the bottom of the pull the knees straighten
    while the chest stays down.  Chest and hips rising together gives a share
    near one half; hips first gives near zero.  NaN when the trunk hardly moves.
    """
    knee, lean = trace.series('knee_angle'), trace.series('trunk_lean')
    hip = trace.series('hip_angle')
    if not np.any(np.isfinite(hip)):
        return float('nan'), ''
    b = int(np.nanargmin(hip))
    k, tl = knee[b:], lean[b:]
    ok = np.isfinite(k) & np.isfinite(tl)
    if ok.sum() < 3:
        return float('nan'), ''
    k, tl = k[ok], tl[ok]
    if tl[0] - np.min(tl) < 15.0 or np.max(k) - k[0] < 10.0:
        return float('nan'), ''
    half = int(np.argmax(k >= k[0] + 0.5 * (np.max(k) - k[0])))
    share = (tl[0] - tl[half]) / (tl[0] - np.min(tl))
    return float(share), trace.views[b]


def measure_all(metrics: Dict[str, Metric], pose) -> Dict[str, Measure]:
    """Evaluate every named metric on ``pose``."""
    return {name: m(pose) for name, m in metrics.items()}
