"""``rep-coach evaluate BAG`` and ``rep-coach plot BAG`` on a labelled bag written here."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, List, Optional, Sequence

import numpy as np
import pytest

from rep_coach.bagio import BagRecorder
from rep_coach.bagio.types import default_typestore
from rep_coach.cli import evaluate as evaluate_cli
from rep_coach.cli import plot as plot_cli
from rep_coach.core.evaluation import Replay, replay
from rep_coach.core.near_failure import BaselineNearFailure
from rep_coach.core.segmentation import BaselineSegmenter
from rep_coach.core.sim import SimConfig, simulate
from rep_coach.core.types import ImuRecording, SetLabels, TrueRep
from rep_coach.imu_msg import block_to_msgs
from rep_coach.pipeline import stage_factories, StageError

IMU = 'sensor_msgs/msg/Imu'
STRING = 'std_msgs/msg/String'
NS = '/station3'


def _imu_msg() -> Any:
    """Return a blank rosbags Imu message (filled in place by ``block_to_msgs``)."""
    t = default_typestore().types
    vec = t['geometry_msgs/msg/Vector3']
    return t[IMU](t['std_msgs/msg/Header'](t['builtin_interfaces/msg/Time'](0, 0), ''),
                  t['geometry_msgs/msg/Quaternion'](0.0, 0.0, 0.0, 1.0), np.zeros(9),
                  vec(0.0, 0.0, 0.0), np.zeros(9), vec(0.0, 0.0, 0.0), np.zeros(9))


def _string_cdr(text: str) -> bytes:
    store = default_typestore()
    return bytes(store.serialize_cdr(store.types[STRING](text), STRING))


def write_labelled_bag(path: Path, rec: ImuRecording, ns: str = NS,
                       stated: bool = True, published: Optional[Replay] = None,
                       verdicts: bool = True, stages: Sequence[str] = ()) -> int:
    """
    Record ``rec`` as the system does (topics under ``ns``); return the labelled reps.

    ``stated``: metadata.yaml says the namespace, as rep_coach's recorder writes it
    (``ros2 bag record`` does not).  ``published``: what the nodes published during
    the session, recorded on ``reps`` and (with ``verdicts``) ``near_failure``.
    ``stages``: the stage nodes' ``stage_info`` payloads, recorded first (latched, they
    reach the recorder as soon as it subscribes).
    """
    ns = ns.rstrip('/')
    specs = {f'{ns}/imu/data_raw': (IMU, 'sensor_data'), f'{ns}/labels/reps': (STRING, 'events')}
    if published is not None:
        specs[f'{ns}/reps'] = (STRING, 'events')
        if verdicts:
            specs[f'{ns}/near_failure'] = (STRING, 'events')
    if stages:
        specs[f'{ns}/stage_info'] = (STRING, 'latched')
    bag = BagRecorder(path, specs, flush_interval_s=3600,
                      custom_data={'namespace': ns or '/'} if stated else None)
    for payload in stages:
        bag.write(f'{ns}/stage_info', int(rec.imu.t[0] * 1e9), _string_cdr(payload))
    for msg in block_to_msgs(rec.imu, 'imu_link', _imu_msg):
        stamp = msg.header.stamp
        bag.write(f'{ns}/imu/data_raw', stamp.sec * 1_000_000_000 + stamp.nanosec, msg)
    n = 0
    for k, labels in enumerate(rec.sets, start=1):
        for j, rep in enumerate(labels.reps, start=1):
            true = TrueRep(k, j, rep.start, rep.end, rep.peak, rep.rpe, rep.rir)
            # Published when the rep ends, as the labelled sources do.
            bag.write(f'{ns}/labels/reps', int(round(rep.end * 1e9)), _string_cdr(true.to_json()))
            n += 1
    for event, state in zip(published.events, published.states) if published else ():
        # Logged when decided, as the recorder receives them (the log time is not scored).
        bag.write(f'{ns}/reps', int(round(event.stamp * 1e9)), _string_cdr(event.to_json()))
        if verdicts:
            bag.write(f'{ns}/near_failure', int(round(state.stamp * 1e9)),
                      _string_cdr(state.to_json()))
    bag.close()
    return n


def live_replay(rec: ImuRecording, shift_s: float = 0.0) -> Replay:
    """Return what the baseline nodes publish on ``rec``, every time shifted by ``shift_s``."""
    out = replay(rec, BaselineSegmenter(), BaselineNearFailure())
    for item in out.events + out.states:
        for name in ('start', 'end', 'stamp'):
            if hasattr(item, name):
                setattr(item, name, getattr(item, name) + shift_s)
    return out


def run_evaluate(*argv: str) -> int:
    """Run ``rep-coach evaluate ARGV`` (without the progress bar); return its exit status."""
    parser = argparse.ArgumentParser()
    evaluate_cli.add_parser(parser.add_subparsers())
    return evaluate_cli.run(parser.parse_args(['evaluate', *argv, '--no-progress']))


@pytest.fixture(scope='module')
def labelled_bag(tmp_path_factory: pytest.TempPathFactory) -> tuple:
    """Record a two-set simulated curl session as a bag; return (bag, recording, reps)."""
    rec = simulate(SimConfig(seed=5, sets=2, rest_s=25.0))
    bag = tmp_path_factory.mktemp('bags') / 'session'
    return bag, rec, write_labelled_bag(bag, rec)


def test_read_labelled_bag_is_the_recording(labelled_bag: tuple) -> None:
    bag, rec, n_reps = labelled_bag
    got = evaluate_cli.read_labelled_bag(bag)
    assert len(got.imu) == len(rec.imu)
    assert np.allclose(got.imu.t, rec.imu.t, atol=1e-9)   # ns stamps
    assert np.array_equal(got.imu.gyro, rec.imu.gyro)
    assert [len(s.reps) for s in got.sets] == [len(s.reps) for s in rec.sets]
    assert sum(len(s.reps) for s in got.sets) == n_reps
    assert got.sets[0].reps[0].rpe == rec.sets[0].reps[0].rpe


def test_evaluate_bag_json_matches_reps(labelled_bag: tuple, capsys: Any) -> None:
    bag, rec, n_reps = labelled_bag
    parser = argparse.ArgumentParser()
    evaluate_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(['evaluate', str(bag), '--json', '--no-progress'])
    assert evaluate_cli.run(args) == 0
    out = json.loads(capsys.readouterr().out)
    seg = out['baseline']['segmentation']
    assert seg['n_true_reps'] == n_reps
    assert seg['event_f1'] >= 0.8 and seg['count_mae'] <= 2
    # The bag gives the same metrics as evaluating the simulated recording directly.
    from rep_coach.core.evaluation import evaluate
    from rep_coach.core.near_failure import BaselineNearFailure
    from rep_coach.core.segmentation import BaselineSegmenter
    direct = evaluate([rec], BaselineSegmenter, BaselineNearFailure, per_subject=False)
    assert seg['event_f1'] == direct['segmentation']['event_f1']
    assert out['baseline']['near_failure']['rep_f1'] == direct['near_failure']['rep_f1']


def test_evaluate_bag_without_labels_is_an_error(tmp_path: Path, capsys: Any) -> None:
    rec = simulate(SimConfig(seed=1, sets=1))
    rec.sets = []
    write_labelled_bag(tmp_path / 'unlabelled', rec)
    parser = argparse.ArgumentParser()
    evaluate_cli.add_parser(parser.add_subparsers())
    args = parser.parse_args(['evaluate', str(tmp_path / 'unlabelled'), '--json'])
    assert evaluate_cli.run(args) == 2
    assert 'labels/reps' in capsys.readouterr().err


def test_plot_bag(labelled_bag: tuple, tmp_path: Path, capsys: Any) -> None:
    bag, _, n_reps = labelled_bag
    parser = argparse.ArgumentParser()
    plot_cli.add_parser(parser.add_subparsers())
    out = tmp_path / 'out.png'
    args = parser.parse_args(['plot', str(bag), '-o', str(out)])
    assert plot_cli.run(args) == 0
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert f'{n_reps} labelled' in capsys.readouterr().out


def test_a_station_bag_is_reported_under_its_station_with_each_set(
        labelled_bag: tuple, capsys: Any) -> None:
    bag, rec, _ = labelled_bag
    assert run_evaluate(str(bag), '--json') == 0
    out = json.loads(capsys.readouterr().out)
    base = out['baseline']
    assert list(base['per_subject']) == ['station3']      # the namespace, not '?'
    # Two labelled sets: counted as two, and scored one by one.
    assert out['n_sets'] == base['n_sets'] == 2
    assert list(base['per_set']) == ['session:1', 'session:2']
    assert [base['per_set'][k]['segmentation']['n_true_reps'] for k in base['per_set']] == \
        [len(s.reps) for s in rec.sets]
    assert 'per_recording' not in base and 'bags' not in out


@pytest.mark.parametrize('ns, stated, subject', [
    ('/gym/station_2', False, 'gym.station_2'),   # ros2 bag record: inferred from topics
    ('/', True, 'plain'),                          # root: the bag's own name
    ('/', False, 'plain'),
])
def test_subject_of_a_bag(tmp_path: Path, ns: str, stated: bool, subject: str) -> None:
    rec = simulate(SimConfig(seed=2, sets=1))
    write_labelled_bag(tmp_path / 'plain', rec, ns, stated)
    assert evaluate_cli.read_labelled_bag(tmp_path / 'plain').subject == subject


def test_a_directory_of_bags_is_scored_pooled_and_per_bag(
        tmp_path: Path, labelled_bag: tuple, capsys: Any) -> None:
    sessions = tmp_path / 'bags'
    sessions.mkdir()
    first = simulate(SimConfig(seed=3, sets=1))
    second = simulate(SimConfig(seed=4, sets=1))
    n_first = write_labelled_bag(sessions / 'a', first, '/station1')
    n_second = write_labelled_bag(sessions / 'b', second, '/station2', stated=False)
    unlabelled = simulate(SimConfig(seed=1, sets=1))
    unlabelled.sets = []
    write_labelled_bag(sessions / 'c', unlabelled, '/station1')
    (sessions / 'notes.txt').write_text('not a bag')
    assert run_evaluate(str(sessions), '--json') == 0
    captured = capsys.readouterr()
    out = json.loads(captured.out)
    base = out['baseline']
    assert out['bags'] == ['a', 'b'] and out['n_sets'] == 2
    assert list(out['skipped_bags']) == ['c'] and 'labels/reps' in out['skipped_bags']['c']
    assert 'bag c not scored' in captured.err
    assert base['segmentation']['n_true_reps'] == n_first + n_second
    assert list(base['per_recording']) == ['a', 'b']
    assert list(base['per_subject']) == ['station1', 'station2']
    assert base['per_recording']['a']['segmentation']['n_true_reps'] == n_first
    # Pooled = the bags' recordings evaluated together.
    from rep_coach.core.evaluation import evaluate
    from rep_coach.core.near_failure import BaselineNearFailure
    from rep_coach.core.segmentation import BaselineSegmenter
    direct = evaluate([first, second], BaselineSegmenter, BaselineNearFailure)
    assert base['segmentation']['event_f1'] == direct['segmentation']['event_f1']
    # --subjects picks stations; the table lists every bag.
    assert run_evaluate(str(sessions), '--subjects', 'station2', '--json') == 0
    assert json.loads(capsys.readouterr().out)['bags'] == ['b']
    assert run_evaluate(str(sessions)) == 0
    table = capsys.readouterr().out
    assert '[per_recording]' in table and '\n  a ' in table and '\n  b:1 ' in table


def test_a_directory_of_unscorable_bags_is_an_error(tmp_path: Path, capsys: Any) -> None:
    rec = simulate(SimConfig(seed=1, sets=1))
    rec.sets = []
    write_labelled_bag(tmp_path / 'only_imu', rec)
    assert run_evaluate(str(tmp_path)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert err.startswith(f'rep-coach evaluate: {tmp_path}: none of its 1 bag(s) can be scored')


def test_empty_and_imu_only_bags_say_what_they_hold(tmp_path: Path, capsys: Any) -> None:
    BagRecorder(tmp_path / 'empty', {f'{NS}/imu/data_raw': (IMU, 'sensor_data')}).close()
    assert run_evaluate(str(tmp_path / 'empty')) == 2
    assert capsys.readouterr().err == f'rep-coach evaluate: {tmp_path / "empty"}: empty bag ' \
                                      '(no messages)\n'
    rec = simulate(SimConfig(seed=1, sets=1))
    rec.sets = []
    write_labelled_bag(tmp_path / 'imu', rec)
    assert run_evaluate(str(tmp_path / 'imu')) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'no labels/reps' in err and f'{NS}/imu/data_raw' in err
    assert run_evaluate(str(tmp_path / 'missing')) == 2
    assert 'missing: no such file or directory' in capsys.readouterr().err


def test_evaluate_json_gives_an_error_object_when_it_fails(tmp_path: Path, capsys: Any) -> None:
    BagRecorder(tmp_path / 'empty', {f'{NS}/imu/data_raw': (IMU, 'sensor_data')}).close()
    for data, error in ((tmp_path / 'empty', 'empty bag (no messages)'),
                        (tmp_path / 'missing', 'no such file or directory')):
        assert run_evaluate(str(data), '--json') == 2
        out = capsys.readouterr()
        assert json.loads(out.out) == {'error': f'{data}: {error}'}   # stdout parses
        assert out.err == f'rep-coach evaluate: {data}: {error}\n'     # the line, as before


def test_evaluate_help_documents_the_exit_status(capsys: Any) -> None:
    with pytest.raises(SystemExit):
        run_evaluate('--help')
    text = capsys.readouterr().out
    assert 'exit status: 0 scored' in text and 'directory of bags' in text


def run_plot(*argv: str) -> int:
    """Run ``rep-coach plot ARGV``; return its exit status."""
    parser = argparse.ArgumentParser()
    plot_cli.add_parser(parser.add_subparsers())
    return plot_cli.run(parser.parse_args(['plot', *argv]))


@pytest.mark.parametrize('pipeline', ['learned', 'baseline'])
def test_plot_a_set_of_a_bag_on_a_relative_time_axis(
        pipeline: str, labelled_bag: tuple, tmp_path: Path, capsys: Any,
        monkeypatch: pytest.MonkeyPatch) -> None:
    import matplotlib.pyplot as plt
    bag, rec, _ = labelled_bag
    figures: list = []
    monkeypatch.setattr(plt, 'close', figures.append)   # keep the figure to look at it
    out = tmp_path / 'set2.png'
    assert run_plot(f'{bag}:2', '-o', str(out), '--pipeline', pipeline) == 0
    assert out.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    assert f'set 2 of {bag}: {len(rec.sets[1].reps)} reps detected, ' \
           f'{len(rec.sets[1].reps)} labelled; {pipeline} pipeline' in capsys.readouterr().out
    ax_p = figures[0].axes[-1]
    # Every signal axis is named with its unit (the panels per pipeline: test_plot.py).
    for ax in figures[0].axes[:-1]:
        assert ax.get_ylabel().endswith(('(rad/s)', '(rad)', '(deg/s)', '(deg)', 'probability'))
    assert ax_p.get_ylabel() == 'p(near failure)'
    assert ax_p.get_xlabel().startswith('time since the first sample (s)')
    # The x axis shows set 2 in seconds since the first sample, not epoch stamps.
    reps = rec.sets[1].reps
    t0 = float(rec.imu.t[0])
    lo, hi = ax_p.get_xlim()
    assert lo == pytest.approx(reps[0].start - t0 - plot_cli.SET_MARGIN_S)
    assert hi == pytest.approx(reps[-1].end - t0 + plot_cli.SET_MARGIN_S)
    assert run_plot(f'{bag}:3', '-o', str(out)) == 2
    assert capsys.readouterr().err == f'rep-coach plot: {bag}:3: no such set; the bag has ' \
                                      'sets 1-2\n'


def test_plot_an_unlabelled_bag_draws_the_detections(tmp_path: Path, capsys: Any) -> None:
    rec = simulate(SimConfig(seed=1, sets=1))
    rec.sets = []
    write_labelled_bag(tmp_path / 'gym', rec)
    assert run_plot(str(tmp_path / 'gym'), '-o', str(tmp_path / 'gym.png')) == 0
    captured = capsys.readouterr()
    assert 'has no labels (labels/reps): detections only' in captured.err
    assert '0 labelled' in captured.out and (tmp_path / 'gym.png').is_file()


def test_plot_draws_a_csv_outside_a_dataset_unlabelled_and_names_a_datasets_sets(
        tmp_path: Path, capsys: Any) -> None:
    from rep_coach.core.sources import write_our_csv
    rec = simulate(SimConfig(seed=1, sets=1))
    write_our_csv(tmp_path / 'session.csv', rec.imu)
    # Before: "not a bag directory (rosbag2 bags are directories)".
    assert run_plot(str(tmp_path / 'session.csv'), '-o', str(tmp_path / 's.png')) == 0
    assert 'has no labels' in capsys.readouterr().err and (tmp_path / 's.png').is_file()
    data = tmp_path / 'thomas'
    (data / 'Raw Data').mkdir(parents=True)
    (data / 'rep_indexes_corrected.txt').write_text('X001_5_1, [10, 150], [80], 1, 1\n')
    (data / 'Raw Data' / 'X001_5_1.csv').write_text('')
    assert run_plot(str(data), '-o', str(tmp_path / 'd.png')) == 2
    assert capsys.readouterr().err == (
        f'rep-coach plot: {data}: a thomas2025 dataset, not one set: name the set as DIR:SET; '
        f'e.g. {data}:X001_5_1 (1 sets)\n')


def test_plot_help_says_what_it_draws(capsys: Any) -> None:
    with pytest.raises(SystemExit):
        run_plot('--help')
    text = capsys.readouterr().out
    for what in ('BAG:N', 'principal axis', 'threshold', 'RPE >= 8', 'exit status: 0 written'):
        assert what in text


# -- what the nodes published, as recorded -------------------------------------------------
@pytest.fixture(scope='module')
def live_bag(labelled_bag: tuple, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``labelled_bag``'s session with what the baseline nodes published on it."""
    _, rec, _ = labelled_bag
    bag = tmp_path_factory.mktemp('live') / 'session'
    write_labelled_bag(bag, rec, published=live_replay(rec))
    return bag


