"""Learned stages at runtime: load checks, ONNX/PyTorch agreement, streaming equivalence."""

from pathlib import Path

import numpy as np
import pytest

from rep_coach.core.evaluation import replay
from rep_coach.core.rep_features import FEATURE_NAMES, RELATIVE_FEATURES
from rep_coach.core.types import ImuBlock, REP_SIGNAL_POINTS, RepEvent
from rep_coach.learned import load_stages, ModelLoadError
from rep_coach.learned.events import EndPicker, PickerConfig
from rep_coach.learned.kinematic_input import N_INPUTS
from rep_coach.learned.preprocess import N_REP_CHANNELS, rep_channels

MODELS = Path(__file__).resolve().parents[1] / 'models'

torch = pytest.importorskip('torch')
pytest.importorskip('onnx')


@pytest.fixture(scope='module')
def exported(tmp_path_factory):
    """Export a small random-weight pair like the real models."""
    from rep_coach.training.export import export_classifier, export_segmenter
    from rep_coach.training.models import CausalTCN, RepClassifier
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp('models')
    tcn = CausalTCN(channels=8, dilations=(1, 2, 4)).eval()
    clf = RepClassifier(len(RELATIVE_FEATURES), sig_len=REP_SIGNAL_POINTS, hidden=8).eval()
    export_segmenter([tcn], out / 'segmenter.onnx', {})
    export_classifier(clf, out / 'near_failure.onnx', 0.5)
    return out, tcn, clf


def test_segmenter_onnx_matches_torch_streaming(exported):
    from rep_coach.learned import load_segmenter_model
    out, tcn, _ = exported
    model = load_segmenter_model(out / 'segmenter.onnx')
    meta = model.meta_json('rep_coach')
    x = np.random.default_rng(1).uniform(-1, 1, (1, N_INPUTS, 200)).astype(np.float32)
    with torch.no_grad():
        ref = tcn(torch.from_numpy(x)).numpy()
    state = np.zeros((1, meta['channels'], meta['state_len']), np.float32)
    got = []
    for i in range(0, 200, 10):
        y, state = model.run(imu=x[:, :, i:i + 10], state=state)
        got.append(y)
    np.testing.assert_allclose(np.concatenate(got, axis=2), ref, atol=1e-4)


def test_segmenter_ensemble_onnx_streams_the_mean_of_its_members(tmp_path):
    from rep_coach.learned import load_segmenter_model
    from rep_coach.training.export import export_segmenter
    from rep_coach.training.models import CausalTCN
    torch.manual_seed(3)
    members = [CausalTCN(channels=8, dilations=(1, 2, 4)).eval() for _ in range(3)]
    model = load_segmenter_model(export_segmenter(members, tmp_path / 'segmenter.onnx', {}))
    meta = model.meta_json('rep_coach')
    assert (meta['members'], meta['member_channels'], meta['channels']) == (3, 8, 24)
    x = np.random.default_rng(4).uniform(-1, 1, (1, N_INPUTS, 120)).astype(np.float32)
    with torch.no_grad():
        each = [m(torch.from_numpy(x)).numpy() for m in members]
    state = np.zeros((1, meta['channels'], meta['state_len']), np.float32)
    got = []
    for i in range(0, 120, 10):
        y, state = model.run(imu=x[:, :, i:i + 10], state=state)
        got.append(y)
    got = np.concatenate(got, axis=2)
    np.testing.assert_allclose(got, np.mean(each, axis=0), atol=1e-4)
    # Not just one member's output: the members disagree by more than the tolerance.
    assert max(np.abs(got - e).max() for e in each) > 1e-2


def test_ensemble_members_must_share_their_shape():
    from rep_coach.training.models import CausalTCN, StreamingEnsemble
    with pytest.raises(ValueError, match='same channels'):
        StreamingEnsemble([CausalTCN(channels=8, dilations=(1, 2)),
                           CausalTCN(channels=8, dilations=(1, 4))])
    with pytest.raises(ValueError, match='at least one'):
        StreamingEnsemble([])


