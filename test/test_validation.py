"""Tests of the SampleGate."""

import warnings

from hypothesis import given, settings, strategies as st
import numpy as np
import pytest

from rep_coach.core.types import ImuBlock
from rep_coach.core.validation import DROP_REASONS, GateConfig, SampleGate


def _block(t, acc=None, gyr=None):
    t = np.asarray(t, dtype=float)
    acc = np.tile([0.0, 0.0, 9.81], (len(t), 1)) if acc is None else np.asarray(acc, float)
    gyr = np.zeros((len(t), 3)) if gyr is None else np.asarray(gyr, float)
    return ImuBlock(t, acc, gyr)


def test_huge_finite_values_are_out_of_range_without_a_numpy_warning():
    # Before: 1e308 overflowed the row sum the gate tests finiteness with, so the sample was
    # counted as non_finite and numpy printed an overflow warning on stderr.
    acc = np.tile([0.0, 0.0, 9.81], (6, 1))
    acc[2, :2] = 1e308
    gyr = np.zeros((6, 3))
    gyr[3, :2] = -1e308
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        res = SampleGate().push(_block(np.arange(6) / 100.0, acc, gyr))
    assert (res.report.counts['non_finite'], res.report.counts['out_of_range']) == (0, 2)
    assert len(res.block) == 4


def test_clean_stream_passes_untouched():
    gate = SampleGate()
    t = np.arange(500) / 100.0
    out = [gate.push(_block(t[i:i + 10])) for i in range(0, 500, 10)]
    assert all(r.report.clean for r in out)
    assert sum(len(r.block) for r in out) == 500
    assert gate.rate_hz == pytest.approx(100.0)


def test_drops_nan_inf_and_absurd_values():
    acc = np.tile([0.0, 0.0, 9.81], (6, 1))
    acc[1, 0] = np.nan
    acc[2, 2] = 400.0
    gyr = np.zeros((6, 3))
    gyr[3, 1] = np.inf
    gyr[4, 0] = -50.0
    t = np.arange(6) / 100.0
    t_bad = t.copy()
    t_bad[5] = np.nan
    res = SampleGate().push(_block(t_bad, acc, gyr))
    assert res.report.counts['non_finite'] == 3
    assert res.report.counts['out_of_range'] == 2
    assert list(res.block.t) == [0.0]
    assert 'non_finite: 3' in res.report.summary()


def test_opposite_infinities_in_one_sample_are_dropped_without_a_numpy_warning():
    # +inf and -inf in one row sum to NaN; numpy warns about that on stderr, which a
    # node would print next to its own log.
    import warnings
    acc = np.tile([0.0, 0.0, 9.81], (4, 1))
    acc[1, :2] = [np.inf, -np.inf]
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        res = SampleGate().push(_block(np.arange(4) / 100.0, acc))
    assert res.report.counts['non_finite'] == 1 and len(res.block) == 3


def test_duplicates_and_out_of_order():
    gate = SampleGate()
    gate.push(_block([0.0, 0.01, 0.02]))
    res = gate.push(_block([0.02, 0.015, 0.03, 0.03, 0.025, 0.04]))
    assert list(res.block.t) == [0.03, 0.04]
    assert res.report.counts['duplicate'] == 2
    assert res.report.counts['out_of_order'] == 2


def test_backward_clock_jump_resyncs_instead_of_dropping_everything():
    gate = SampleGate(GateConfig(jump_s=1.0))
    gate.push(_block(100 + np.arange(50) / 100.0))
    res = gate.push(_block(np.concatenate([100.5 + np.arange(5) / 100.0,
                                           np.arange(20) / 100.0])))
    assert len(res.block) == 25 and res.report.resync
    assert res.report.counts['clock_jump'] == 1
    assert [len(p) for p in res.parts] == [5, 20]
    assert all(np.all(np.diff(p.t) > 0) for p in res.parts)
    follow = gate.push(_block(0.2 + np.arange(5) / 100.0))
    assert len(follow.block) == 5 and follow.report.clean


