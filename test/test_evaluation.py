"""Tests of the evaluation metrics, the harness and the evaluate CLI."""

import argparse
import json
import warnings

import numpy as np
import pytest

from rep_coach.cli import evaluate as evaluate_cli
from rep_coach.core.evaluation import (Counts, evaluate, event_counts, match_events,
                                       match_intervals, sample_counts)
from rep_coach.core.near_failure import BaselineNearFailure
from rep_coach.core.segmentation import BaselineSegmenter
from rep_coach.core.types import ImuBlock, ImuRecording, RepLabel, SetLabels

TRUE = [2.0, 5.0, 8.0, 11.0]


def test_event_metrics_perfect_shifted_missed_extra() -> None:
    assert event_counts(TRUE, TRUE) == Counts(tp=4, fp=0, fn=0)
    assert event_counts(TRUE, [t + 0.2 for t in TRUE]).tp == 4
    shifted = event_counts(TRUE, [t + 0.5 for t in TRUE])
    assert (shifted.tp, shifted.fp, shifted.fn) == (0, 4, 4)
    missed = event_counts(TRUE, TRUE[:3])
    assert (missed.tp, missed.fp, missed.fn) == (3, 0, 1)
    extra = event_counts(TRUE, sorted(TRUE + [6.5]))
    assert (extra.tp, extra.fp, extra.fn) == (4, 1, 0)
    assert abs(extra.prf()[2] - 8 / 9) < 1e-9


def test_matching_is_one_to_one() -> None:
    assert match_events([1.0], [0.9, 1.1]) in ([(0, 0)], [(0, 1)])
    assert sorted(match_events([1.0, 1.2], [1.1])) in ([(0, 0)], [(1, 0)])


def test_sample_metrics() -> None:
    perfect = sample_counts(0, 14, TRUE, TRUE)
    assert perfect.fp == 0 and perfect.fn == 0 and perfect.prf()[2] == 1.0
    half = sample_counts(0, 14, TRUE, [t + 0.4 for t in TRUE])
    assert 0.45 < half.prf()[2] < 0.55  # windows of 0.8 s overlapping by 0.4 s
    none = sample_counts(0, 14, TRUE, [])
    assert none.tp == 0 and none.prf()[2] == 0.0


def test_interval_matching() -> None:
    assert match_intervals([(0, 2), (2, 4)], [(0.1, 2.1), (2.1, 4)]) == [(0, 0), (1, 1)]
    assert match_intervals([(0, 2)], [(1.5, 4)]) == []


def _synthetic_recording() -> ImuRecording:
    from test_baseline import synthetic_curls
    block, ends = synthetic_curls(n_reps=6, slow_from=4)
    starts = np.concatenate([[ends[0] - 2.7], ends[:-1]])
    reps = [RepLabel(s, e, None, 9.0 if k >= 4 else 6.0) for k, (s, e) in
            enumerate(zip(starts, ends))]
    return ImuRecording('synthetic', block, 200.0, [SetLabels(reps)], subject='S1')


def test_evaluate_keys_and_values_on_synthetic() -> None:
    out = evaluate([_synthetic_recording()], BaselineSegmenter, BaselineNearFailure)
    seg, nf = out['segmentation'], out['near_failure']
    for key in ('sample_f1', 'event_f1', 'count_mae', 'cue_delay_p50_s', 'cue_delay_p90_s',
                'sample_precision', 'sample_recall', 'event_precision', 'event_recall'):
        assert key in seg
    for key in ('rep_f1', 'window_f1', 'rep_precision', 'rep_recall', 'window_precision',
                'window_recall', 'assumption'):
        assert key in nf
    assert seg['count_mae'] == 0.0
    assert 'RPE >= 8' in nf['assumption']
    assert set(out['per_subject']) == {'S1'}


def test_cli_json_on_two_real_sets(thomas2025_dir, capsys) -> None:
    parser = argparse.ArgumentParser()
    evaluate_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(['evaluate', str(thomas2025_dir), '--json', '--limit', '2',
                              '--subjects', 'A321', '--no-progress'])
    assert evaluate_cli.run(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) >= {'learned', 'baseline'}
    for part in [out['baseline']] + ([out['learned']] if out['learned'] else []):
        assert {'segmentation', 'near_failure'} <= set(part)
        assert part['segmentation']['event_f1'] is not None
    assert out['baseline']['segmentation']['event_f1'] > 0.6
    if out['learned'] is None:
        assert out['learned_reason']
    else:   # the shipped models learned from all four subjects: not held out, and said so
        assert out['learned']['in_sample_subjects'] == ['A321']


