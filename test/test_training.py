"""The train CLI path on a few simulated sets (tiny run: seconds, not a real training)."""

import argparse

import pytest

pytest.importorskip('torch')
pytest.importorskip('onnx')


def test_train_cli_tiny_synthetic_run(tmp_path):
    from rep_coach.cli import train
    from rep_coach.learned import load_stages
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest='command')
    train.add_parser(sub)
    out = tmp_path / 'models'
    args = parser.parse_args(['train', '--synthetic', '2', '--seg-steps', '2', '--clf-steps',
                              '2', '--no-loso', '--out', str(out), '--work-dir',
                              str(tmp_path / 'work'), '--no-progress'])
    assert train.run(args) == 0
    assert (tmp_path / 'work' / 'report.json').is_file()
    seg_f, clf_f = load_stages(out)
    assert seg_f() is not None and clf_f() is not None


def test_training_is_deterministic_for_a_seed():
    import torch
    from rep_coach.training.seg_train import SegTrainConfig, train_segmenter
    from rep_coach.training.synthetic import sim_sessions
    sessions = sim_sessions(1, sets=1)
    cfg = SegTrainConfig(channels=8, dilations=(1, 2), steps=3, batch=2, crop=128)
    a = train_segmenter(sessions, cfg, seed=5, progress=False)
    b = train_segmenter(sessions, cfg, seed=5, progress=False)
    for pa, pb in zip(a.parameters(), b.parameters()):
        assert torch.equal(pa, pb)


def test_ensemble_member_k_is_the_single_run_of_seed_plus_k(tmp_path):
    # docs/models.md promises this: an ensemble's members can be compared one by one
    # with single-network runs (pretraining data and seeds included).
    import numpy as np
    import onnx
    from onnx import numpy_helper
    from rep_coach.training.pipeline import fit_and_export, TrainConfig
    from rep_coach.training.seg_train import SegTrainConfig
    from rep_coach.training.clf_train import ClfTrainConfig
    from rep_coach.training.synthetic import sim_sessions
    train = sim_sessions(1, sets=1)

    def run(seed, members, out):
        cfg = TrainConfig(seed=seed, seg_members=members, pretrain_sim=1, pretrain_steps=2,
                          seg=SegTrainConfig(channels=8, dilations=(1, 2), steps=2, batch=2,
                                             crop=128),
                          clf=ClfTrainConfig(steps=1), progress=False)
        info = fit_and_export(train, cfg, out)
        model = onnx.load(str(out / 'segmenter.onnx'))
        return info, [numpy_helper.to_array(t) for t in model.graph.initializer]

    info, ens = run(4, 2, tmp_path / 'ens')
    assert info['segmenter_members'] == 2
    _, first = run(4, 1, tmp_path / 'first')
    _, second = run(5, 1, tmp_path / 'second')
    assert len(ens) == len(first) + len(second)
    # Each member's weights appear in the ensemble exactly as its single run trained them.
    singles = first + second
    for w in singles:
        assert any(e.shape == w.shape and np.array_equal(e, w) for e in ens)
    assert not all(np.array_equal(a, b) for a, b in zip(first, second))


def test_raw_axis_crops_are_the_scaled_sensor_axes():
    import numpy as np
    from rep_coach.learned.preprocess import scale
    from rep_coach.training.seg_train import _crop, SegTrainConfig
    from rep_coach.training.synthetic import sim_sessions
    sess = sim_sessions(1, sets=1)[0]
    cfg = SegTrainConfig(crop=256, start_prob=1.0)   # the crop starts at sample 0
    x, _, _ = _crop(sess, cfg, 0, np.random.default_rng(0), False, raw_axes=True)
    expected = scale(sess.x[:3, :256].T, sess.x[3:, :256].T)
    np.testing.assert_allclose(x, expected, atol=1e-6)


def test_recording_placed_set_edges_are_left_out_of_the_segmenter_loss():
    import numpy as np
    from rep_coach.learned.preprocess import RATE_HZ
    from rep_coach.training.data import END_AFTER_S
    from rep_coach.training.seg_train import _crop, SegTrainConfig
    from rep_coach.training.synthetic import sim_sessions
    sess = sim_sessions(1, sets=1)[0]
    reps = sess.sets[0]
    n = sess.x.shape[1]
    cfg = SegTrainConfig(crop=n, start_prob=1.0)     # one crop over the whole session
    tau = sess.t0 + np.arange(n) / RATE_HZ

    def mask(edges: bool) -> np.ndarray:
        sess.edges_from_recording = [edges]
        return _crop(sess, cfg, 0, np.random.default_rng(0), False)[2]

    # Simulated labels are the lift's own: every sample is scored.
    assert mask(False).min() == 1.0
    m = mask(True)
    first, last = reps[0], reps[-1]
    before_top = (tau >= first.start) & (tau < first.peak)
    assert np.all(m[1, before_top] == 0) and np.all(m[0, before_top] == 1)
    last_edge = (tau >= last.peak) & (tau <= last.end + END_AFTER_S)
    assert np.all(m[:, last_edge] == 0)
    # Everything else, the other reps' ends included, still teaches the network.
    rest = ~before_top & ~last_edge
    assert np.all(m[:, rest] == 1)
    assert all(last_edge[np.searchsorted(tau, r.end)] == 0 for r in reps[:-1])