def evaluate_json(*argv: str, capsys: Any) -> dict:
    """Run ``rep-coach evaluate ARGV --json``; return its JSON object."""
    assert run_evaluate(*argv, '--json') == 0
    return json.loads(capsys.readouterr().out)


def without_timing(result: dict) -> dict:
    """Return ``result`` without ``speed_x_realtime`` (a measured time, never the same)."""
    return {k: v for k, v in result.items() if k != 'speed_x_realtime'}


def without_stages(entry: dict) -> dict:
    """Return a ``recorded`` entry without ``stages`` (what ran, tested on its own)."""
    return {k: v for k, v in entry.items() if k != 'stages'}


def published_messages(bag: Path) -> dict:
    """Decode the bag's String topics with rosbags and json alone (no rep_coach reader)."""
    from rosbags.highlevel import AnyReader
    topics: dict = {}
    with AnyReader([bag], default_typestore=default_typestore()) as reader:
        strings = [c for c in reader.connections if c.msgtype == STRING]
        for conn, _, raw in reader.messages(connections=strings):
            topics.setdefault(conn.topic, []).append(
                json.loads(reader.deserialize(raw, STRING).data))
    return topics


def test_recorded_detections_are_scored_as_the_messages_say(
        labelled_bag: tuple, live_bag: Path, capsys: Any) -> None:
    out = evaluate_json(str(live_bag), capsys=capsys)
    recorded, seg = out['recorded'], out['recorded']['segmentation']
    messages = published_messages(live_bag)
    reps, verdicts = messages[f'{NS}/reps'], messages[f'{NS}/near_failure']
    assert seg['n_detected_reps'] == len(reps) > 0
    assert recorded['messages'] == {'reps': len(reps), 'near_failure': len(verdicts),
                                    'bad_payloads': 0, 'reps_without_verdict': 0,
                                    'verdicts_without_rep': 0}
    # Cue delay from the decision stamps, worked out here from the messages alone: every
    # true rep end matched to the nearest detected end (all within 0.3 s in this session).
    true_end = np.array([r['end'] for r in messages[f'{NS}/labels/reps']])
    delays = [r['stamp'] - true_end[np.argmin(abs(true_end - r['end']))] for r in reps]
    assert seg['event_f1'] == 1.0 and seg['n_true_reps'] == len(true_end) == len(reps)
    assert seg['cue_delay_p50_s'] == pytest.approx(np.percentile(delays, 50), abs=1e-4)
    assert seg['cue_delay_p90_s'] == pytest.approx(np.percentile(delays, 90), abs=1e-4)
    # The baseline's stages published these: the live score is the baseline replay's.
    assert without_timing(recorded['segmentation']) == out['baseline']['segmentation']
    assert recorded['near_failure'] == out['baseline']['near_failure']
    assert list(recorded['per_subject']) == ['station3']
    assert list(recorded['per_set']) == list(out['baseline']['per_set'])
    # learned and baseline are what they are for the same bag without recorded detections.
    bag, _, _ = labelled_bag
    plain = evaluate_json(str(bag), capsys=capsys)
    for key in ('learned', 'baseline'):
        if plain[key] is None:
            assert out[key] is None
        else:
            assert without_timing(out[key]) == without_timing(plain[key])
    assert list(out) == ['learned', 'baseline', 'recorded', 'assumption', 'n_sets']
    assert run_evaluate(str(live_bag)) == 0
    table = capsys.readouterr().out
    assert table.splitlines()[1].split() == ['metric', 'learned', 'baseline', 'recorded']
    assert f'{len(reps)}' in table.split('n_detected_reps')[1].splitlines()[0]


