"""
``set_rest_s`` is the same for both segmenters and the coach: a rep's end to the next's start.

Before: the baseline measured to the next rep's start, the learned segmenter to the
next rep's end, so with the same ``set_rest_s`` the learned one opened a new set
after a rest a whole rep shorter; and the coach (audio_feedback) measured from the
rep's detection, and split a set the segmenter kept whole.
"""

from __future__ import annotations

from typing import List, Tuple

import pytest

from rep_coach.core.coaching import CoachingConfig, CoachingPolicy, Cue, number_to_words
from rep_coach.core.sim import SimConfig, simulate
from rep_coach.core.types import ImuBlock, opens_new_set, RepEvent
from rep_coach.pipeline import stage_factories


def test_a_rest_of_set_rest_s_or_more_opens_a_new_set() -> None:
    assert opens_new_set(None, 3.0, 8.0)                # the first rep opens the first set
    assert opens_new_set(10.0, 18.0, 8.0)               # the rest reaches set_rest_s
    assert not opens_new_set(10.0, 17.9, 8.0)
    assert not opens_new_set(10.0, 9.5, 8.0)            # a start before the last end: no rest


def _two_sets() -> ImuBlock:
    """Two sets of 6 curls about 13.5 s apart (no fidgets or false starts in between)."""
    config = SimConfig(seed=3, sets=2, rest_s=9.0, reps_to_failure=6, fidgets=False,
                       false_start_prob=0.0, failed_attempt_prob=0.0)
    return simulate(config).imu


def _events(model: str, imu: ImuBlock, set_rest_s: float) -> List[RepEvent]:
    segmenter = stage_factories(model, set_rest_s=set_rest_s)[0]()
    return [e for i in range(0, len(imu), 100) for e in segmenter.push(imu.slice(i, i + 100))]


def _between_sets(events: List[RepEvent]) -> Tuple[RepEvent, RepEvent]:
    """Last rep of set 1 and first rep of set 2."""
    i = next(i for i, e in enumerate(events) if e.set_index == 2)
    return events[i - 1], events[i]


@pytest.mark.parametrize('model', ['baseline', 'learned'])
def test_both_segmenters_measure_the_rest_from_end_to_next_start(model: str) -> None:
    imu = _two_sets()
    last, first = _between_sets(_events(model, imu, set_rest_s=10.0))
    rest = first.start - last.end
    assert 12.0 < rest < 15.0, rest
    # A rest just short of set_rest_s keeps the reps in one set, although from the
    # last rep's end to the next rep's END (the learned rule before) is longer.
    assert first.end - last.end > rest + 1.0
    longer = _events(model, imu, set_rest_s=rest + 0.5)
    assert {e.set_index for e in longer} == {1}
    assert [e.rep_index for e in longer] == list(range(1, len(longer) + 1))
    shorter = _events(model, imu, set_rest_s=rest - 0.5)
    assert _between_sets(shorter)[1].start == pytest.approx(first.start)


def _coach(events: List[RepEvent], set_rest_s: float) -> Tuple[CoachingPolicy, List[Cue]]:
    """Run the coach as audio_feedback does: each event at its stamp, a tick every 0.1 s."""
    policy = CoachingPolicy(CoachingConfig(set_rest_s=set_rest_s))
    cues: List[Cue] = []
    pending = sorted(events, key=lambda e: e.stamp)
    for k in range(int((pending[-1].stamp + set_rest_s + 1.0) / 0.1)):
        now = k * 0.1
        while pending and pending[0].stamp <= now:
            cues += policy.on_rep(pending.pop(0), now)
        cues += policy.tick(now)
    return policy, cues


@pytest.mark.parametrize('model', ['baseline', 'learned'])
@pytest.mark.parametrize('margin', [-0.5, 0.5])
def test_the_coach_sums_up_the_sets_the_segmenter_makes(model: str, margin: float) -> None:
    imu = _two_sets()
    last, first = _between_sets(_events(model, imu, set_rest_s=10.0))
    set_rest_s = first.start - last.end + margin
    events = _events(model, imu, set_rest_s)
    policy, cues = _coach(events, set_rest_s)
    sets = sorted({e.set_index for e in events})
    assert len(sets) == (2 if margin < 0 else 1)
    # The coach's sets are the segmenter's, counted as it counts them.
    assert [(s.set_index, s.reps) for s in policy.summaries] == \
        [(i, sum(e.set_index == i for e in events)) for i in sets]
    assert [c.rep_index for c in cues if c.kind == 'rep'] == [e.rep_index for e in events]
    spoken = [c.text for c in cues if c.kind == 'summary']
    if margin < 0:
        assert spoken == [s.text for s in policy.summaries]
    else:
        # The rest fell short by 0.5 s, so the next rep was under way, not yet detected,
        # when the timer summed the set up: an early summary, then the count goes on.
        first_set = sum(e.set_index == 1 and e.end <= last.end for e in events)
        assert spoken == [f'{number_to_words(first_set)} reps', policy.summaries[0].text]
