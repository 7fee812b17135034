"""Tests of the SampleGate."""

from hypothesis import given, settings, strategies as st
import numpy as np
import pytest

from rep_coach.core.types import ImuBlock
from rep_coach.core.validation import GateConfig, SampleGate


def _block(t, acc=None, gyr=None):
    t = np.asarray(t, dtype=float)
    acc = np.tile([0.0, 0.0, 9.81], (len(t), 1)) if acc is None else np.asarray(acc, float)
    gyr = np.zeros((len(t), 3)) if gyr is None else np.asarray(gyr, float)
    return ImuBlock(t, acc, gyr)


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
            if len(part) and last is not None and not (k > 0 or rep.resync):
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