def test_held_out_baseline_picks_its_centre_on_the_training_subjects_only():
    from rep_coach.core.evaluation import evaluate
    from rep_coach.core.near_failure import BaselineNearFailure, BaselineNearFailureConfig
    from rep_coach.core.segmentation import BaselineSegmenter
    from rep_coach.training.pipeline import evaluate_baseline_loso
    from rep_coach.training.synthetic import sim_sessions

    sessions = sim_sessions(4, seed=21, sets=1, pseudo_subjects=2)
    centres = (0.1, 0.2, 0.3, 0.4, 0.5)
    result = evaluate_baseline_loso(sessions, centres)

    def training_f1(centre, held):
        train = [s.recording for s in sessions if s.subject != held]
        clf = BaselineNearFailureConfig(loss_center=centre)
        f1 = evaluate(train, BaselineSegmenter,
                      lambda: BaselineNearFailure(clf))['near_failure']['rep_f1']
        return -1.0 if f1 is None else f1

    for held in ('sim0', 'sim1'):
        scores = [training_f1(c, held) for c in centres]
        assert result['centres'][held] == centres[scores.index(max(scores))]
    # The two lifters prefer different centres here, so a choice that saw the held-out
    # lifter (or both) would fail the check above for one of the folds.
    assert result['centres']['sim0'] != result['centres']['sim1']
    assert set(result['per_subject']) == {'sim0', 'sim1'}
    assert result['segmentation']['n_true_reps'] > 0


def test_loso_trains_each_fold_without_its_held_out_subject(tmp_path, caplog):
    import json
    import logging
    import onnx
    from rep_coach.training.pipeline import run_loso, TrainConfig
    from rep_coach.training.seg_train import SegTrainConfig
    from rep_coach.training.clf_train import ClfTrainConfig
    from rep_coach.training.synthetic import sim_sessions
    sessions = sim_sessions(4, seed=31, sets=1, pseudo_subjects=2)
    cfg = TrainConfig(seed=0, seg_members=1, progress=False,
                      seg=SegTrainConfig(channels=8, dilations=(1, 2), steps=2, batch=2,
                                         crop=128),
                      clf=ClfTrainConfig(steps=1))
    with caplog.at_level(logging.INFO, logger='rep_coach.training.pipeline'):
        result = run_loso(sessions, cfg, tmp_path)
    assert set(result['folds']) == {'sim0', 'sim1'}
    assert set(result['per_subject']) == {'sim0', 'sim1'}
    for held, other in (('sim0', 'sim1'), ('sim1', 'sim0')):
        assert result['folds'][held]['subjects'] == [other]
        for name in ('segmenter.onnx', 'near_failure.onnx'):
            meta = {p.key: p.value for p in
                    onnx.load(str(tmp_path / f'fold_{held}' / name)).metadata_props}
            assert other in json.dumps(meta) and held not in json.dumps(meta)
        assert any(f'fold {held} held out: trained on 2 sets of {other}' in r.getMessage()
                   for r in caplog.records)


def test_train_writes_the_shipped_models_only_when_named(tmp_path, monkeypatch, capsys):
    # A smoke run from the repository root used to overwrite models/ (the default --out).
    from rep_coach.cli import train
    monkeypatch.chdir(tmp_path)
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest='command')
    train.add_parser(sub)
    base = ['train', '--synthetic', '2', '--seg-steps', '1', '--clf-steps', '1', '--no-loso',
            '--seg-members', '1', '--work-dir', str(tmp_path / 'work'), '--no-progress']
    assert train.run(parser.parse_args(base)) == 0
    assert (tmp_path / 'work' / 'final' / 'segmenter.onnx').is_file()
    assert not (tmp_path / 'models').exists()
    assert train.run(parser.parse_args(base + ['--seg-steps', '-5'])) == 2
    assert '--seg-steps must be 0 or more, got -5' in capsys.readouterr().err
