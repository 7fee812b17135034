"""
Baseline near-failure classifier: loss of concentric velocity within the set.

Velocity-based training (VBT) measures fatigue as the loss of mean concentric
velocity against the set's fastest rep; the velocity loss grows almost linearly
with the share of the possible reps already done (Gonzalez-Badillo et al. 2017,
Int J Sports Med 38:217; Sanchez-Medina & Gonzalez-Badillo 2011, MSSE 43:1725).
Practice stops sets at 20 % (far from failure) to 40 % (close to failure) loss
(Pareja-Blanco et al. 2017, Scand J Med Sci Sports 27:724).  We therefore put
the near-failure boundary (RIR <= 2, our RPE >= 8 assumption) at the middle of
that band, 30 %, as the *literature* prior.  On the forearm's angular velocity
in a dumbbell curl that prior is far too strict (rep F1 0.36, recall 0.22 on
thomas2025), so the default ``loss_center`` = 0.125 was chosen by
leave-one-subject-out: on each fold the centre maximising rep F1 on the three
training subjects was taken (0.125 in three folds, 0.1 with A321 held out; 0.175
and 0.125 before the velocity was measured over 10-90 % of the lift, see
:mod:`rep_coach.core.rep_features`); the held-out scores are in
``docs/evaluation.md``.  A logistic of width 0.05
maps the loss to a probability (centre -+ 0.1 -> 0.12 .. 0.88).

The velocity here is the forearm's mean *angular* velocity about its principal
axis in the concentric (from :mod:`rep_coach.core.rep_features`), a proxy for
the dumbbell's linear velocity (they are proportional for a fixed forearm
length).  Single-rep losses are noisy, so the loss used is the rep's
``recent_velocity_loss`` feature: the mean ``velocity_loss`` of this rep and the one
before it in the set (``RECENT_REPS``), as the segmenter's set tracker computed it,
the same number the learned classifier reads.  An event without that feature
(built by hand, or by a producer without the set tracker) is judged on its own
``velocity_loss``.

RIR is estimated from the same loss in 7.5 %-wide bands that start at
``loss_center``, a coarse reading of the same linear relationship: near failure
*is* RIR <= 2, so the 3+|2 boundary is the rule's centre (with the default 12.5 %:
< 12.5 % -> 3+, 12.5-20 % -> 2, 20-27.5 % -> 1, >= 27.5 % -> 0).  The width is
not fitted; the evaluation reports the error, treat it as indicative.  (Bands fixed
at 10/17.5/25 %, as they once were, did not follow the centre, so a rep could read
"2 in reserve" without being near failure.)
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import List, Optional

from rep_coach.core.types import NearFailureState, RepEvent


@dataclass
class BaselineNearFailureConfig:
    """Parameters of :class:`BaselineNearFailure` (ROS parameters of the classifier node)."""

    threshold: float = 0.5            # probability at or above which near_failure is True
    loss_center: float = 0.125        # velocity loss giving probability 0.5 (LOSO)
    loss_width: float = 0.05          # logistic scale: +-2 widths -> 0.12 .. 0.88
    min_reps: int = 2                 # never flag the first reps of a set (no reference)
    rir_band_width: float = 0.075     # RIR 2, 1, 0 from the centre up, one width each

    @property
    def rir_bands(self) -> List[float]:
        """Velocity losses from which RIR reads 2, 1 and 0."""
        return [self.loss_center + k * self.rir_band_width for k in range(3)]

    def validate(self) -> None:
        """Raise ValueError naming the first bad parameter."""
        if not 0.0 < self.threshold < 1.0:
            raise ValueError(f'BaselineNearFailureConfig.threshold must be in (0, 1), '
                             f'got {self.threshold!r}')
        if not self.loss_width > 0:
            raise ValueError('BaselineNearFailureConfig.loss_width must be > 0')
        if self.min_reps < 1:
            raise ValueError('BaselineNearFailureConfig.min_reps must be >= 1')
        if not self.rir_band_width > 0:
            raise ValueError('BaselineNearFailureConfig.rir_band_width must be > 0')


class BaselineNearFailure:
    """Velocity-loss rule implementing the ``NearFailureClassifier`` protocol."""

    #: The rep's features carry the velocity: no raw signal is used, none is missed.
    reps_without_signal = 0

    def __init__(self, config: Optional[BaselineNearFailureConfig] = None) -> None:
        """Create the classifier; ``config`` defaults to :class:`BaselineNearFailureConfig`."""
        self.config = config or BaselineNearFailureConfig()
        self.config.validate()
        self.reset()

    @property
    def threshold(self) -> float:
        """Probability at or above which a rep is near failure (as the learned stage's)."""
        return self.config.threshold

    def reset(self) -> None:
        """Forget all state (there is none: the set's history is in the rep's features)."""

    def on_rep(self, rep: RepEvent) -> NearFailureState:
        """Return the verdict after ``rep`` from its ``recent_velocity_loss`` feature."""
        c = self.config
        # The segmenter's set tracker already smoothed the loss over the set's last
        # reps (one smoothing for both classifiers); an event without it, the rep's own.
        mean_loss = rep.features.get('recent_velocity_loss',
                                     rep.features.get('velocity_loss', math.nan))
        if rep.rep_index < c.min_reps or math.isnan(mean_loss):
            return NearFailureState(rep.set_index, rep.rep_index, rep.stamp, 0.0, False, 3)
        prob = 1.0 / (1.0 + math.exp(-(mean_loss - c.loss_center) / c.loss_width))
        rir = 3 - sum(mean_loss >= b for b in c.rir_bands)
        return NearFailureState(set_index=rep.set_index, rep_index=rep.rep_index,
                                stamp=rep.stamp, probability=prob,
                                near_failure=prob >= c.threshold, rir=int(rir))