def test_classifier_onnx_matches_torch(exported):
    from rep_coach.learned import load_classifier_model
    from rep_coach.training.models import RepClassifierStep
    out, _, clf = exported
    model = load_classifier_model(out / 'near_failure.onnx')
    rng = np.random.default_rng(2)
    f = rng.normal(size=(1, len(RELATIVE_FEATURES))).astype(np.float32)
    s = rng.uniform(-1, 1, (1, N_REP_CHANNELS, REP_SIGNAL_POINTS)).astype(np.float32)
    h = rng.normal(size=(1, 1, 8)).astype(np.float32)
    p, r, h2 = model.run(features=f, signal=s, h=h)
    with torch.no_grad():
        tp, tr, th = RepClassifierStep(clf)(*(torch.from_numpy(a) for a in (f, s, h)))
    np.testing.assert_allclose(p, tp.numpy(), atol=1e-5)
    np.testing.assert_allclose(r, tr.numpy(), atol=1e-5)
    np.testing.assert_allclose(h2, th.numpy(), atol=1e-5)


def test_missing_model_names_file(tmp_path):
    with pytest.raises(ModelLoadError, match='segmenter.onnx'):
        load_stages(tmp_path)


def test_corrupt_model_names_file(tmp_path, exported):
    out, _, _ = exported
    (tmp_path / 'segmenter.onnx').write_bytes(b'not an onnx model')
    (tmp_path / 'near_failure.onnx').write_bytes((out / 'near_failure.onnx').read_bytes())
    with pytest.raises(ModelLoadError, match='segmenter.onnx'):
        load_stages(tmp_path)


def test_a_model_says_what_was_loaded_even_once_its_file_is_replaced(tmp_path, exported):
    import hashlib
    from rep_coach.learned import load_classifier_model
    out, _, _ = exported
    data = (out / 'near_failure.onnx').read_bytes()
    (tmp_path / 'near_failure.onnx').write_bytes(data)
    model = load_classifier_model(tmp_path / 'near_failure.onnx')
    (tmp_path / 'near_failure.onnx').write_bytes(b'another model')   # e.g. retrained
    assert (model.size, model.sha256) == (len(data), hashlib.sha256(data).hexdigest())
    # The exporter sets a producer but no model version.
    assert (model.producer, model.model_version) == ('rep_coach', None)


def test_wrong_model_in_place_names_file(tmp_path, exported):
    out, _, _ = exported
    # The classifier where the segmenter should be: wrong input names.
    (tmp_path / 'segmenter.onnx').write_bytes((out / 'near_failure.onnx').read_bytes())
    (tmp_path / 'near_failure.onnx').write_bytes((out / 'near_failure.onnx').read_bytes())
    with pytest.raises(ModelLoadError, match=r'segmenter\.onnx.*imu'):
        load_stages(tmp_path)


def test_wrong_shape_names_tensor(tmp_path):
    from rep_coach.learned import load_classifier_model
    from rep_coach.training.export import export_classifier
    from rep_coach.training.models import RepClassifier
    clf = RepClassifier(len(RELATIVE_FEATURES) + 1, hidden=8).eval()
    export_classifier(clf, tmp_path / 'near_failure.onnx', 0.5)
    with pytest.raises(ModelLoadError, match="'features' has shape"):
        load_classifier_model(tmp_path / 'near_failure.onnx')


def test_classifier_for_another_signal_length_names_file(tmp_path):
    from rep_coach.learned import load_classifier_model
    from rep_coach.training.export import export_classifier
    from rep_coach.training.models import RepClassifier
    clf = RepClassifier(len(RELATIVE_FEATURES), sig_len=32, hidden=8).eval()
    export_classifier(clf, tmp_path / 'near_failure.onnx', 0.5)
    with pytest.raises(ModelLoadError, match=r"near_failure\.onnx: .*'sig_len' is 32, but rep "
                                             r'events carry signals of 64 points'):
        load_classifier_model(tmp_path / 'near_failure.onnx')