def test_a_bag_without_rep_events_has_a_recorded_error_not_a_zero(
        labelled_bag: tuple, tmp_path: Path, capsys: Any) -> None:
    bag, rec, _ = labelled_bag
    out = evaluate_json(str(bag), capsys=capsys)
    assert without_stages(out['recorded']) == {
        'error': f'no rep events recorded: no {NS}/reps topic (rep events) in the bag'}
    assert out['baseline']['segmentation']['n_detected_reps'] > 0   # still scored
    assert run_evaluate(str(bag)) == 0
    assert 'recorded: no rep events recorded' in capsys.readouterr().out
    # Recorded, but the segmenter published nothing while it was.
    write_labelled_bag(tmp_path / 'quiet', rec, published=Replay())
    assert 'recorded without messages' in \
        evaluate_json(str(tmp_path / 'quiet'), capsys=capsys)['recorded']['error']


def test_recorded_detections_shifted_in_time_score_lower(tmp_path: Path, capsys: Any) -> None:
    rec = simulate(SimConfig(seed=4, sets=1))
    scores = {}
    for shift in (0.0, 0.2, 0.5):
        write_labelled_bag(tmp_path / f'shift{shift}', rec, published=live_replay(rec, shift))
        out = evaluate_json(str(tmp_path / f'shift{shift}'), capsys=capsys)
        scores[shift] = out['recorded']['segmentation']
    assert scores[0.0]['event_f1'] >= 0.8
    # Within the 0.3 s tolerance the reps still match, each cue 0.2 s later...
    assert scores[0.2]['cue_delay_p50_s'] == pytest.approx(
        scores[0.0]['cue_delay_p50_s'] + 0.2, abs=1e-3)
    # ...beyond it they are wrong detections.
    assert scores[0.5]['event_f1'] < scores[0.0]['event_f1']
    assert scores[0.5]['n_detected_reps'] == scores[0.0]['n_detected_reps']


