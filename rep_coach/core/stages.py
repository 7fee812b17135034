"""
The two streaming stages every implementation (baseline, learned) provides.

The nodes, the offline evaluation and the benchmarks all drive stages through
these protocols, so one replay through ``push`` and ``on_rep`` is exactly what
runs live.
"""

from __future__ import annotations

from typing import List, Protocol

from rep_coach.core.types import ImuBlock, NearFailureState, RepEvent


class RepSegmenter(Protocol):
    """Stage 1: turns a causal stream of IMU samples into repetition events."""

    def push(self, block: ImuBlock) -> List[RepEvent]:
        """Consume new samples (any rate, SI units); return reps decided by them."""

    def reset(self) -> None:
        """
        Forget the stream (a new session, or a jump of the sensor clock).

        Set numbers keep rising across a reset: a consumer (the coach) must never see
        a finished set's numbers again, or it takes the new reps for repeats.
        """

    def resume(self) -> None:
        """
        Go on after a hole in the same stream (its samples stopped for a few seconds).

        Signal state starts afresh; what a hole cannot change (how the sensor sits on
        the wrist, the set under way) may be kept.  :meth:`reset` is a valid resume.
        """


class NearFailureClassifier(Protocol):
    """
    Stage 2: decides after each repetition whether the set is near failure.

    It reads no IMU stream: what it needs comes with the rep (the features, and
    the raw ``signal`` stage 1 attaches).  (The published-size reference used for
    comparison decides per window instead; the evaluation then also reads its
    ``window_states``, see ``rep_coach.training.reference``.)
    """

    #: Reps whose verdict lacked the raw signal this classifier uses (``signal`` None:
    #: an old bag, a segmenter that attaches none); always 0 for one that uses none.
    #: Counted over the instance's life, not reset with the session.
    reps_without_signal: int

    def on_rep(self, rep: RepEvent) -> NearFailureState:
        """Return the verdict for a repetition just emitted by stage 1."""

    def reset(self) -> None:
        """Forget all state (a new session)."""
