"""
How thomas2025's rep boundaries were made, and the ceiling that puts on a live segmenter.

The dataset's authors describe their boundary detector in the preprocessing code of
their repository (j-tom03/IMU-EMG-RPE-Estimation); it is re-implemented here from that
description to check the labels against it:

1. ACC_X (g) is smoothed with a 50-sample moving average (centred, 0.135 s at
   370 Hz); its derivative, the jerk (g/s), is smoothed the same way;
2. a sample is *flat* where |jerk| <= 0.2 g/s, and lies on one *side*: ACC_X > 0 or not;
3. consecutive flat samples on one side (flat samples of the other side end a run;
   samples that are not flat do not) form a *span*, from its first to its last flat
   sample; the run still open at the end of the recording ends at the recording's
   second-to-last flat sample (a quirk of the original loop, kept to match);
4. the boundaries are the midpoints of one side's spans (the side where the arm
   hangs: which of the two depends on how the sensor was strapped), then hand-corrected.

:func:`check_recording` finds, per set, the span whose midpoint each labelled boundary
is.  On the shared data every boundary but one is such a midpoint to the sample
(``scripts/label_convention.py``).  So a set's last rep ends halfway between the
arm coming to rest and the end of the *recording*, and its first rep starts halfway
between the start of the recording and the first lift.  No live segmenter can know
when the recording will be stopped: :func:`live_ceiling` scores the best it could do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from rep_coach.core.evaluation import Counts, set_segmentation_counts
from rep_coach.core.types import ImuRecording
from rep_coach.core.units import STANDARD_GRAVITY

#: Moving-average length of both smoothing passes, samples of the raw stream.
SMOOTH_SAMPLES = 50
#: |jerk| (g/s) at or below which a sample is flat.
FLAT_JERK_G_PER_S = 0.2
#: A labelled boundary "is" a span's midpoint when it is this close, samples.
EXACT_SAMPLES = 2

Span = Tuple[int, int]


def _moving_average(x: np.ndarray) -> np.ndarray:
    return np.convolve(x, np.ones(SMOOTH_SAMPLES) / SMOOTH_SAMPLES, mode='same')


def flat_spans(accel_x_g: np.ndarray, rate_hz: float) -> Dict[bool, List[Span]]:
    """Spans of flat samples (first, last index) per side (``True``: ACC_X > 0)."""
    smooth = _moving_average(np.asarray(accel_x_g, dtype=float))
    jerk = _moving_average(np.diff(smooth) * rate_hz)
    flat = np.flatnonzero(np.abs(jerk) <= FLAT_JERK_G_PER_S)
    spans: Dict[bool, List[Span]] = {True: [], False: []}
    if flat.size < 2:
        return spans
    side = smooth[flat] > 0
    starts = np.concatenate(([0], np.flatnonzero(side[1:] != side[:-1]) + 1))
    ends = np.concatenate((starts[1:] - 1, [flat.size - 2]))   # see the module docstring, 3.
    for a, b in zip(starts, ends):
        spans[bool(side[a])].append((int(flat[a]), int(flat[max(a, b)])))
    return spans


def midpoint(span: Span) -> int:
    """Return the boundary a span makes (rounded half to even, as the labels were)."""
    return int(np.round(0.5 * (span[0] + span[1])))


@dataclass
class SetCheck:
    """One set's labelled boundaries against the detector's spans (indices, samples)."""

    name: str
    boundaries: List[int]
    #: Per boundary, the span of the chosen side whose midpoint is nearest.
    spans: List[Span]
    n_samples: int
    rate_hz: float
    #: Median half-length of the spans between two reps (the bottom pause), samples.
    half_pause: float

    @property
    def errors(self) -> np.ndarray:
        """|labelled boundary - nearest span midpoint|, samples, per boundary."""
        return np.abs(np.array(self.boundaries) - [midpoint(s) for s in self.spans])

    @property
    def last_rest(self) -> Span:
        """The span the last rep's labelled end is the midpoint of."""
        return self.spans[-1]

    def live_last_end(self) -> int:
        """Where a live segmenter could end the last rep: rest start + half a pause."""
        return min(self.n_samples - 1, int(round(self.last_rest[0] + self.half_pause)))

    def live_first_start(self) -> int:
        """Where the first rep would start had a rep come before: lift - half a pause."""
        return max(0, min(self.n_samples - 1, int(round(self.spans[0][1] - self.half_pause))))


def check_recording(recording: ImuRecording, boundaries: Sequence[int]) -> SetCheck:
    """Match a set's labelled boundaries (sample indices) to the detector's spans."""
    accel_x_g = recording.imu.accel[:, 0] / STANDARD_GRAVITY
    spans = flat_spans(accel_x_g, recording.rate_hz)
    bounds = [int(b) for b in boundaries]

    def nearest(side: bool) -> Optional[List[Span]]:
        if not spans[side]:
            return None
        mids = np.array([midpoint(s) for s in spans[side]])
        return [spans[side][int(np.argmin(np.abs(mids - b)))] for b in bounds]

    candidates = [c for c in (nearest(True), nearest(False)) if c is not None]
    if not candidates:
        raise ValueError(f'{recording.name}: no flat span in ACC_X')
    # The side is the one whose midpoints the labels are (the labels were made so).
    best = min(candidates, key=lambda c: float(np.median(
        np.abs(np.array(bounds) - [midpoint(s) for s in c]))))
    interior = [(b - a) / 2 for a, b in best[1:-1]]
    return SetCheck(recording.name, bounds, best, len(recording.imu), recording.rate_hz,
                    float(np.median(interior)) if interior else 0.0)


@dataclass
class Ceiling:
    """Pooled segmentation scores of an idealised segmenter (see :func:`live_ceiling`)."""

    sample_f1: float
    event_f1: float
    #: Sets whose last labelled end the idealised live end still meets within 0.3 s.
    last_matched: int
    n_sets: int


def live_ceiling(recordings: Sequence[ImuRecording], checks: Sequence[SetCheck]) -> Ceiling:
    """
    Score a segmenter exact on every end a live system can know, by the evaluation's rules.

    It reports every rep: each end but the set's last exactly at its label, and the
    last where the arm came to rest plus half the set's usual bottom pause (where the
    label would be had the set gone on).  Only the recording's end, which nothing live
    knows, would place that end at its label.
    """
    sample, event, matched = Counts(), Counts(), 0
    for rec, check in zip(recordings, checks):
        t = rec.imu.t
        truth = [float(t[b]) for b in check.boundaries[1:]]
        live = truth[:-1] + [float(t[check.live_last_end()])]
        samples, events = set_segmentation_counts(truth, live, float(t[check.boundaries[0]]))
        matched += events.tp - (len(truth) - 1)
        sample += samples
        event += events
    return Ceiling(sample.prf()[2], event.prf()[2], matched, len(checks))