def test_reps_recorded_without_verdicts_score_no_near_failure(
        labelled_bag: tuple, tmp_path: Path, capsys: Any) -> None:
    _, rec, _ = labelled_bag
    write_labelled_bag(tmp_path / 'reps_only', rec, published=live_replay(rec), verdicts=False)
    out = evaluate_json(str(tmp_path / 'reps_only'), capsys=capsys)
    recorded = out['recorded']
    assert recorded['segmentation'] == without_timing(out['baseline']['segmentation'])
    # Not rep_f1 = 0 (every near-failure rep "missed"): not scored, and said why.
    assert recorded['near_failure'] == {'error': 'no near_failure verdicts recorded'}
    assert recorded['without_verdicts'] == {
        'reps_only': f'no {NS}/near_failure topic (verdicts) in the bag'}
    assert all(group['near_failure'] == recorded['near_failure']
               for group in recorded['per_set'].values())


def test_a_directory_scores_the_recorded_bags_and_names_the_others(
        tmp_path: Path, capsys: Any) -> None:
    sessions = tmp_path / 'bags'
    sessions.mkdir()
    first, second = simulate(SimConfig(seed=3, sets=1)), simulate(SimConfig(seed=4, sets=1))
    n_first = write_labelled_bag(sessions / 'a', first, '/station1',
                                 published=live_replay(first))
    write_labelled_bag(sessions / 'b', second, '/station2')
    out = evaluate_json(str(sessions), capsys=capsys)
    recorded = out['recorded']
    assert recorded['without_detections'] == {'b': 'no /station2/reps topic (rep events) in '
                                                   'the bag'}
    assert recorded['segmentation']['n_true_reps'] == n_first    # bag a only
    assert list(recorded['per_recording']) == ['a'] and list(recorded['per_subject']) == \
        ['station1']
    assert recorded['per_recording']['a'] == without_timing(
        out['baseline']['per_recording']['a'])
    # --subjects and --limit pick the bags of the recorded entry as of the others.
    out = evaluate_json(str(sessions), '--subjects', 'station2', capsys=capsys)
    assert without_stages(out['recorded']) == {
        'error': 'no rep events recorded: no /station2/reps topic (rep events) in the bag',
        'without_detections': {'b': 'no /station2/reps topic (rep events) in the bag'}}
    out = evaluate_json(str(sessions), '--limit', '1', capsys=capsys)
    assert out['bags'] == ['a'] and out['recorded']['without_detections'] == {}
    assert run_evaluate(str(sessions)) == 0
    table = capsys.readouterr().out
    assert 'R = recorded' in table and 'left out b (no /station2/reps' in table
    row = next(line for line in table.splitlines() if line.startswith('  b '))
    assert row.split()[5] == '-'       # det R: bag b recorded no detections