def test_forward_jump_and_stall_are_flagged_not_dropped():
    gate = SampleGate(GateConfig(stall_s=0.2, jump_s=2.0))
    gate.push(_block(np.arange(40) / 100.0))
    res = gate.push(_block([0.39 + 0.5, 0.90, 10.0, 10.01]))
    assert len(res.block) == 4
    assert res.report.counts['stall'] == 1 and res.report.max_gap_s == pytest.approx(0.5)
    assert res.report.counts['clock_jump'] == 1 and res.report.resync
    assert [len(p) for p in res.parts] == [2, 2]


def test_after_jump_says_whether_the_first_part_follows_a_jump():
    gate = SampleGate(GateConfig(stall_s=0.2, jump_s=2.0))
    gate.push(_block(np.arange(40) / 100.0))
    # Jump before the first sample of the push, and again inside it.
    res = gate.push(_block([10.0, 10.01, 20.0, 20.01]))
    assert res.after_jump and [len(p) for p in res.parts] == [2, 2]
    # A jump inside the push only: the first part continues the old timeline.
    res = gate.push(_block([20.02, 20.03, 5.0, 5.01]))
    assert not res.after_jump and res.report.resync
    assert [len(p) for p in res.parts] == [2, 2]
    # One sample jumping back on its own (the nodes push one message at a time): it
    # waits for the next one, which shows whether the clock jumped or it strayed.
    res = gate.push(_block([1.0]))
    assert not res.after_jump and len(res.block) == 0
    res = gate.push(_block([1.01]))
    assert res.after_jump and list(res.block.t) == [1.0, 1.01]
    assert not gate.push(_block([1.02])).after_jump


@pytest.mark.parametrize('size', [1, 2, 5])
def test_a_lone_far_stamp_is_dropped_not_taken_for_a_clock_jump(size):
    # Before: a single sample stamped 1e6 made two clock jumps, and each reset the
    # segmenter, losing the rep in progress.
    gate = SampleGate(GateConfig(stall_s=0.2, jump_s=2.0))
    t = np.arange(20) / 100.0
    t[10] = 1e6
    results = [gate.push(_block(t[i:i + size])) for i in range(0, len(t), size)]
    kept = np.concatenate([r.block.t for r in results])
    assert list(kept) == list(np.delete(t, 10))
    report = gate.take_report()
    assert report.counts['stray_stamp'] == 1 and report.counts['clock_jump'] == 0
    assert not any(r.report.resync or r.after_jump for r in results)
    assert report.received == 20 and report.accepted == 19


def test_rate_change_and_burst():
    gate = SampleGate(GateConfig(nominal_rate_hz=100.0))
    t = np.arange(100) / 50.0           # actually 50 Hz
    res = gate.push(_block(t))
    assert res.report.counts['rate_change'] == 1
    assert gate.rate_hz == pytest.approx(50.0)
    res = gate.push(_block(t[-1] + 0.02 + np.array([0.0, 0.001, 0.002])))
    assert res.report.counts['burst'] == 2


def test_take_report_accumulates_and_resets():
    gate = SampleGate()
    gate.push(_block([0.0, np.nan]))
    gate.push(_block([0.01, 0.01]))
    report = gate.take_report()
    assert report.received == 4 and report.accepted == 2
    assert report.counts['non_finite'] == 1 and report.counts['duplicate'] == 1
    assert report.as_key_values()['duplicate'] == '1'
    assert gate.take_report().received == 0


def test_bad_config_names_field():
    with pytest.raises(ValueError, match='stall_s'):
        GateConfig(stall_s=-1)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(st.floats(-5, 5), st.just(float('nan'))), min_size=0, max_size=60),
       st.integers(1, 7))
def test_output_is_always_finite_and_increasing(stamps, chunk):
    """Whatever arrives, each part is finite and strictly increasing; counts add up."""
    gate = SampleGate(GateConfig(jump_s=1.0, stall_s=0.5))
    accepted = 0
    last = None
    for i in range(0, len(stamps), chunk):
        res = gate.push(_block(stamps[i:i + chunk]))
        rep = res.report
        assert rep.accepted + rep.dropped == rep.received
        accepted += rep.accepted
        for k, part in enumerate(res.parts):
            assert np.all(np.isfinite(part.t)) and np.all(np.diff(part.t) > 0)
            if len(part) and last is not None and not (k > 0 or res.after_jump):
                assert part.t[0] > last
            if len(part):
                last = part.t[-1]
    assert accepted <= len(stamps)