def test_cli_threshold_is_the_nodes_parameter_for_both_replays(thomas2025_dir, capsys) -> None:
    from rep_coach.core.params import defaults
    parser = argparse.ArgumentParser()
    evaluate_cli.add_parser(parser.add_subparsers())
    argv = ['evaluate', str(thomas2025_dir), '--json', '--limit', '1', '--no-progress']
    assert parser.parse_args(argv).threshold == \
        defaults('near_failure_classifier')['threshold']
    outs = {}
    for threshold in ('0.5', '0.99'):
        assert evaluate_cli.run(parser.parse_args(argv + ['--threshold', threshold])) == 0
        outs[threshold] = json.loads(capsys.readouterr().out)
    for name in ('learned', 'baseline'):
        for threshold, out in outs.items():
            if out[name] is None:   # no onnxruntime: the baseline still is
                continue
            assert [s['stage'] for s in out[name]['stages']] == ['segmenter', 'near_failure']
            assert out[name]['stages'][1]['parameters'] == {'threshold': float(threshold)}
        if outs['0.5'][name] is not None:   # fewer reps called near failure
            low, high = (outs[t][name]['near_failure']['rep_recall'] for t in outs)
            assert high < low


def test_cli_named_models_that_do_not_load_are_an_error(thomas2025_dir, tmp_path,
                                                        capsys) -> None:
    parser = argparse.ArgumentParser()
    evaluate_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(['evaluate', str(thomas2025_dir), '--json', '--limit', '1',
                              '--models', str(tmp_path), '--no-progress'])
    assert evaluate_cli.run(args) == 2
    captured = capsys.readouterr()
    assert str(tmp_path / 'segmenter.onnx') in captured.err
    # --json: the same error as an object on stdout, for a caller that parses it.
    assert captured.err == f'rep-coach evaluate: {json.loads(captured.out)["error"]}\n'


def test_window_metrics_read_a_per_window_classifiers_own_verdicts() -> None:
    from rep_coach.core.evaluation import Replay, score_recording
    from rep_coach.core.types import ImuBlock, NearFailureState, RepEvent
    reps = [RepLabel(1.0 + 2 * k, 3.0 + 2 * k, None, 9.0) for k in range(3)]
    n = 800
    block = ImuBlock(np.arange(n) / 100.0, np.zeros((n, 3)), np.zeros((n, 3)))
    rec = ImuRecording('r', block, 100.0, [SetLabels(reps)], subject='S1')
    events = [RepEvent(1, k + 1, r.start, r.end, r.end + 0.1) for k, r in enumerate(reps)]
    per_rep = [NearFailureState(1, k + 1, e.stamp, 0.1, False) for k, e in enumerate(events)]
    windows = [NearFailureState(1, 0, t, 0.9, True) for t in np.arange(0.64, 8.0, 0.64)]
    by_rep = score_recording(rec, Replay(events, per_rep))[0]
    by_window = score_recording(rec, Replay(events, per_rep, windows))[0]
    assert by_rep.window.tp == 0 and by_window.window.tp > 0
    assert by_window.window.fn == by_window.window.fp == 0
    assert by_rep.rep == by_window.rep     # rep verdicts stay the per-rep ones


def test_a_reserve_beyond_the_top_class_is_scored_as_the_top_class() -> None:
    # Audit: simulated labels count every rep left (rir 9, 14); an estimate of 3 means 3+.
    from rep_coach.core.evaluation import Replay, score_recording
    from rep_coach.core.types import ImuBlock, NearFailureState, RepEvent
    reps = [RepLabel(1.0 + 2 * k, 3.0 + 2 * k, None, 10.0 - rir, rir) for k, rir in
            enumerate((9, 3, 1))]
    n = 800
    block = ImuBlock(np.arange(n) / 100.0, np.zeros((n, 3)), np.zeros((n, 3)))
    rec = ImuRecording('r', block, 100.0, [SetLabels(reps)], subject='S1')
    events = [RepEvent(1, k + 1, r.start, r.end, r.end + 0.1) for k, r in enumerate(reps)]
    states = [NearFailureState(1, k + 1, e.stamp, 0.1, False, rir)
              for k, (e, rir) in enumerate(zip(events, (3, 3, 2)))]
    assert score_recording(rec, Replay(events, states))[0].rir_errors == [0, 0, 1]


