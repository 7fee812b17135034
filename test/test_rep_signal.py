"""The rep's raw signal carried on ``reps``: payload, the segmenters' cut, stage 2's use of it."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest

from rep_coach.core.evaluation import replay
from rep_coach.core.rep_features import RELATIVE_FEATURES
from rep_coach.core.rep_signal import RepSignalBuffer
from rep_coach.core.resample import StreamResampler
from rep_coach.core.segmentation import BaselineSegmenter
from rep_coach.core.sim import SimConfig, simulate
from rep_coach.core.types import (ImuBlock, PayloadError, quantize_signal, REP_SIGNAL_POINTS,
                                  RepEvent)
from rep_coach.learned.classifier import LearnedNearFailure
from rep_coach.learned.preprocess import N_REP_CHANNELS, rep_channels
from test_baseline import synthetic_curls

MODELS = Path(__file__).resolve().parents[1] / 'models'
needs_models = pytest.mark.skipif(not (MODELS / 'segmenter.onnx').is_file(),
                                  reason='no committed models')


def _event(signal: Any = None) -> RepEvent:
    return RepEvent(set_index=2, rep_index=3, start=10.0, end=12.5, stamp=12.9, peak=11.2,
                    features={'velocity_loss': 0.12, 'duration': 2.5}, signal=signal)


def _realistic_signal(seed: int = 0) -> np.ndarray:
    """Accel about gravity (m/s^2) and gyro of a curl (rad/s), unrounded."""
    rng = np.random.default_rng(seed)
    accel = 9.81 * np.array([[0.3], [-0.9], [0.2]]) + rng.normal(scale=3.0, size=(3, 64))
    gyro = rng.normal(scale=2.0, size=(3, REP_SIGNAL_POINTS))
    return np.concatenate([accel, gyro])


# -- payload ----------------------------------------------------------------------------------
def test_signal_round_trips_exactly_in_a_compact_payload() -> None:
    event = _event(_realistic_signal())
    text = event.to_json()
    back = RepEvent.from_json(text)
    assert back == event                                   # every other field
    assert back.signal.shape == (6, REP_SIGNAL_POINTS) and back.signal.dtype == np.float64
    # What goes on the wire is the quantised signal, bit for bit, and only that.
    np.testing.assert_array_equal(back.signal, quantize_signal(event.signal))
    assert np.abs(back.signal - event.signal).max() <= 0.5e-4 + 1e-12
    assert len(text) < 3500, len(text)
    # A decoded event encodes to the same payload: nothing drifts through a relay.
    assert back.to_json() == text


def test_payload_without_signal_decodes_to_none() -> None:
    old = json.loads(_event().to_json())
    assert old['signal'] is None
    del old['signal']                                      # a bag from before the field
    assert RepEvent.from_json(json.dumps(old)).signal is None
    nan_signal = _realistic_signal()
    nan_signal[2, 5] = math.nan                            # never put NaN on the wire
    assert json.loads(_event(nan_signal).to_json())['signal'] is None


@pytest.mark.parametrize('signal, problem', [
    ([[0.0] * REP_SIGNAL_POINTS] * 5, r'shape must be \(6, 64\), got \(5, 64\)'),
    ([[0.0] * (REP_SIGNAL_POINTS - 1)] * 6, r'shape must be \(6, 64\), got \(6, 63\)'),
    ([0.0] * 6, r'shape must be'),
    ('abc', 'got str'),
    ({'ax': [0.0]}, 'got dict'),
    (3.5, 'got float'),
    ([[0.0] * REP_SIGNAL_POINTS] * 5 + [[0.0] * 3], 'equal length'),
    ([['1.0'] * REP_SIGNAL_POINTS] * 6, 'numbers'),
    ([[True] * REP_SIGNAL_POINTS] * 6, 'numbers'),
    ([[None] * REP_SIGNAL_POINTS] * 6, 'numbers'),
])
def test_bad_signal_payload_is_named(signal: Any, problem: str) -> None:
    payload = json.loads(_event().to_json())
    payload['signal'] = signal
    with pytest.raises(PayloadError, match=r"rep event payload: bad 'signal': .*" + problem):
        RepEvent.from_json(json.dumps(payload))


@pytest.mark.parametrize('literal', ['NaN', 'Infinity', '-Infinity'])
def test_non_finite_signal_payload_is_refused(literal: str) -> None:
    rows = [[0.0] * REP_SIGNAL_POINTS for _ in range(6)]
    rows[4][7] = 123.25
    text = _event().to_json().replace('"signal":null', '"signal":' + json.dumps(rows), 1)
    text = text.replace('123.25', literal, 1)              # json.loads accepts these literals
    with pytest.raises(PayloadError, match="bad 'signal': values must be finite"):
        RepEvent.from_json(text)


# -- the cut ----------------------------------------------------------------------------------
def _grid(block: ImuBlock) -> ImuBlock:
    return StreamResampler(100.0).push(block)


def expected_signal(grid: ImuBlock, start: float, end: float) -> np.ndarray:
    """
    Compute the rep signal independently: grid samples in [start, end], interpolated in time.

    The grid samples of ``[start, end]`` are the ``k / 100`` with ``k`` from
    ``ceil(100 start)`` to ``floor(100 end)``; 64 points evenly spaced between the
    first and the last of them, each axis interpolated in time.
    """
    first = math.ceil(start * 100.0 - 1e-4) / 100.0
    last = math.floor(end * 100.0 + 1e-4) / 100.0
    times = np.linspace(first, last, REP_SIGNAL_POINTS)
    x = np.concatenate([grid.accel, grid.gyro], axis=1)
    return np.stack([np.interp(times, grid.t, x[:, j]) for j in range(6)])


def test_buffer_cuts_grid_samples_of_the_interval_whatever_the_rounding() -> None:
    buf = RepSignalBuffer(span_s=5.0)
    k = np.arange(1000, 1300)
    t = k / 100.0                                          # how the resampler makes grid times
    accel = np.stack([t, 2.0 * t, -t], axis=1)
    gyro = np.stack([np.sin(t), np.cos(t), t - 10.0], axis=1)
    for i in range(0, 300, 10):
        buf.append(t[i:i + 10], accel[i:i + 10], gyro[i:i + 10])
    grid = ImuBlock(t, accel, gyro)
    # Boundaries computed as training computes grid times (t0 + i / rate): a rounding
    # error away from the grid sample, which still belongs to the rep.
    start, end = 10.0 + 112 * 0.01, 10.0 + 213 * 0.01
    assert start > 11.12 and end < 12.13
    got = buf.cut(start, end)
    np.testing.assert_allclose(got, expected_signal(grid, start, end), atol=0.51e-4, rtol=0)
    assert got[0, 0] == pytest.approx(11.12, abs=1e-9)
    assert got[0, -1] == pytest.approx(12.13, abs=1e-9)
    np.testing.assert_array_equal(got, quantize_signal(got))
    # Between grid samples: the samples inside only.
    assert buf.cut(11.125, 12.135)[0, 0] == pytest.approx(11.13, abs=1e-9)
    assert buf.cut(11.125, 11.129) is None                 # no grid sample inside
    assert buf.cut(11.13, 11.13)[0].tolist() == [11.13] * REP_SIGNAL_POINTS


def test_buffer_forgets_beyond_its_span_and_refuses_non_finite_values() -> None:
    buf = RepSignalBuffer(span_s=2.0)
    t = np.arange(0, 1000) / 100.0
    zeros = np.zeros((t.size, 3))
    for i in range(0, t.size, 10):
        buf.append(t[i:i + 10], zeros[i:i + 10] + 9.81, zeros[i:i + 10])
    assert buf.cut(1.0, 2.0) is None                       # long gone
    assert buf.cut(8.5, 9.9) is not None
    buf.append(np.array([10.0]), np.array([[math.nan, 0.0, 0.0]]), np.zeros((1, 3)))
    assert buf.cut(9.5, 10.0) is None
    buf.reset()
    assert buf.cut(8.5, 9.9) is None


def test_baseline_segmenter_attaches_the_raw_signal_of_each_rep() -> None:
    block, ends = synthetic_curls(n_reps=6)
    # The baseline reads only the gyro: known ramps on the accelerometer axes (exact
    # under linear interpolation) show that the right samples, axes and units are cut.
    tau = block.t - block.t[0]
    block = ImuBlock(block.t, np.stack([9.81 + 0.1 * tau, -0.5 * tau, 2.0 - 0.01 * tau], 1),
                     block.gyro)
    events = replay(_rec(block), BaselineSegmenter(), None, block_s=0.005).events
    assert len(events) == len(ends)
    grid = _grid(block)
    for event in events:
        assert event.signal is not None and event.signal.shape == (6, REP_SIGNAL_POINTS)
        want = expected_signal(grid, event.start, event.end)
        np.testing.assert_allclose(event.signal, want, atol=0.51e-4, rtol=0)
        # Against the ramps themselves, not only the grid.
        t0 = math.ceil(event.start * 100 - 1e-4) / 100 - block.t[0]
        t1 = math.floor(event.end * 100 + 1e-4) / 100 - block.t[0]
        times = np.linspace(t0, t1, REP_SIGNAL_POINTS)
        np.testing.assert_allclose(event.signal[0], 9.81 + 0.1 * times, atol=1e-4, rtol=0)
        np.testing.assert_allclose(event.signal[1], -0.5 * times, atol=1e-4, rtol=0)


def _rec(block: ImuBlock):
    from rep_coach.core.types import ImuRecording
    return ImuRecording('synthetic', block, float(1.0 / (block.t[1] - block.t[0])))


@needs_models
def test_learned_segmenter_attaches_the_raw_signal_of_each_rep() -> None:
    from rep_coach.learned import load_stages
    rec = simulate(SimConfig(seed=3, sets=1))
    seg_f, _ = load_stages(MODELS)
    events = replay(rec, seg_f(), None, block_s=0.01).events
    assert len(events) >= 5
    grid = _grid(rec.imu)
    for event in events:
        assert event.signal is not None
        np.testing.assert_allclose(event.signal, expected_signal(grid, event.start, event.end),
                                   atol=0.51e-4, rtol=0)


# -- stage 2 ----------------------------------------------------------------------------------
class RecordingModel:
    """Stands in for the ONNX session: records the inputs ``LearnedNearFailure`` gives it."""

    def __init__(self) -> None:
        self.inputs: List[Dict[str, np.ndarray]] = []

    def meta_json(self, key: str) -> Dict[str, Any]:
        assert key == 'rep_coach'
        return {'sig_len': REP_SIGNAL_POINTS, 'hidden': 4, 'recurrent': False,
                'feat_mean': [0.0] * len(RELATIVE_FEATURES), 'threshold': 0.5}

    def run(self, **inputs: np.ndarray):
        self.inputs.append(inputs)
        return (np.full((1, 1), 0.7, np.float32), np.array([[0.1, 0.6, 0.2, 0.1]], np.float32),
                inputs['h'])


def _segmenters():
    yield 'baseline', BaselineSegmenter
    if (MODELS / 'segmenter.onnx').is_file():
        from rep_coach.learned import load_stages
        yield 'learned', load_stages(MODELS)[0]


@pytest.mark.parametrize('name', ['baseline', 'learned'])
def test_training_and_runtime_give_the_classifier_the_same_signal(name: str) -> None:
    pytest.importorskip('torch')
    from rep_coach.training.clf_train import ClfTrainConfig, SetSample, training_signal
    from rep_coach.training.data import Rep, session_from_recording
    factories = dict(_segmenters())
    if name not in factories:
        pytest.skip('no committed models')
    rec = simulate(SimConfig(seed=5, sets=1))
    events = replay(rec, factories[name](), None, block_s=0.01).events   # as the node pushes
    assert len(events) >= 5
    n = len(events)
    sample = SetSample(session_from_recording(rec),
                       [Rep(e.start, e.end, None, None, None) for e in events],
                       np.zeros((n, len(RELATIVE_FEATURES)), np.float32),
                       np.zeros(n, np.float32), np.zeros(n, np.int64))
    model = RecordingModel()
    clf = LearnedNearFailure(model)
    for i, event in enumerate(events):
        clf.on_rep(RepEvent.from_json(event.to_json()))     # as the node receives it
        runtime = model.inputs[-1]['signal']
        assert runtime.shape == (1, N_REP_CHANNELS, REP_SIGNAL_POINTS)
        assert runtime.dtype == np.float32
        np.testing.assert_array_equal(runtime[0], training_signal(sample, i, ClfTrainConfig(),
                                                                  None))
    assert clf.reps_without_signal == 0


def test_learned_classifier_answers_a_rep_without_signal_and_counts_it() -> None:
    model = RecordingModel()
    clf = LearnedNearFailure(model)
    state = clf.on_rep(_event())
    assert state.rep_index == 3 and state.near_failure and state.rir == 1
    # Classified on a zero raw signal, through the same invariant channels.
    np.testing.assert_array_equal(model.inputs[-1]['signal'][0],
                                  rep_channels(np.zeros((6, REP_SIGNAL_POINTS))))
    assert clf.reps_without_signal == 1
    clf.on_rep(_event(_realistic_signal()))
    assert clf.reps_without_signal == 1
    assert np.abs(model.inputs[-1]['signal']).max() > 0
    clf.reset()                                            # a new session keeps the count
    clf.on_rep(_event())
    assert clf.reps_without_signal == 2


@needs_models
def test_committed_classifier_answers_a_rep_without_signal() -> None:
    from rep_coach.learned import load_stages
    clf = load_stages(MODELS)[1]()
    state = clf.on_rep(_event())
    assert 0.0 <= state.probability <= 1.0 and state.rir in (0, 1, 2, 3)
    assert clf.reps_without_signal == 1