def stage_payloads(model: str = 'learned', **settings: Any) -> List[str]:
    """Return the ``stage_info`` payloads stage nodes of ``model`` with ``settings`` publish."""
    return [stage.info.to_json() for stage in stage_factories(model, **settings)]


@pytest.fixture(scope='module')
def session() -> ImuRecording:
    return simulate(SimConfig(seed=6, sets=1))


def learned_loads() -> bool:
    """Tell whether the installed learned stages load (onnxruntime, committed models)."""
    try:
        stage_factories('learned')
    except StageError:
        return False
    return True


needs_learned = pytest.mark.skipif(not learned_loads(), reason='no learned stages here')


@needs_learned
def test_recorded_stages_that_are_the_learned_replays_are_said_to_be(
        session: ImuRecording, tmp_path: Path, capsys: Any) -> None:
    write_labelled_bag(tmp_path / 'live', session, published=live_replay(session),
                       stages=stage_payloads())
    out = evaluate_json(str(tmp_path / 'live'), capsys=capsys)
    report = out['recorded']['stages']['live']
    assert report['descriptions'] == out['learned']['stages']   # the very same description
    assert [d['stage'] for d in report['descriptions']] == ['segmenter', 'near_failure']
    assert report['same_as'] == ['learned'] and report['differences']['learned'] == []
    assert 'not_recorded' not in report
    assert run_evaluate(str(tmp_path / 'live')) == 0
    table = capsys.readouterr().out
    assert "threshold 0.5 (the learned replay's)" in table and 'differ' not in table


