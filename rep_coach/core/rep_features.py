"""
Per-repetition features from the forearm's principal-axis rotation.

Inputs are the 100 Hz signals the baseline segmenter computes (and any other
segmenter can reproduce with :mod:`rep_coach.core.filters`): ``angle`` (rad,
the forearm's rotation about its principal gyro axis, lifting positive) and
``omega`` (rad/s, the angular velocity about that axis), with their times; with
``angle`` None the rotation is integrated from ``omega`` over each rep (the
learned segmenter).  Lift and lowering are timed between 10 % and 90 % of the
rep's own rise and fall, so where a segmenter (or a label) puts the rep's start
and end inside the rests around it does not change them.

Two layers, so the learned classifier can reuse either:

* :func:`rep_kinematics` - what one rep alone says: durations, range of
  motion, concentric velocities;
* :class:`SetFeatureTracker` - the same rep relative to its set: velocity loss
  against the set's best rep so far (the velocity-based-training fatigue
  measure), its mean over this rep and the one before, duration ratio to the
  set's first reps, rep index.

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
    'duration_s',          # leaving the bottom -> 90 % lowered (rests excluded)
    'concentric_s',        # leaving the bottom -> peak (lifting)
    'eccentric_s',         # peak -> 90 % lowered (lowering)
    'rom_rad',             # angle(peak) - angle(bottom)
    'peak_conc_vel',       # max omega in the concentric, rad/s
    'mean_conc_vel',       # mean rate over 10-90 % of the rise, rad/s
    'velocity_loss',       # 1 - mean_conc_vel / best mean_conc_vel of the set so far
    'peak_velocity_loss',  # same with peak_conc_vel
    'duration_ratio',      # duration / mean duration of the set's first reps
    'concentric_ratio',    # concentric_s / mean concentric_s of the set's first reps
    'recent_velocity_loss',  # mean velocity_loss of this rep and the one before it
)

#: The features that compare a rep with its own set's first reps.  Absolute values
#: (durations, velocities, range of motion, the rep's index) say as much about the
#: lifter and the load as about fatigue; with four subjects to learn from, a
#: classifier given them learns who lifts rather than how tired they are.
RELATIVE_FEATURES: Tuple[str, ...] = (
    'velocity_loss', 'peak_velocity_loss', 'duration_ratio', 'concentric_ratio',
    'recent_velocity_loss')

#: Reps averaged by ``recent_velocity_loss`` (this one and the one before it).
RECENT_REPS = 2


@dataclass
class RepKinematics:
    """What one rep's own samples say (no set context)."""

    duration_s: float
    concentric_s: float
    eccentric_s: float
    rom_rad: float
    peak_conc_vel: float
    mean_conc_vel: float
    #: Time the lift left the bottom (``LIFT_FROM`` of the rise), s; NaN without a lift.
    lift_start: float = float('nan')


#: The lift is measured between these fractions of the rep's rise (bottom -> top), so a
#: pause at the bottom, or a rep start placed a little early or late, changes nothing.
LIFT_FROM, LIFT_TO = 0.1, 0.9


