"""Tests of the streaming resampler."""

import numpy as np

from rep_coach.core.resample import hop_slices, StreamResampler
from rep_coach.core.types import ImuBlock


def _block(t: np.ndarray) -> ImuBlock:
    x = np.stack([np.sin(2 * np.pi * 0.5 * t + k) for k in range(6)], axis=1)
    return ImuBlock(t, x[:, :3], x[:, 3:])


def _stream(block: ImuBlock, sizes) -> ImuBlock:
    rs, out, i = StreamResampler(), [], 0
    for size in sizes:
        out.append(rs.push(block.slice(i, i + size)))
        i += size
    out.append(rs.push(block.slice(i)))
    return ImuBlock.concat(out)


def test_grid_and_values_at_dataset_rate() -> None:
    rate = 370.3704
    block = _block(np.arange(3700) / rate + 5.0)
    out = StreamResampler(100.0).push(block)
    assert np.allclose(np.diff(out.t), 0.01)
    assert np.allclose(out.t * 100.0, np.round(out.t * 100.0))  # absolute grid
    assert out.t[0] >= block.t[0] and out.t[-1] <= block.t[-1]
    ref = np.sin(2 * np.pi * 0.5 * out.t[:, None] + np.arange(3))
    assert np.max(np.abs(out.accel - ref)) < 1e-4


def test_block_splitting_does_not_change_output() -> None:
    block = _block(np.cumsum(np.full(2000, 1 / 57.0)))  # a live-like 57 Hz source
    whole = StreamResampler().push(block)
    rng = np.random.default_rng(1)
    parts = _stream(block, rng.integers(0, 30, size=60))
    assert np.array_equal(whole.t, parts.t)
    assert np.allclose(whole.gyro, parts.gyro)


def test_gap_is_not_bridged_and_grid_restarts() -> None:
    t = np.concatenate([np.arange(0, 1, 0.01), np.arange(3.005, 4, 0.01)])
    rs = StreamResampler(max_gap_s=0.25)
    out = rs.push(_block(t))
    assert rs.gap_count == 1
    assert not np.any((out.t > 0.995) & (out.t < 3.005))
    assert np.isclose(out.t[out.t > 2][0], 3.01)


def test_non_increasing_samples_are_dropped() -> None:
    rs = StreamResampler()
    rs.push(_block(np.array([0.0, 0.004, 0.008])))
    out = rs.push(_block(np.array([0.008, 0.006, 0.012, 0.02])))
    assert rs.dropped_count == 2
    assert np.all(np.diff(out.t) > 0)


def test_hop_slices_lie_on_the_absolute_grid_and_end_at_holes() -> None:
    # Indices 7..9 finish hop 0; hop 1 is whole; a hole after 23 ends a short chunk;
    # hop 3 (30..34) is not complete yet and stays with the caller.
    k = np.concatenate([np.arange(7, 24), np.arange(30, 35)])
    assert hop_slices(k, 10) == [(0, 3), (3, 13), (13, 17)]
    assert hop_slices(np.arange(30, 40), 10) == [(0, 10)]
    assert hop_slices(np.zeros(0, dtype=np.int64), 10) == []


def test_both_segmenters_cut_hops_with_the_one_function() -> None:
    # One hop cutter serves both segmenters, so their decisions fall on the same grid.
    from rep_coach.core import segmentation
    from rep_coach.learned import kinematic_input, segmenter
    assert segmentation.hop_slices is hop_slices
    assert segmenter.hop_slices is hop_slices and kinematic_input.hop_slices is hop_slices