def test_fast_on_large_blocks():
    import time
    t = np.arange(300_000) / 100.0
    t[::300] = np.nan
    t[500::997] -= 0.015              # ~300 late samples: the per-step loop
    block = _block(t)
    start = time.perf_counter()
    res = SampleGate().push(block)
    assert time.perf_counter() - start < 1.0
    assert res.report.counts['non_finite'] == 1000
    assert res.report.counts['out_of_order'] > 200


# -- the one-sample fast path ---------------------------------------------------------

_NAN, _INF = float('nan'), float('inf')
# Stamp steps after the previous sample: normal spacings at three rates (so rates are
# learned and changed), bursts, duplicates, late packets, stalls, jumps both ways and
# broken stamps.
_RATES = (0.005, 0.01, 0.02)
_ODD_STEPS = (0.0, 0.001, -0.003, -0.03, 0.3, 1.0, 3.0, -3.0, -50.0, _NAN, _INF, -_INF)
# Values written into one of the six channels: broken, absurd, and huge-but-finite ones
# whose row sum overflows.
_ODD_VALUES = (_NAN, _INF, -_INF, 200.0, -50.0, 1e308)
_EVENTS = st.one_of(
    st.tuples(st.just('run'), st.sampled_from(_RATES), st.integers(1, 40)),
    st.tuples(st.just('step'), st.sampled_from(_ODD_STEPS), st.just(0)),
    st.tuples(st.just('value'), st.sampled_from(_ODD_VALUES), st.integers(0, 5)),
)
_CONFIGS = (GateConfig(), GateConfig(nominal_rate_hz=100.0),
            GateConfig(stall_s=1, jump_s=2, max_gyro=10))


def _stream(events, seed: int) -> ImuBlock:
    """Build a stream from ``_EVENTS``: runs of jittered samples, odd steps, odd values."""
    rng = np.random.default_rng(seed)
    t, rows, now = [], [], 1000.0
    for kind, arg, n in events:
        steps = arg * (1 + 0.05 * rng.standard_normal(n)) if kind == 'run' else [
            arg if kind == 'step' else 0.01]
        for step in steps:
            now_t = now + step
            row = [*rng.normal(0.0, 5.0, 2), 9.81, *rng.normal(0.0, 2.0, 3)]
            if kind == 'value':
                row[n] = arg
            t.append(now_t)
            rows.append(row)
            if np.isfinite(now_t):
                now = now_t
    data = np.asarray(rows, dtype=float).reshape(-1, 6)
    return ImuBlock(np.asarray(t, dtype=float), data[:, :3], data[:, 3:])


def _assert_same(fast, general) -> None:
    assert fast.report == general.report
    assert len(fast.parts) == len(general.parts)
    for a, b in zip(fast.parts, general.parts):
        for x, y in ((a.t, b.t), (a.accel, b.accel), (a.gyro, b.gyro)):
            assert np.array_equal(x, y)


@settings(max_examples=300, deadline=None)
@given(st.lists(_EVENTS, max_size=40), st.integers(0, 2**32 - 1),
       st.lists(st.sampled_from([1, 1, 1, 1, 1, 2, 3, 8, 40]), min_size=1, max_size=8),
       st.sampled_from(_CONFIGS))
def test_fast_path_gives_the_general_paths_results(events, seed, chunks, config):
    """
    push() answers every block exactly as the vectorised path does, report included.

    Mostly one-sample blocks (as the nodes push), sometimes longer ones, so the fast
    path also runs on state the vectorised path left behind, and vice versa.
    """
    stream = _stream(events, seed)
    fast, general = SampleGate(config), SampleGate(config)
    i, k = 0, 0
    while i < len(stream):
        n = chunks[k % len(chunks)]
        block = stream.slice(i, i + n)
        _assert_same(fast.push(block), general._push_general(block))
        if k % 7 == 6:                      # reports taken mid-stream, as the nodes do
            assert fast.take_report() == general.take_report()
        i, k = i + n, k + 1
    assert fast.take_report() == general.take_report()
    assert fast.rate_hz == general.rate_hz


