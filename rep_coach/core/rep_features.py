"""Per-repetition features from the forearm's principal-axis rotation.

Inputs are the 100 Hz signals the baseline segmenter computes (and any other
segmenter can reproduce with :mod:`rep_coach.core.filters`): ``angle`` (rad,
the forearm's rotation about its principal gyro axis, lifting positive) and
``omega`` (rad/s, the angular velocity about that axis), with their times.

Two layers, so the learned classifier can reuse either:

* :func:`rep_kinematics` - what one rep alone says: durations, range of
  motion, concentric velocities;
* :class:`SetFeatureTracker` - the same rep relative to its set: velocity loss
  against the set's best rep so far (the velocity-based-training fatigue
  measure), duration ratio to the set's first reps, rep index.

Feature names are fixed in :data:`FEATURE_NAMES`; every value is a float (NaN
when undefined, e.g. a rep with no samples).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

#: Keys of the feature dict, in a stable order (the learned models' input order).
FEATURE_NAMES: Tuple[str, ...] = (
    'rep_in_set',          # 1-based index of the rep in its set
    'duration_s',          # start -> end
    'concentric_s',        # start -> peak (lifting)
    'eccentric_s',         # peak -> end (lowering)
    'rom_rad',             # angle(peak) - angle(start)
    'peak_conc_vel',       # max omega in the concentric, rad/s
    'mean_conc_vel',       # mean omega in the concentric, rad/s
    'velocity_loss',       # 1 - mean_conc_vel / best mean_conc_vel of the set so far
    'peak_velocity_loss',  # same with peak_conc_vel
    'duration_ratio',      # duration / mean duration of the set's first reps
    'concentric_ratio',    # concentric_s / mean concentric_s of the set's first reps
)

#: The features that compare a rep with its own set's first reps.  Absolute values
#: (durations, velocities, range of motion, the rep's index) say as much about the
#: lifter and the load as about fatigue; with four subjects to learn from, a
#: classifier given them learns who lifts rather than how tired they are.
RELATIVE_FEATURES: Tuple[str, ...] = (
    'velocity_loss', 'peak_velocity_loss', 'duration_ratio', 'concentric_ratio')


@dataclass
class RepKinematics:
    """What one rep's own samples say (no set context)."""

    duration_s: float
    concentric_s: float
    eccentric_s: float
    rom_rad: float
    peak_conc_vel: float
    mean_conc_vel: float


def rep_kinematics(t: np.ndarray, angle: np.ndarray, omega: np.ndarray,
                   start: float, end: float, peak: Optional[float] = None) -> RepKinematics:
    """Compute one rep's kinematics from uniformly sampled principal-axis signals.

    ``t``, ``angle`` and ``omega`` are aligned 1-D arrays covering at least the
    rep; ``start``/``end``/``peak`` are times on the same timeline.  When
    ``peak`` is None it is taken as the angle's maximum within the rep.
    """
    t = np.asarray(t, dtype=np.float64)
    i0, i1 = np.searchsorted(t, [start, end])
    i1 = min(max(i1, i0 + 1), t.size)
    if i1 - i0 < 2:
        nan = float('nan')
        return RepKinematics(float(end - start), nan, nan, nan, nan, nan)
    seg_angle = angle[i0:i1]
    if peak is None or not (start <= peak <= end):
        ip = i0 + int(np.argmax(seg_angle))
    else:
        ip = int(np.clip(np.searchsorted(t, peak), i0, i1 - 1))
    t_start, t_peak = float(t[i0]), float(t[ip])
    conc = omega[i0:ip + 1]
    duration = float(end - start)
    concentric = max(t_peak - t_start, 0.0)
    return RepKinematics(
        duration_s=duration,
        concentric_s=concentric,
        eccentric_s=max(duration - concentric, 0.0),
        rom_rad=float(angle[ip] - angle[i0]),
        peak_conc_vel=float(conc.max()) if conc.size else float('nan'),
        mean_conc_vel=float(conc.mean()) if conc.size else float('nan'))


@dataclass
class SetFeatureTracker:
    """Turns a set's successive :class:`RepKinematics` into feature dicts.

    Call :meth:`reset` at the start of every set.  ``n_reference`` is how many of
    the set's first reps define the reference duration (the first reps are the
    freshest; three smooths out a hesitant first rep).
    """

    n_reference: int = 3
    _count: int = 0
    _best_mean: float = float('nan')
    _best_peak: float = float('nan')
    _ref_durations: List[float] = field(default_factory=list)
    _ref_concentric: List[float] = field(default_factory=list)

    def reset(self) -> None:
        """Start a new set."""
        self._count = 0
        self._best_mean = float('nan')
        self._best_peak = float('nan')
        self._ref_durations = []
        self._ref_concentric = []

    @property
    def count(self) -> int:
        """Reps seen in the current set."""
        return self._count

    def add(self, kin: RepKinematics) -> Dict[str, float]:
        """Account for the next rep of the set; return its feature dict."""
        self._count += 1
        # "Best so far" includes the current rep, so the loss is always in [0, 1).
        self._best_mean = _nanmax(self._best_mean, kin.mean_conc_vel)
        self._best_peak = _nanmax(self._best_peak, kin.peak_conc_vel)
        if len(self._ref_durations) < self.n_reference:
            self._ref_durations.append(kin.duration_s)
            self._ref_concentric.append(kin.concentric_s)
        feats = asdict(kin)
        feats['rep_in_set'] = float(self._count)
        feats['velocity_loss'] = _loss(kin.mean_conc_vel, self._best_mean)
        feats['peak_velocity_loss'] = _loss(kin.peak_conc_vel, self._best_peak)
        feats['duration_ratio'] = _ratio(kin.duration_s, self._ref_durations)
        feats['concentric_ratio'] = _ratio(kin.concentric_s, self._ref_concentric)
        return {name: float(feats[name]) for name in FEATURE_NAMES}


def set_features(t: np.ndarray, angle: np.ndarray, omega: np.ndarray,
                 reps: Sequence[Tuple[float, float, Optional[float]]],
                 n_reference: int = 3) -> List[Dict[str, float]]:
    """Features of every rep of one set given ``(start, end, peak)`` per rep, in order.

    Offline convenience (e.g. features at the true rep boundaries for training).
    """
    tracker = SetFeatureTracker(n_reference=n_reference)
    return [tracker.add(rep_kinematics(t, angle, omega, s, e, p)) for s, e, p in reps]


def _nanmax(a: float, b: float) -> float:
    if math.isnan(a):
        return b
    if math.isnan(b):
        return a
    return max(a, b)


def _loss(value: float, best: float) -> float:
    if not (math.isfinite(value) and math.isfinite(best)) or best <= 0.0:
        return float('nan')
    return float(1.0 - value / best)


def _ratio(value: float, reference: List[float]) -> float:
    ref = [r for r in reference if math.isfinite(r)]
    if not ref or not math.isfinite(value):
        return float('nan')
    mean = sum(ref) / len(ref)
    return float(value / mean) if mean > 0 else float('nan')
