"""The published-size reference: its streaming driver, its classifier and its LOSO run."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

from rep_coach.core.types import ImuBlock

torch = pytest.importorskip('torch')
pytest.importorskip('onnx')

from rep_coach.training import reference  # noqa: E402  (needs torch)
from rep_coach.training.reference import (HOP, RefNearFailure, RefPipeline,  # noqa: E402
                                          SEG_FEATURES, WINDOW)

#: Rep ends of the hand-made stream below, s.
ENDS = (5.0, 8.0, 11.0, 14.0)


def _stream(n: int = 2000) -> ImuBlock:
    """100 Hz, at rest, with accel x at 0.5 g within 0.3 s of every end in ENDS."""
    t = np.arange(n) / 100.0
    accel = np.tile([0.0, 0.0, 9.81], (n, 1))
    for end in ENDS:
        accel[np.abs(t - end) <= 0.3, 0] = 0.5 * 9.81
    return ImuBlock(t, accel, np.zeros((n, 3)))


class _Segmenter:
    """Stands in for the reference segmenter: certain wherever accel x is raised."""

    def __init__(self):
        self.calls = 0

    def run(self, _names, feeds):
        self.calls += 1
        window = feeds['window']
        assert window.shape == (1, 6, WINDOW)
        return [np.where(window[:, :1] > 0.1, 8.0, -8.0).astype(np.float32)]


class _Classifier:
    """Stands in for the reference classifier: its logit counts the steps in its state."""

    def __init__(self):
        self.feeds = []

    def get_inputs(self):
        return [SimpleNamespace(name=n, shape=[2, 1, 3]) for n in ('h', 'c')]

    def run(self, _names, feeds):
        self.feeds.append(feeds)
        assert feeds['window'].shape == (1, 1, 7, WINDOW)
        assert feeds['seg'].shape == (1, 1, SEG_FEATURES)
        h = feeds['h'] + 1.0
        return [np.array([[h[0, 0, 0] - 15.0]], np.float32), h, feeds['c']]


def test_reference_trains_on_the_six_raw_axes():
    from rep_coach.training.synthetic import sim_sessions
    model = reference.train_ref_segmenter(sim_sessions(1, sets=1), steps=1, seed=0, batch=2,
                                          progress=False)
    with torch.no_grad():
        assert model(torch.zeros(1, 6, WINDOW)).shape == (1, 1, WINDOW)


def test_reference_training_is_deterministic_for_a_seed():
    # What makes reusing a fold's segmenter (--reference-reuse) the same as retraining it.
    from rep_coach.training.synthetic import sim_sessions
    sessions = sim_sessions(1, sets=1)
    a, b = (reference.train_ref_segmenter(sessions, steps=2, seed=3, batch=2, progress=False)
            for _ in range(2))
    assert all(torch.equal(pa, pb) for pa, pb in zip(a.parameters(), b.parameters()))
    seq = reference.window_sequence(sessions[0], _Segmenter())
    c, d = (reference.train_ref_classifier([seq], epochs=1, seed=3, progress=False)
            for _ in range(2))
    assert all(torch.equal(pc, pd) for pc, pd in zip(c.parameters(), d.parameters()))


def test_reference_driver_runs_one_window_per_hop_whatever_the_blocks():
    n = 2000
    block = _stream(n)
    for step in (1, 7, 150, n):
        model = _Segmenter()
        seg = RefPipeline(model)
        for i in range(0, n, step):
            seg.push(block.slice(i, i + step))
        assert model.calls == (n - WINDOW) // HOP + 1


@pytest.mark.parametrize('step', [1, 37, 100, 2000])
def test_each_rep_gets_the_verdict_of_the_window_that_emitted_it(step):
    block = _stream()
    pipe = RefPipeline(_Segmenter(), _Classifier())
    view = RefNearFailure(pipe)
    events, verdicts = [], []
    for i in range(0, len(block), step):
        for event in pipe.push(block.slice(i, i + step)):
            events.append(event)
            verdicts.append(view.on_rep(event))
    assert [round(e.end, 1) for e in events] == list(ENDS)
    windows = {s.stamp: s for s in view.window_states}
    assert len(windows) == (len(block) - WINDOW) // HOP + 1
    for event, verdict in zip(events, verdicts):
        assert (verdict.set_index, verdict.rep_index) == (event.set_index, event.rep_index)
        assert verdict.stamp == event.stamp
        assert verdict.probability == windows[event.stamp].probability
    # The stand-in's probability rises window by window: the later reps are flagged.
    assert [v.near_failure for v in verdicts] == [False, False, True, True]


def test_segmentation_features_follow_the_reps():
    pipe = RefPipeline(_Segmenter(), keep_windows=True)
    pipe.push(_stream())
    seg = {w.stamp: w.seg for w in pipe.windows}
    before = seg[min(seg)]
    assert before[0] == 0.0 and before[1] == 1.0 and before[7] == 0.0   # no rep yet
    last = seg[max(seg)]
    assert last[0] == pytest.approx(0.4)          # four reps in the set
    assert last[2] == pytest.approx(3.0 / 5.0)    # 3 s from end to end
    assert last[4] == pytest.approx(0.0, abs=0.01)  # no slower than the first interval
    assert last[7] == 1.0


def test_onnx_step_matches_the_torch_sequence(tmp_path):
    torch.manual_seed(0)
    model = reference.RefClassifier(SEG_FEATURES).eval()
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (1, 5, 7, WINDOW)).astype(np.float32)
    seg = rng.uniform(0, 1, (1, 5, SEG_FEATURES)).astype(np.float32)
    h = torch.zeros(2, 1, 1024)
    with torch.no_grad():
        expected = model(torch.from_numpy(x), torch.from_numpy(seg), h, h)[0].numpy()[0]
    sess = reference.load_ref_classifier(
        reference.export_ref_classifier(model, tmp_path / 'clf.onnx'))
    hn = cn = np.zeros((2, 1, 1024), np.float32)
    got = []
    for w in range(5):
        logit, hn, cn = sess.run(None, {'window': x[:, w:w + 1], 'seg': seg[:, w:w + 1],
                                        'h': hn, 'c': cn})
        got.append(logit[0, 0])
    # Without the carried state the logits differ by ~4e-3 here.
    np.testing.assert_allclose(got, expected, atol=1e-5)


def test_window_labels_are_the_harness_window_truth():
    from rep_coach.training.synthetic import sim_sessions
    sess = sim_sessions(1, seed=4, sets=1)[0]
    seq = reference.window_sequence(sess, _Segmenter())
    reps = [r for s in sess.sets for r in s]
    nf = [r for r in reps if r.rpe is not None and r.rpe >= 8]
    assert nf and seq.y.sum() > 0
    assert np.all(seq.y <= seq.mask)
    # Every labelled window's newest hop is centred inside a rep with an RPE.
    assert seq.mask.sum() == pytest.approx(
        sum((r.end - r.start) / (HOP / 100.0) for r in reps if r.rpe is not None), abs=len(reps))


def test_loso_run_scores_both_stages_and_reuses_only_a_segmenter_made_alike(tmp_path):
    from rep_coach.training.synthetic import sim_sessions
    sessions = sim_sessions(4, seed=3, sets=1, pseudo_subjects=2)
    first = reference.run_reference_loso(sessions, 2, 0, tmp_path, progress=False, epochs=1)
    assert set(first['near_failure']) >= {'rep_f1', 'window_f1'}
    assert first['classifier_epochs'] == 1 and first['classifier_params'] > 10_000_000
    assert set(first['per_subject']) == {'sim0', 'sim1'}
    stamp = tmp_path / 'fold_sim0' / 'ref.json'
    assert json.loads(stamp.read_text())['steps'] == 2
    onnx = tmp_path / 'fold_sim0' / 'ref.onnx'
    mtime = onnx.stat().st_mtime_ns
    again = reference.run_reference_loso(sessions, 2, 0, tmp_path, progress=False, epochs=1,
                                         reuse_segmenters=True)
    assert onnx.stat().st_mtime_ns == mtime
    assert again['segmentation'] == first['segmentation']
    assert again['near_failure'] == first['near_failure']
    other = reference.run_reference_loso(sessions, 3, 0, tmp_path, progress=False, epochs=0,
                                         reuse_segmenters=True)
    assert onnx.stat().st_mtime_ns != mtime
    assert json.loads(stamp.read_text())['steps'] == 3
    assert 'near_failure' not in other
    stamp.write_text('{not json')          # a damaged record: trained again, not a crash
    mtime = onnx.stat().st_mtime_ns
    reference.run_reference_loso(sessions, 3, 0, tmp_path, progress=False, epochs=0,
                                 reuse_segmenters=True)
    assert onnx.stat().st_mtime_ns != mtime
    assert json.loads(stamp.read_text())['steps'] == 3