def test_fast_path_takes_the_clean_one_sample_pushes(monkeypatch):
    """A clean stream pushed sample by sample goes the fast way, rate changes included."""
    gate = SampleGate()
    taken = []
    fast = gate._push_one
    monkeypatch.setattr(gate, '_push_one', lambda block: taken.append(fast(block)) or taken[-1])
    t = np.concatenate([np.arange(200) / 100.0, 2.0 + np.arange(1, 201) / 50.0])
    block = _block(t)
    results = [gate.push(block.slice(i, i + 1)) for i in range(len(t))]
    assert len(taken) == len(t) - 1 and all(r is not None for r in taken)
    assert sum(r.report.counts['rate_change'] for r in results) == 1
    assert gate.rate_hz == pytest.approx(50.0)


@settings(max_examples=200, deadline=None)
@given(st.lists(_EVENTS, max_size=40), st.integers(0, 2**32 - 1), st.integers(2, 50))
def test_what_is_kept_does_not_depend_on_block_size(events, seed, size):
    """
    One sample at a time or in blocks: the same samples kept, drops, stalls and jumps.

    Bursts and rate changes may differ: they are judged against the rate known when
    a block arrives, and one sample at a time that rate is learned sooner.
    """
    stream = _stream(events, seed)
    one, blocks = SampleGate(), SampleGate()
    kept_one = [p for i in range(len(stream)) for p in one.push(stream.slice(i, i + 1)).parts]
    kept_blocks = [p for i in range(0, len(stream), size)
                   for p in blocks.push(stream.slice(i, i + size)).parts]
    assert np.array_equal(ImuBlock.concat(kept_one).t, ImuBlock.concat(kept_blocks).t)
    a, b = one.take_report(), blocks.take_report()
    assert (a.received, a.accepted, a.max_gap_s) == (b.received, b.accepted, b.max_gap_s)
    for reason in DROP_REASONS + ('stall', 'clock_jump'):
        assert a.counts.get(reason, 0) == b.counts.get(reason, 0), reason


def _units_streams():
    """Simulate a set (seed 3, a biceps curl) in SI, with accel in g, with gyro in deg/s."""
    from rep_coach.core.sim import SimConfig, simulate
    from rep_coach.core.units import DEG_TO_RAD, STANDARD_GRAVITY
    imu = simulate(SimConfig(seed=3, sets=1)).imu.slice(0, 2011)
    return {'si': imu,
            'g': ImuBlock(imu.t, imu.accel / STANDARD_GRAVITY, imu.gyro),
            'deg/s': ImuBlock(imu.t, imu.accel, imu.gyro / DEG_TO_RAD)}


@pytest.mark.parametrize('step', [1, 10])
def test_units_mistakes_are_flagged_once_and_si_data_is_not(step):
    # Audit: accel in g went through without a word; gyro in deg/s had 1230 of 2011
    # samples dropped as out_of_range, with stalls logged and no hint about units.
    reports = {}
    for name, stream in _units_streams().items():
        gate = SampleGate()
        for i in range(0, len(stream), step):      # 1: as the nodes push
            gate.push(stream.slice(i, i + step))
        reports[name] = gate.take_report()
    assert reports['si'].clean and not reports['si'].units
    g, degs = reports['g'], reports['deg/s']
    assert g.counts['units'] == 1 and len(g.units) == 1
    assert 'accelerations look like g, not m/s^2' in g.summary()
    assert 'REP-145' in g.summary() and g.as_key_values()['units'] == '1'
    assert g.accepted == g.received == reports['si'].accepted      # nothing else changes
    assert degs.counts['units'] == 1 and 'looks like deg/s, not rad/s' in degs.summary()
    assert 'REP-145' in degs.as_key_values()['units_detail']
    assert degs.counts['out_of_range'] > 0       # still dropped: only the hint is new


def test_units_are_judged_once_per_stream_not_per_window():
    gate = SampleGate()
    stream = _units_streams()['g']
    for i in range(0, len(stream), 10):
        gate.push(stream.slice(i, i + 10))
    assert gate.take_report().counts['units'] == 1
    later = ImuBlock(stream.t + stream.t[-1] + 0.01, stream.accel, stream.gyro)
    for i in range(0, len(later), 10):
        gate.push(later.slice(i, i + 10))
    assert gate.take_report().clean