@needs_learned
@pytest.mark.parametrize('field, stage, flag, recorded, default', [
    ('threshold', 'near_failure', '--threshold', 0.7, 0.5),
    ('set_rest_s', 'segmenter', '--set-rest-s', 20.0, 8.0)])
def test_a_recorded_stage_parameter_that_differs_is_named_and_can_be_replayed(
        session: ImuRecording, tmp_path: Path, capsys: Any, field: str, stage: str, flag: str,
        recorded: float, default: float) -> None:
    write_labelled_bag(tmp_path / 'live', session, published=live_replay(session),
                       stages=stage_payloads(**{field: recorded}))
    out = evaluate_json(str(tmp_path / 'live'), capsys=capsys)
    report = out['recorded']['stages']['live']
    assert report['differences']['learned'] == [
        {'stage': stage, 'field': field, 'recorded': recorded, 'replayed': default}]
    assert report['same_as'] == []
    assert run_evaluate(str(tmp_path / 'live')) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line for line in lines if 'differ' in line] == [
        f'recorded stages differ from the learned replay: {stage} {field} {recorded:g} '
        f"(replayed: {default:g}) (replay with {flag} {recorded:g} for the session's)"]
    # Replayed with the node's value, both replays run what the session ran.
    out = evaluate_json(str(tmp_path / 'live'), flag, f'{recorded:g}', capsys=capsys)
    assert out['recorded']['stages']['live']['same_as'] == ['learned']
    for replayed in ('learned', 'baseline'):
        ran = {info['stage']: info['parameters'] for info in out[replayed]['stages']}
        assert ran[stage] == {field: recorded}


@needs_learned
def test_recorded_baseline_stages_differ_by_model_and_are_the_baseline_replays(
        session: ImuRecording, tmp_path: Path, capsys: Any) -> None:
    # The classifier's description first (the nodes start in any order): listed in
    # pipeline order all the same.
    write_labelled_bag(tmp_path / 'live', session, published=live_replay(session),
                       stages=stage_payloads('baseline')[::-1])
    out = evaluate_json(str(tmp_path / 'live'), capsys=capsys)
    report = out['recorded']['stages']['live']
    assert [d['stage'] for d in report['descriptions']] == ['segmenter', 'near_failure']
    assert [(d['stage'], d['field'], d['recorded']) for d in report['differences']['learned']] \
        == [('segmenter', 'model', 'baseline'), ('near_failure', 'model', 'baseline')]
    assert report['same_as'] == ['baseline']
    # The live graph ran the baseline: its column is what recorded scores must equal.
    assert out['recorded']['segmentation'] == without_timing(out['baseline']['segmentation'])
    assert run_evaluate(str(tmp_path / 'live')) == 0
    assert ('recorded stages differ from the learned replay: segmenter model baseline '
            '(replayed: learned); near_failure model baseline (replayed: learned) (they are '
            "the baseline replay's)") in capsys.readouterr().out


@needs_learned
def test_a_retrained_model_is_named_by_its_hash(session: ImuRecording, tmp_path: Path,
                                                capsys: Any) -> None:
    payloads = stage_payloads()
    segmenter = json.loads(payloads[0])
    segmenter['model_file']['sha256'] = 'ab' * 32
    write_labelled_bag(tmp_path / 'live', session, published=live_replay(session),
                       stages=[json.dumps(segmenter), payloads[1]])
    assert run_evaluate(str(tmp_path / 'live')) == 0
    assert 'differ from the learned replay: segmenter sha256 abababababab (replayed: ' in \
        capsys.readouterr().out


def test_a_bag_without_stage_info_says_the_stages_were_not_recorded(
        labelled_bag: tuple, tmp_path: Path, capsys: Any) -> None:
    bag, rec, _ = labelled_bag
    why = ('the stages were not recorded (a bag from before the stage nodes published them, '
           f'or ros2 bag record without that topic): no {NS}/stage_info topic (stage '
           'descriptions) in the bag')
    out = evaluate_json(str(bag), capsys=capsys)
    assert out['recorded']['stages'] == {'session': {'descriptions': [], 'not_recorded': why}}
    assert run_evaluate(str(bag)) == 0
    assert f'recorded stages: {why}' in capsys.readouterr().out.splitlines()
    # One stage recorded: compared, never called the same as a replay.
    write_labelled_bag(tmp_path / 'half', rec, published=live_replay(rec),
                       stages=stage_payloads('baseline')[:1])
    report = evaluate_json(str(tmp_path / 'half'), capsys=capsys)['recorded']['stages']['half']
    assert report['not_recorded'] == f'no near_failure description on {NS}/stage_info'
    assert report['same_as'] == [] and report['differences']['baseline'] == []


def test_undecodable_stage_info_is_left_out_and_said(labelled_bag: tuple, tmp_path: Path,
                                                     capsys: Any, caplog: Any) -> None:
    _, rec, _ = labelled_bag
    write_labelled_bag(tmp_path / 'bad', rec, published=live_replay(rec),
                       stages=['{"stage": 1}', *stage_payloads('baseline')])
    report = evaluate_json(str(tmp_path / 'bad'), capsys=capsys)['recorded']['stages']['bad']
    assert [d['stage'] for d in report['descriptions']] == ['segmenter', 'near_failure']
    assert 'stage_info payload(s) cannot be decoded' in caplog.text