def test_picker_places_the_end_at_the_falling_edge():
    t = np.arange(300) / 100.0
    p = np.zeros(300)
    p[100:180] = 0.9
    p[130] = 0.4  # a one-sample wobble below half the peak does not split the run
    events = EndPicker(PickerConfig(on=0.5, off=0.35, end_offset_s=0.4)).update(t, p)
    assert len(events) == 1
    end, stamp, peak = events[0]
    assert peak == 0.9
    # Falling half-maximum (0.45) crossing between 1.79 s (0.9) and 1.80 s (0.0), minus 0.4 s.
    # Decided once the next sample confirms the fall (confirm_s, 0.01 s).
    assert end == pytest.approx(1.79 + 0.01 * 0.45 / 0.9 - 0.4) and stamp == pytest.approx(1.81)


def test_picker_times_a_weak_run_at_half_its_own_peak():
    # An unsure network: a run peaking at 0.4, below any fixed 0.5 level.
    t = np.arange(300) / 100.0
    p = np.zeros(300)
    p[100:150] = np.linspace(0.3, 0.4, 50)
    p[150:170] = np.linspace(0.4, 0.1, 20)
    events = EndPicker(PickerConfig(on=0.25, off=0.15, end_offset_s=0.3)).update(t, p)
    assert len(events) == 1
    end, _, peak = events[0]
    assert peak == pytest.approx(0.4)
    # p falls from 0.4 at 1.50 s by 0.3 / 19 per sample: it crosses 0.2 at 1.50 + 0.19 * 2 / 3.
    assert end == pytest.approx(1.50 + 0.19 * 2 / 3 - 0.3, abs=1e-6)
    # The same run scaled to a confident peak is timed at the same place.
    strong = EndPicker(PickerConfig(on=0.25, off=0.15, end_offset_s=0.3)).update(t, 2 * p)
    assert strong[0][0] == pytest.approx(end, abs=1e-6)


def test_picker_fires_a_run_that_does_not_end_from_its_rising_edge():
    t = np.arange(400) / 100.0
    p = np.where(t >= 1.0, 0.9, 0.0)
    events = EndPicker(PickerConfig(max_run_s=1.6, end_offset_s=0.4)).update(t, p)
    assert len(events) == 1
    end, stamp, _ = events[0]
    assert end == pytest.approx(1.4) and stamp == pytest.approx(2.6)


def test_picker_ignores_blips_and_splits_nothing_in_blocks():
    t = np.arange(600) / 100.0
    p = np.zeros(600)
    p[100:105] = 0.9            # 50 ms blip: no rep
    p[200:280] = 0.9
    p[420:500] = 0.9
    whole = EndPicker().update(t, p)
    parts = EndPicker()
    pieces = [e for i in range(0, 600, 7) for e in parts.update(t[i:i + 7], p[i:i + 7])]
    assert len(whole) == 2 and pieces == whole


def _sim_recording():
    from rep_coach.core.sim import simulate
    from rep_coach.core.sim.config import SimConfig
    return simulate(SimConfig(seed=3, sets=1))


def _replay(rec, seg_f, clf_f, step):
    out = replay(rec, seg_f(), clf_f(), block_s=step / rec.rate_hz)
    return out.events, out.states


@pytest.mark.skipif(not (MODELS / 'segmenter.onnx').is_file(), reason='no committed models')
def test_streaming_block_size_does_not_matter():
    rec = _sim_recording()
    seg_f, clf_f = load_stages(MODELS)
    small, s_states = _replay(rec, seg_f, clf_f, 3)
    big, b_states = _replay(rec, seg_f, clf_f, 997)
    assert len(small) > 0
    assert [(e.rep_index, e.end, e.stamp) for e in small] == \
        [(e.rep_index, e.end, e.stamp) for e in big]
    for a, b in zip(small, big):
        np.testing.assert_array_equal(a.signal, b.signal)
    np.testing.assert_allclose([s.probability for s in s_states],
                               [s.probability for s in b_states], atol=1e-6)


