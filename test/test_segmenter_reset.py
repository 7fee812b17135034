"""
A segmenter reset (the intake's answer to a clock jump) never reuses set numbers.

Before: a reset restarted the count at set 1, so the coach took the reps that
followed a jump in the middle of set 1 for repeats of it and said nothing.
"""

from __future__ import annotations

import numpy as np
import pytest

from rep_coach.core.coaching import CoachingPolicy, KIND_REP
from rep_coach.core.sim import SimConfig, simulate
from rep_coach.core.types import ImuBlock
from rep_coach.pipeline import stage_factories


def _events(segmenter, block: ImuBlock) -> list:
    return [e for i in range(0, len(block), 100) for e in segmenter.push(block.slice(i, i + 100))]


@pytest.mark.parametrize('model', ['baseline', 'learned'])
def test_reps_after_a_reset_mid_set_start_a_new_set_and_are_all_cued(model) -> None:
    make_segmenter, _ = stage_factories(model)
    segmenter = make_segmenter()
    imu = simulate(SimConfig(seed=3, sets=1, tail_s=10.0)).imu
    half = len(imu) // 2
    before = _events(segmenter, imu.slice(0, half))
    segmenter.reset()
    # The second half arrives on a new timeline 1000 s later (a clock jump).
    rest = imu.slice(half)
    after = _events(segmenter, ImuBlock(rest.t + 1000.0, rest.accel, rest.gyro))
    assert before and after
    assert {e.set_index for e in before} == {1}
    assert {e.set_index for e in after} == {2}
    assert [e.rep_index for e in after] == list(range(1, len(after) + 1))
    policy = CoachingPolicy()
    counted = [c.text for e in before + after for c in policy.on_rep(e, e.stamp)
               if c.kind == KIND_REP]
    assert len(counted) == len(before) + len(after)
    assert np.all(np.diff([e.stamp for e in after]) > 0)