def test_recorded_replay_pairs_verdicts_by_rep_and_stamp_not_position() -> None:
    from rep_coach.core.evaluation import recorded_replay
    from rep_coach.core.types import NearFailureState, RepEvent
    events = [RepEvent(1, k, 2.0 * k, 2.0 * k + 1.5, 2.0 * k + 1.8) for k in (1, 2, 3)]
    verdict = {e.rep_index: NearFailureState(1, e.rep_index, e.stamp, 0.9, True, 1)
               for e in events}
    orphan = NearFailureState(1, 9, 99.0, 0.9, True)       # its rep event was not recorded
    # Messages out of order, rep 2's verdict lost: nothing after it shifts.
    got = recorded_replay([events[2], events[0], events[1]], [verdict[3], orphan, verdict[1]])
    assert got.events == events                            # in decision order
    assert got.states == [verdict[1], None, verdict[3]]
    assert got.window_states == []


def test_score_replays_is_evaluate_on_the_stages_replay() -> None:
    """One scoring path: a replay made outside evaluate scores exactly as evaluate's own."""
    from rep_coach.core.evaluation import replay, score_replays
    rec = _synthetic_recording()
    direct = evaluate([rec], BaselineSegmenter, BaselineNearFailure, per_set=True)
    got = score_replays([(rec, replay(rec, BaselineSegmenter(), BaselineNearFailure()))],
                        per_set=True)
    assert 'speed_x_realtime' not in got
    direct.pop('speed_x_realtime')
    assert got == direct and list(got) == list(direct)


def test_a_replay_drops_what_the_nodes_sample_gate_drops() -> None:
    # Before: a replay fed every sample to the stages, while the nodes' gate drops NaN,
    # values no IMU measures and repeated stamps: one NaN in a bag stopped the replay's
    # segmenter finding any later rep, where the nodes had found them all.
    from rep_coach.core.evaluation import replay
    rec = _synthetic_recording()
    clean = [e.end for e in replay(rec, BaselineSegmenter(), None).events]
    t, acc, gyr = rec.imu.t.copy(), rec.imu.accel.copy(), rec.imu.gyro.copy()
    acc[100, 1] = np.nan
    gyr[900, 2] = 1e300
    acc[1500, 0] = -500.0
    sent_twice = 2000
    t, acc, gyr = (np.insert(x, sent_twice, x[sent_twice], axis=0) for x in (t, acc, gyr))
    spiked = ImuRecording('spiked', ImuBlock(t, acc, gyr), rec.rate_hz, rec.sets)
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        got = [e.end for e in replay(spiked, BaselineSegmenter(), None).events]
    assert len(clean) == 6 and np.allclose(got, clean, atol=0.02), (got, clean)


class _CallLog:
    """A segmenter that notes what it is fed and told."""

    def __init__(self) -> None:
        self.log: list = []

    def push(self, block: ImuBlock) -> list:
        self.log.append(len(block))
        return []

    def reset(self) -> None:
        self.log.append('reset')

    def resume(self) -> None:
        self.log.append('resume')


def test_a_replay_resumes_over_a_hole_and_resets_at_another_stream_as_the_nodes_do() -> None:
    # A hole of 7 s is the same stream (resumed over, as the intake does); a jump of 87 s
    # forward, or one back, is another stream (reset).
    from rep_coach.core.evaluation import replay
    second = np.arange(300) / 100.0
    t = np.concatenate([second, 10.0 + second, 100.0 + second, 5.0 + second])
    rec = ImuRecording('jumps', ImuBlock(t, np.tile([0.0, 0.0, 9.81], (len(t), 1)),
                                         np.zeros((len(t), 3))), 100.0)
    segmenter = _CallLog()
    replay(rec, segmenter, None)
    assert [x for x in segmenter.log if isinstance(x, str)] == ['resume', 'reset', 'reset']
    assert sum(x for x in segmenter.log if isinstance(x, int)) == len(t)


def test_cli_subjects_that_match_nothing_name_the_datasets_subjects(thomas2025_dir,
                                                                    capsys) -> None:
    parser = argparse.ArgumentParser()
    evaluate_cli.add_parser(parser.add_subparsers())
    # Codes match in any case (a321 is A321); one that names no subject is the error,
    # even beside good ones (once a warning, and only a321 ZZZ both unknown stopped).
    for codes, unknown in [(['a321', 'ZZZ'], 'ZZZ'), (['zzz', 'yy'], 'zzz yy')]:
        args = parser.parse_args(['evaluate', str(thomas2025_dir), '--subjects', *codes])
        assert evaluate_cli.run(args) == 2
        assert capsys.readouterr().err == \
            f'rep-coach evaluate: --subjects {unknown} matches none of A321, G998, T417, T456\n'
    with pytest.raises(SystemExit) as info:   # no codes at all: argparse says so
        parser.parse_args(['evaluate', str(thomas2025_dir), '--subjects'])
    assert info.value.code == 2