def test_a_directory_lists_the_bags_whose_stages_differ_or_are_missing(
        session: ImuRecording, tmp_path: Path, capsys: Any) -> None:
    sessions = tmp_path / 'bags'
    sessions.mkdir()
    write_labelled_bag(sessions / 'a', session, '/station1', published=live_replay(session),
                       stages=stage_payloads('baseline'))
    write_labelled_bag(sessions / 'b', session, '/station2', published=live_replay(session),
                       stages=stage_payloads('baseline', threshold=0.7))
    write_labelled_bag(sessions / 'c', session, '/station3', published=live_replay(session))
    out = evaluate_json(str(sessions), capsys=capsys)
    stages = out['recorded']['stages']
    assert list(stages) == ['a', 'b', 'c']
    assert stages['a']['same_as'] == ['baseline'] and stages['b']['same_as'] == []
    assert stages['b']['differences']['baseline'] == [
        {'stage': 'near_failure', 'field': 'threshold', 'recorded': 0.7, 'replayed': 0.5}]
    assert stages['c']['descriptions'] == []
    assert run_evaluate(str(sessions)) == 0
    lines = [line for line in capsys.readouterr().out.splitlines()
             if line.startswith('recorded stages')]
    assert lines[-1].startswith('recorded stages of c: the stages were not recorded')
    assert len(lines) == 3   # a and b differ from the learned replay (or are not compared)


def test_subjects_that_match_nothing_are_named_with_what_there_is(tmp_path: Path,
                                                                  capsys: Any) -> None:
    # Once: "DATA: no labelled sets", and a mistyped code among good ones went unnoticed;
    # then a warning that scrolled by.  Now any code that names no subject is the error.
    sessions = tmp_path / 'bags'
    sessions.mkdir()
    write_labelled_bag(sessions / 'a', simulate(SimConfig(seed=3, sets=1)), '/station1')
    write_labelled_bag(sessions / 'b', simulate(SimConfig(seed=4, sets=1)), '/station2')
    for data, subjects, unknown, there in [
            (sessions, ['ZZZ', 'Station1'], 'ZZZ', 'station1, station2'),
            (sessions, ['station2', 'ZZZ'], 'ZZZ', 'station1, station2'),
            (sessions / 'a', ['station2'], 'station2', 'station1')]:
        assert run_evaluate(str(data), '--subjects', *subjects) == 2
        assert capsys.readouterr().err == (f'rep-coach evaluate: --subjects {unknown} '
                                           f'matches none of {there}\n')
    # Codes match in any case, in a directory of bags as in one bag.
    for data, subjects, bags in [(sessions, ['STATION2'], ['b']),
                                 (sessions / 'a', ['Station1'], None)]:
        assert run_evaluate(str(data), '--subjects', *subjects, '--json') == 0
        out = json.loads(capsys.readouterr().out)
        assert out.get('bags') == bags and out['learned']['n_sets'] == 1