@pytest.mark.skipif(not (MODELS / 'segmenter.onnx').is_file(), reason='no committed models')
def test_committed_models_run_and_emit_valid_payloads():
    rec = _sim_recording()
    seg_f, clf_f = load_stages(MODELS)
    events, states = _replay(rec, seg_f, clf_f, 5)
    n_true = sum(len(s.reps) for s in rec.sets)
    assert abs(len(events) - n_true) <= 2
    for e in events:
        assert e.stamp >= e.end >= e.start
        assert set(FEATURE_NAMES) <= set(e.features)
        RepEvent.from_json(e.to_json())
    assert all(0.0 <= s.probability <= 1.0 and s.rir in (0, 1, 2, 3) for s in states)


def test_empty_block_is_harmless(exported):
    out, _, _ = exported
    seg_f, clf_f = load_stages(out)
    seg, clf = seg_f(), clf_f()
    assert seg.push(ImuBlock.empty()) == []
    assert clf.on_rep(RepEvent(1, 1, 0.0, 2.0, 2.1)).rep_index == 1   # no signal: still answers


@pytest.mark.skipif(not (MODELS / 'segmenter.onnx').is_file(), reason='no committed models')
def test_a_sets_first_rep_starts_where_the_lift_does():
    # The network's "inside a rep" onset comes after the lift has begun; the first
    # rep's start (and with it the set's reference durations) is found in the rate.
    from rep_coach.core.sim import simulate
    from rep_coach.core.sim.config import SimConfig
    rec = simulate(SimConfig(seed=3, sets=3))
    events = replay(rec, load_stages(MODELS)[0](), None).events
    errors = []
    for event in (e for e in events if e.rep_index == 1):
        for labels in rec.sets:
            nearest = min(labels.reps, key=lambda r: abs(r.end - event.end))
            if abs(nearest.end - event.end) < 0.5 and nearest is labels.reps[0]:
                errors.append(event.start - nearest.start)
    # Before: the onset was late within a set and, after a rest, stale by 4-50 s.
    assert len(errors) == len(rec.sets) and max(abs(e) for e in errors) < 0.3, errors


def _rotation(rng: np.random.Generator) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    q = q * np.sign(np.diag(r))
    return q if np.linalg.det(q) > 0 else -q


def _curl_axes(rate: float = 0.5) -> np.ndarray:
    """(6, 64) scaled axes of a curl: a lift then a lowering about sensor x."""
    phase = np.linspace(0.0, 1.0, REP_SIGNAL_POINTS)
    angle = np.pi * 0.75 * np.sin(np.pi * phase)
    gyro = np.zeros((3, phase.size))
    gyro[0] = rate * np.cos(np.pi * phase)
    accel = 0.5 * np.stack([np.zeros_like(angle), np.sin(angle), -np.cos(angle)])
    return np.concatenate([accel, gyro])


def test_rep_channels_do_not_depend_on_the_mounting():
    rng = np.random.default_rng(0)
    x = _curl_axes() + rng.normal(scale=0.01, size=(6, REP_SIGNAL_POINTS))
    base = rep_channels(x)
    assert base.shape == (N_REP_CHANNELS, REP_SIGNAL_POINTS) and base.dtype == np.float32
    for _ in range(5):
        rot = _rotation(rng)
        turned = np.concatenate([rot @ x[:3], rot @ x[3:]])
        np.testing.assert_allclose(rep_channels(turned), base, atol=1e-5)
    # Mounted the other way round, the lift still reads as a positive rate.
    flipped = np.concatenate([x[:3], -x[3:]])
    np.testing.assert_allclose(rep_channels(flipped), base, atol=1e-5)
    assert base[3, :16].mean() > 0 and abs(base[2].max() - 0.75) < 0.1


def test_rep_channels_see_a_slower_lift():
    fast, slow = rep_channels(_curl_axes(0.5)), rep_channels(_curl_axes(0.3))
    assert slow[0].max() < 0.65 * fast[0].max()
    np.testing.assert_allclose(slow[2], fast[2], atol=1e-6)   # same path, slower