def rep_kinematics(t: np.ndarray, angle: Optional[np.ndarray], omega: np.ndarray,
                   start: float, end: float, peak: Optional[float] = None) -> RepKinematics:
    """
    Compute one rep's kinematics from uniformly sampled principal-axis signals.

    ``t``, ``angle`` and ``omega`` are aligned 1-D arrays covering at least the
    rep; ``start``/``end``/``peak`` are times on the same timeline.  When
    ``peak`` is None it is taken as the angle's maximum within the rep.  With
    ``angle`` None the rotation is integrated from ``omega`` over the rep alone:
    drift-free over a few seconds and without the lag of a filtered angle (the
    learned segmenter's gravity angle trails the rotation by its low-pass).

    The concentric is measured from where the angle last left the bottom
    (``LIFT_FROM`` of the rise from the rep's lowest point before the top) to the
    top; the mean concentric velocity is the rise from ``LIFT_FROM`` to
    ``LIFT_TO`` over its time.  Both therefore ignore how long the lifter rests at
    the bottom and where exactly a segmenter put the rep's start: with the start
    at the previous rep's end, a mean over start -> top read the rest and the tail
    of the previous lowering as slowness.
    """
    t = np.asarray(t, dtype=np.float64)
    i0, i1 = np.searchsorted(t, [start, end])
    i1 = min(max(i1, i0 + 1), t.size)
    nan = float('nan')
    duration = float(end - start)
    if i1 - i0 < 2:
        return RepKinematics(duration, nan, nan, nan, nan, nan)
    ts, om = t[i0:i1], np.asarray(omega[i0:i1], dtype=np.float64)
    if angle is None:
        ang = np.concatenate(([0.0], np.cumsum(0.5 * (om[1:] + om[:-1]) * np.diff(ts))))
    else:
        ang = np.asarray(angle[i0:i1], dtype=np.float64)
    if peak is None or not (start <= peak <= end):
        ip = int(np.argmax(ang))
    else:
        ip = int(np.clip(np.searchsorted(ts, peak), 0, ts.size - 1))
    ib = int(np.argmin(ang[:ip + 1]))       # the bottom the lift starts from
    rom = float(ang[ip] - ang[ib])
    if ip - ib < 2 or rom <= 0.0:
        return RepKinematics(duration, nan, max(float(end - ts[ip]), 0.0), rom, nan, nan)
    rise = ang[ib:ip + 1]
    ia = ib + int(np.flatnonzero(rise <= rise[0] + LIFT_FROM * rom)[-1])
    iz = ia + int(np.flatnonzero(ang[ia:ip + 1] >= rise[0] + LIFT_TO * rom)[0])
    lift_s = float(ts[iz] - ts[ia])
    # The lowering ends where LIFT_TO of the way back down is covered: labels (and
    # segmenters) put the end anywhere in the rest that follows, up to seconds later
    # after a set's last rep.
    fall = ang[ip:]
    drop = float(ang[ip] - fall.min())
    lowered = float(end)
    if drop > 0.0:
        lowered = float(ts[ip + int(np.flatnonzero(fall <= ang[ip] - LIFT_TO * drop)[0])])
    return RepKinematics(
        duration_s=lowered - float(ts[ia]),
        concentric_s=float(ts[ip] - ts[ia]),
        eccentric_s=max(lowered - float(ts[ip]), 0.0),
        rom_rad=rom,
        peak_conc_vel=float(om[ia:ip + 1].max()),
        mean_conc_vel=float((ang[iz] - ang[ia]) / lift_s) if lift_s > 0 else nan,
        lift_start=float(ts[ia]))


@dataclass
class SetFeatureTracker:
    """
    Turns a set's successive :class:`RepKinematics` into feature dicts.

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
    _losses: List[float] = field(default_factory=list)

    def reset(self) -> None:
        """Start a new set."""
        self._losses = []
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
        if math.isfinite(feats['velocity_loss']):
            self._losses.append(feats['velocity_loss'])
        feats['recent_velocity_loss'] = mean_of_last(self._losses, RECENT_REPS)
        return {name: float(feats[name]) for name in FEATURE_NAMES}


def set_features(t: np.ndarray, angle: Optional[np.ndarray], omega: np.ndarray,
                 reps: Sequence[Tuple[float, float, Optional[float]]],
                 n_reference: int = 3) -> List[Dict[str, float]]:
    """
    Features of every rep of one set given ``(start, end, peak)`` per rep, in order.

    Offline convenience (e.g. features at the true rep boundaries for training);
    ``angle`` None integrates ``omega`` per rep, as :func:`rep_kinematics` does.
    """
    tracker = SetFeatureTracker(n_reference=n_reference)
    return [tracker.add(rep_kinematics(t, angle, omega, s, e, p)) for s, e, p in reps]


def mean_of_last(values: Sequence[float], n: int) -> float:
    """
    Mean of the last ``n`` values (all of them while fewer); NaN when there are none.

    The smoothing of ``recent_velocity_loss``, which both near-failure classifiers read.
    """
    recent = values[-n:]
    return sum(recent) / len(recent) if recent else float('nan')


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