def test_plot_says_what_it_finds_in_a_bag_under_a_name_not_evaluates(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # The bag reading is shared; its messages once came under rep_coach.cli.evaluate.
    write_labelled_bag(tmp_path / 'b', simulate(SimConfig(seed=4, sets=1)), '/station2',
                       stated=False)
    with caplog.at_level('INFO'):
        plot_cli.load_one(str(tmp_path / 'b'))
    names = {r.name for r in caplog.records if 'inferred from the topic names' in r.message}
    assert names == {'rep_coach.bags'}


# -- a bag cut short -------------------------------------------------------------------------
def test_a_rep_the_bag_ends_too_soon_after_is_left_out_of_every_column(
        labelled_bag: tuple, tmp_path: Path, capsys: Any) -> None:
    # Audit: a recording cut by SIGKILL held the last rep's label, but the IMU stopped
    # before the segmenter could decide on it (~0.4 s after its end): evaluate counted a
    # missed rep (count_mae 1.0, event_recall 0.75) in every column, with no hint.
    _, rec, _ = labelled_bag
    cut_rep = rec.sets[1].reps[2]                 # set 2, rep 3: cut mid-set
    t_end = cut_rep.end + 0.2
    n = int(np.searchsorted(rec.imu.t, t_end, side='right'))
    sets = [SetLabels([r for r in s.reps if r.end <= cut_rep.end]) for s in rec.sets]
    cut = ImuRecording(rec.name, rec.imu.slice(0, n), rec.rate_hz, sets, rec.subject)
    # What the nodes published on the whole session, up to a detection of the cut rep
    # (one a faster segmenter might have made): it must not count as a false positive.
    live = live_replay(rec)
    keep = [i for i, e in enumerate(live.events) if e.end <= t_end]
    assert abs(live.events[keep[-1]].end - cut_rep.end) < 0.3
    published = Replay([live.events[i] for i in keep], [live.states[i] for i in keep])
    bag = tmp_path / 'killed'
    n_labels = write_labelled_bag(bag, cut, published=published)
    out = evaluate_json(str(bag), capsys=capsys)
    for column in ('learned', 'baseline', 'recorded'):
        if out[column] is None:                    # learned models not installed
            continue
        seg = out[column]['segmentation']
        assert seg['n_true_reps'] == n_labels - 1, column
        assert seg['count_mae'] == 0.0 and seg['event_recall'] == 1.0, (column, seg)
    assert out['recorded']['segmentation']['n_detected_reps'] == len(keep) - 1
    assert out['recorded']['segmentation']['event_precision'] == 1.0
    assert out['reps_left_out'] == {'killed': {'reps': 1, 'why': evaluate_cli.LEFT_OUT_WHY}}
    assert run_evaluate(str(bag)) == 0
    text = capsys.readouterr().out
    assert 'note: bag killed: 1 true rep(s) left out of every column' in text
    assert 'before the last IMU sample' in text


def test_a_bag_cut_after_its_only_rep_says_nothing_is_left(
        labelled_bag: tuple, tmp_path: Path, capsys: Any) -> None:
    _, rec, _ = labelled_bag
    first = rec.sets[0].reps[0]
    n = int(np.searchsorted(rec.imu.t, first.end + 0.2, side='right'))
    cut = ImuRecording(rec.name, rec.imu.slice(0, n), rec.rate_hz, [SetLabels([first])],
                       rec.subject)
    write_labelled_bag(tmp_path / 'short', cut)
    assert run_evaluate(str(tmp_path / 'short')) == evaluate_cli.EXIT_BAD_INPUT
    err = capsys.readouterr().err
    assert 'short: all 1 labelled rep(s) left out' in err


def test_a_bag_without_its_metadata_is_named_with_the_repair(labelled_bag: tuple, tmp_path: Path,
                                                             capsys: Any) -> None:
    # Before: "neither a thomas2025-layout directory ..., a rosbag2 bag (metadata.yaml) nor a
    # directory of bags" for a bag whose recorder died before writing metadata.yaml, and for
    # one whose metadata.yaml is a directory; play and plot said what it is.
    import shutil
    bag = tmp_path / 'cut'
    shutil.copytree(labelled_bag[0], bag)
    (bag / 'metadata.yaml').unlink()
    assert run_evaluate(str(bag)) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'metadata.yaml is missing' in err
    assert f'rep-coach repair {bag}' in err
    (bag / 'metadata.yaml').mkdir()
    assert run_evaluate(str(bag)) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and 'cannot read metadata.yaml' in err and 'neither' not in err


def test_labels_that_do_not_decode_are_said_not_dropped_unseen(
        labelled_bag: tuple, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any,
        caplog: pytest.LogCaptureFixture) -> None:
    # Before: a labels/reps payload that was not TrueRep JSON was skipped without a word (its
    # rep silently unscored), and with none decodable the error listed labels/reps among
    # "its topics with messages" (metadata.yaml's counts, which a cut file also outlives).
    rec = simulate(SimConfig(seed=1, sets=1))
    n = len(rec.sets[0].reps)
    good = TrueRep.to_json
    monkeypatch.setattr(TrueRep, 'to_json', lambda rep: '{garbled' if rep.rep_index == 2
                        else good(rep))
    write_labelled_bag(tmp_path / 'one', rec)
    monkeypatch.setattr(TrueRep, 'to_json', lambda rep: '{garbled')
    write_labelled_bag(tmp_path / 'all', rec)
    assert run_evaluate(str(tmp_path / 'one'), '--json') == 0
    assert json.loads(capsys.readouterr().out)['baseline']['segmentation']['n_true_reps'] \
        == n - 1
    assert f'{tmp_path / "one"}: 1 labels/reps message(s) cannot be decoded' in caplog.text
    assert run_evaluate(str(tmp_path / 'all')) == 2
    err = capsys.readouterr().err
    assert err.count('\n') == 1 and f'none of its {n} labels/reps messages decodes' in err
    # A bag cut before its labels: the topics named are those read, not metadata.yaml's.
    import shutil
    cut = shutil.copytree(labelled_bag[0], tmp_path / 'cut')
    storage = next(cut.glob('*.mcap'))
    with storage.open('r+b') as handle:   # the labels were written last
        handle.truncate(storage.stat().st_size * 9 // 10)
    assert run_evaluate(str(cut)) == 2
    assert capsys.readouterr().err.endswith(
        f'(its topics with messages: {NS}/imu/data_raw)\n')


def test_imu_samples_the_nodes_drop_are_left_out_of_the_replays_and_said_once(
        tmp_path: Path, capsys: Any, caplog: pytest.LogCaptureFixture) -> None:
    # Before: they were fed to the replays, where one NaN sample silently stopped the learned
    # segmenter finding any rep for the rest of the set (event F1 0 where the nodes, whose
    # sample gate drops such samples, found every rep); a bag of only such samples was scored.
    # Since session 17 the replays pass the samples through the nodes' gate itself, so a
    # value no IMU measures is left out too (before: only NaN and Inf were).
    rec = simulate(SimConfig(seed=1, sets=1))
    write_labelled_bag(tmp_path / 'clean', rec)
    rec.imu.accel[300, 0] = np.nan
    rec.imu.gyro[400, 2] = np.inf
    rec.imu.gyro[500, 1] = 1e300
    write_labelled_bag(tmp_path / 'spiked', rec)
    scores = []
    for name in ('clean', 'spiked'):
        assert run_evaluate(str(tmp_path / name), '--json') == 0
        scores.append(json.loads(capsys.readouterr().out))
    assert scores[1]['learned'] is not None
    assert scores[1]['learned']['segmentation']['event_f1'] == \
        scores[0]['learned']['segmentation']['event_f1'] > 0.5
    said = (f'{tmp_path / "spiked"}: dropped 3 of {len(rec.imu)} samples (non_finite: 2, '
            "out_of_range: 1): the replays leave them out, as the nodes' sample gate does")
    assert caplog.text.count(said) == 1, caplog.text
    rec.imu.gyro[:, 0] = np.nan
    write_labelled_bag(tmp_path / 'all', rec)
    assert run_evaluate(str(tmp_path / 'all')) == 2
    n = len(rec.imu)
    assert capsys.readouterr().err == (f'rep-coach evaluate: {tmp_path / "all"}: none of its '
                                       f"{n} IMU samples passes the nodes' sample gate "
                                       f'(dropped {n} of {n} samples (non_finite: {n}))\n')
