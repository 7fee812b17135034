"""rep_coach.core.filters (numpy only) against scipy.signal, and kept out of the node path."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from rep_coach.core.filters import (butter_highpass, butter_lowpass, butter_sos, lfilter_zi,
                                    StreamingSos)

signal = pytest.importorskip('scipy.signal')

RATE = 100.0


def _signal(n: int = 2000, channels: int = 3, seed: int = 0) -> np.ndarray:
    """Return a random walk with an offset: the start-up steady state matters for it."""
    rng = np.random.default_rng(seed)
    return np.cumsum(rng.standard_normal((n, channels)), axis=0) * 0.1 + 4.0


def _scipy_streaming(sos: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Compute what the filters promise: sosfilt from the steady state of the first sample."""
    zi = signal.sosfilt_zi(sos)[:, :, None] * x[0][None, None, :]
    return signal.sosfilt(sos, x, axis=0, zi=zi)[0]


@pytest.mark.parametrize('btype', ['low', 'high'])
@pytest.mark.parametrize('order', [1, 2, 3, 4, 5])
@pytest.mark.parametrize('cutoff', [0.2, 3.0, 20.0])
def test_butterworth_design_matches_scipy(btype: str, order: int, cutoff: float) -> None:
    ours = butter_sos(order, cutoff, RATE, btype)
    theirs = signal.butter(order, cutoff, btype, fs=RATE, output='sos')
    assert ours.shape == theirs.shape
    if order <= 2:   # the orders the segmenter uses: the very same coefficients
        assert np.allclose(ours, theirs, rtol=0, atol=1e-13)
    x = _signal(channels=1)[:, 0]
    assert np.allclose(signal.sosfilt(ours, x), signal.sosfilt(theirs, x), rtol=0, atol=1e-9)


def test_steady_state_matches_scipy() -> None:
    for sec in signal.butter(4, 5.0, 'low', fs=RATE, output='sos'):
        assert np.allclose(lfilter_zi(sec[:3], sec[3:]), signal.lfilter_zi(sec[:3], sec[3:]),
                           rtol=0, atol=1e-12)


@pytest.mark.parametrize('make', [lambda: butter_lowpass(3.0, RATE, 2, channels=3),
                                  lambda: butter_highpass(0.2, RATE, 1, channels=3),
                                  lambda: StreamingSos(signal.butter(4, 8.0, fs=RATE,
                                                                     output='sos'), 3)])
@pytest.mark.parametrize('block', [1, 5, 7, 64, 65, 130, 2000])
def test_streaming_in_blocks_equals_scipy_in_one_call(make, block: int) -> None:
    x = _signal()
    flt = make()
    want = _scipy_streaming(flt.sos, x)
    got = np.concatenate([flt(x[i:i + block]) for i in range(0, len(x), block)])
    assert np.allclose(got, want, rtol=0, atol=1e-9)


def test_one_dimensional_input_reset_and_empty_blocks() -> None:
    x = _signal(channels=1)[:, 0]
    flt = butter_lowpass(3.0, RATE)
    first = flt(x)
    assert first.shape == x.shape
    assert flt(x[:0]).shape == (0,)
    flt.reset()
    assert np.allclose(flt(x), first, rtol=0, atol=0)
    assert np.allclose(first, _scipy_streaming(flt.sos, x[:, None])[:, 0], rtol=0, atol=1e-9)


def test_bad_designs_are_refused() -> None:
    with pytest.raises(ValueError, match='cutoff'):
        butter_sos(2, 60.0, RATE)
    with pytest.raises(ValueError, match='order'):
        butter_sos(0, 3.0, RATE)


def test_the_node_path_does_not_import_scipy() -> None:
    """scipy.signal costs a node process ~60 MB; the nodes and their stages do without it."""
    code = ('import sys\n'
            'import rep_coach.nodes.rep_segmenter, rep_coach.nodes.near_failure_classifier\n'
            'import rep_coach.nodes.audio_feedback, rep_coach.nodes.imu_publisher\n'
            'from rep_coach.pipeline import stage_factories\n'
            'make_segmenter, make_classifier = stage_factories("baseline")\n'
            'make_segmenter(), make_classifier()\n'
            'print(sorted(m for m in sys.modules if m.split(".")[0] in '
            '("scipy", "onnxruntime")))\n')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == '[]'


def test_memory_stays_bounded_whatever_the_block_lengths() -> None:
    """A node sees blocks of many lengths (bursts after stalls): the cached matrices are capped."""
    from rep_coach.core import filters
    flt = butter_lowpass(3.0, RATE, 2, channels=3)
    x = _signal(n=199 * 200 // 2)
    start = 0
    for n in range(1, 200):
        flt(x[start:start + n])
        start += n
    assert len(filters._matrix_cache) <= filters._CACHE_SIZE
