"""
Rep-end events from the segmenter's per-sample probabilities (hysteresis).

The network is trained on a region around every rep end (0.4 s before to 0.3 s
after it, see ``rep_coach.training.data``), so a rep end shows up as a run of
high probability around it.  A run *starts* when the probability reaches ``on``
and *ends* once it has stayed ``confirm_s`` below half of the run's peak (or
below ``off``): a one-sample wobble does not split a run.

The two edges are not equally informative for a causal network.  The rising
edge asks it to foresee that the arm will stop 0.4 s from now, and it rises late
by a lifter-dependent amount (with a symmetric +-0.4 s target, held-out subject
A321: 0.25 s before the end instead of 0.4, spread 0.1 s).  The falling edge
asks whether the arm stopped a fixed time ago, which the samples since then
show: it sat 0.36 s after the end for a 0.4 s target, spread 0.03 s.  So the end
is placed at the falling edge's half-maximum crossing (half the run's peak,
interpolated between samples) minus ``end_offset_s`` - the target's extent after
the end, not a fitted value - and the event is decided when the run ends, right
after that crossing (not when the probability has decayed to some floor: on slow
reps the network's output lingers, which delayed cues by up to 1.2 s).

Thresholds: a network trained on three or four lifters is often unsure at a new
lifter's slow reps near failure (runs peaking at 0.2-0.5 where its confident
ends peak above 0.9), so a run starts at a low ``on`` and its end is timed at
half of its own peak, not at a fixed level a weak run never reaches.  What a low
threshold lets through besides (settling after the set, a shift of the weight)
is rejected by the segmenter's range-of-motion check
(:class:`~rep_coach.learned.segmenter.LearnedSegmenter`).  A run that lasts
``max_run_s`` without ending fires then from its rising edge instead (end =
start + ``rise_offset_s``, the target's extent before the end); runs
shorter than ``min_run_s`` are blips; ``refractory_s`` after an end no new run
starts (a rep takes well over a second).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, NamedTuple, Optional, Tuple

import numpy as np


@dataclass
class PickerConfig:
    """Thresholds of :class:`EndPicker` (offsets fixed from the target's definition)."""

    on: float = 0.25
    off: float = 0.15
    end_offset_s: float = 0.3     # target region after the end (training.data.END_AFTER_S)
    rise_offset_s: float = 0.4    # target region before the end (END_BEFORE_S)
    min_run_s: float = 0.12
    max_run_s: float = 1.6
    refractory_s: float = 0.8
    confirm_s: float = 0.01       # below the end level this long ends a run (not a wobble)


class PickedEnd(NamedTuple):
    """A rep end the picker decided: its time, the decision's time, the run's peak."""

    end: float
    stamp: float
    peak: float     # highest probability of the run (how sure the network was)


class EndPicker:
    """Causal hysteresis edge picker over a probability stream."""

    #: The falling edge is where the run falls below this fraction of its peak.
    HALF = 0.5

    def __init__(self, config: Optional[PickerConfig] = None) -> None:
        """Create a picker; see :class:`PickerConfig`."""
        self.config = config or PickerConfig()
        self.reset()

    def reset(self) -> None:
        """Forget the stream."""
        self._run_start: Optional[float] = None
        self._fired = False
        self._last_end = -np.inf
        self._fall = 0.0                  # latest half-maximum crossing of the run
        self._peak = 0.0                  # the run's highest probability so far
        self._below_since: Optional[float] = None   # when p fell below the end level
        self._prev: Tuple[float, float] = (-np.inf, 0.0)

    def update(self, t: np.ndarray, p: np.ndarray) -> List[PickedEnd]:
        """Consume samples (times, probabilities); return one :class:`PickedEnd` per rep."""
        cfg = self.config
        out: List[PickedEnd] = []
        for ti, pi in zip(np.asarray(t, dtype=float).tolist(),
                          np.asarray(p, dtype=float).tolist()):
            prev_t, prev_p = self._prev
            self._prev = (ti, pi)
            if self._run_start is None:
                if pi >= cfg.on and ti - self._last_end >= cfg.refractory_s:
                    self._run_start, self._fired, self._fall = ti, False, ti
                    self._peak, self._below_since = pi, None
                continue
            self._peak = max(self._peak, pi)
            level = self.HALF * self._peak
            if pi >= level:
                self._fall = ti
            elif prev_p >= level:
                # Linear interpolation of the crossing between the two samples.
                self._fall = prev_t + (ti - prev_t) * (prev_p - level) / (prev_p - pi)
            # 1e-9: grid times are k / 100 in floating point.
            if not self._fired and ti - self._run_start >= cfg.max_run_s - 1e-9:
                out.append(self._fire(self._run_start + cfg.rise_offset_s, ti))
            if pi >= max(cfg.off, level):
                self._below_since = None
                continue
            if self._below_since is None:
                self._below_since = ti
            if ti - self._below_since >= cfg.confirm_s - 1e-9:
                if not self._fired and self._fall - self._run_start >= cfg.min_run_s:
                    end = max(self._fall - cfg.end_offset_s, self._last_end + cfg.refractory_s)
                    out.append(self._fire(end, ti))
                self._run_start = None
        return out

    def _fire(self, end: float, stamp: float) -> PickedEnd:
        self._fired = True
        self._last_end = end
        return PickedEnd(min(end, stamp), stamp, self._peak)
