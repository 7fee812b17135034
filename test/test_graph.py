"""
The whole graph as separate processes over Cyclone DDS on loopback.

These are the integration tests of the foundation: `rep-coach demo` end to end
(rep events, near-failure state and feedback arrive; the bag is complete and
readable by independent readers), the launcher's fault handling, and clean
start-up failures.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
import signal
import subprocess
import sys
import time
from typing import Dict

from graph_helpers import Lines
import pytest
from rep_coach.launcher import (isolated_env, Launcher, LaunchError, NodeLaunch,
                                validate_params_file)
from rep_coach.paths import default_params_file
import yaml

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope='module')
def demo_run(tmp_path_factory) -> dict:
    """Run `rep-coach demo --json` once; several tests read its outputs."""
    out = tmp_path_factory.mktemp('demo')
    cmd = [sys.executable, '-m', 'rep_coach.cli', 'demo', '--json', '--speed', '8',
           '--record', str(out / 'bags'), '--audio', f'wav:{out / "wav"}']
    started = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=isolated_env(),
                          cwd=out)
    elapsed = time.monotonic() - started
    assert proc.returncode == 0, proc.stderr[-4000:]
    lines = [line for line in proc.stdout.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stdout  # --json: exactly one JSON object on stdout
    return {'summary': json.loads(lines[0]), 'out': out, 'log': proc.stderr,
            'elapsed': elapsed}


def test_demo_summary_has_the_contract_keys(demo_run) -> None:
    summary = demo_run['summary']
    for key in ('reps_true', 'reps_detected', 'near_failure_rep', 'cues', 'bag'):
        assert key in summary
    assert summary['reps_true'] >= 5
    assert abs(summary['reps_detected'] - summary['reps_true']) <= 1
    assert summary['near_failure_rep'] is not None
    assert summary['near_failure_rep'] <= summary['reps_detected']
    assert summary['cues'][0] == 'one'
    assert any('reps' in cue for cue in summary['cues']), 'no set summary cue'
    assert all(codes == [0] for codes in summary['exit_codes'].values()), summary
    assert demo_run['elapsed'] < 90


def test_demo_bag_is_complete_for_an_independent_reader(demo_run) -> None:
    mcap_reader = pytest.importorskip('mcap.reader')
    summary = demo_run['summary']
    bag = Path(summary['bag'])
    counts: Dict[str, int] = {}
    for path in sorted(bag.glob('*.mcap')):
        with path.open('rb') as stream:
            reader = mcap_reader.make_reader(stream)
            for schema, channel, message in reader.iter_messages():
                counts[channel.topic] = counts.get(channel.topic, 0) + 1
                assert schema.encoding == 'ros2msg'
                assert channel.message_encoding == 'cdr'
    assert counts['/labels/reps'] == summary['reps_true']
    assert counts['/reps'] == summary['reps_detected']
    assert counts['/near_failure'] == summary['reps_detected']
    assert counts['/feedback'] == len(summary['cues'])
    # Reliable topics lose nothing; the IMU is best effort but on loopback the
    # recorder's deep queue keeps up with the whole simulated set.
    assert counts['/imu/data_raw'] == summary['imu_samples'] > 1000


def test_demo_bag_metadata_permissions_and_imu_units(demo_run) -> None:
    from rosbags.highlevel import AnyReader
    bag = Path(demo_run['summary']['bag'])
    meta = yaml.safe_load((bag / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    assert meta['version'] == 8 and meta['storage_identifier'] == 'mcap'
    topics = {t['topic_metadata']['name']: t['topic_metadata']
              for t in meta['topics_with_message_count']}
    # rosbag2 v8 stores each topic's offered QoS as a YAML string of rmw integers
    # (reliability 1 = reliable, 2 = best effort; depth 5 = sensor data's keep last 5).
    qos = {name: yaml.safe_load(meta_topic['offered_qos_profiles'])
           for name, meta_topic in topics.items()}
    assert [(q['reliability'], q['depth']) for q in qos['/imu/data_raw']] == [(2, 5)]
    assert [q['reliability'] for q in qos['/reps']] == [1]
    assert (bag.stat().st_mode & 0o777) == 0o700
    assert all((p.stat().st_mode & 0o777) == 0o600 for p in bag.iterdir())
    with AnyReader([bag]) as reader:
        imu = [c for c in reader.connections if c.topic == '/imu/data_raw']
        first = [reader.deserialize(raw, c.msgtype)
                 for c, _, raw in reader.messages(connections=imu)][:50]
    assert first[0].header.frame_id == 'imu_link'
    assert first[0].orientation_covariance[0] == -1.0
    gravity = [(m.linear_acceleration.x ** 2 + m.linear_acceleration.y ** 2
                + m.linear_acceleration.z ** 2) ** 0.5 for m in first]
    assert 8.0 < sum(gravity) / len(gravity) < 11.5  # m/s^2 at rest, not g


def test_demo_bag_says_what_each_stage_ran(demo_run) -> None:
    """Both stage nodes' descriptions, latched, as rosbags reads them (no rep_coach reader)."""
    import hashlib
    from rosbags.highlevel import AnyReader
    bag = Path(demo_run['summary']['bag'])
    meta = yaml.safe_load((bag / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    offered = {t['topic_metadata']['name']: yaml.safe_load(t['topic_metadata'][
        'offered_qos_profiles']) for t in meta['topics_with_message_count']}
    # rmw integers: reliability 1 = reliable, durability 1 = transient local, history 1 =
    # keep last, as /robot_description.
    assert [(q['reliability'], q['durability'], q['history'], q['depth'])
            for q in offered['/stage_info']] == [(1, 1, 1, 1)]
    with AnyReader([bag]) as reader:
        conns = [c for c in reader.connections if c.topic == '/stage_info']
        assert [c.msgtype for c in conns] == ['std_msgs/msg/String']
        infos = {info['stage']: info for info in (
            json.loads(reader.deserialize(raw, c.msgtype).data)
            for c, _, raw in reader.messages(connections=conns))}
    assert sorted(infos) == ['near_failure', 'segmenter']   # one message per stage node
    for stage, name in (('segmenter', 'segmenter.onnx'), ('near_failure', 'near_failure.onnx')):
        assert infos[stage]['model'] == 'learned'   # the config file's default
        data = (ROOT / 'models' / name).read_bytes()
        assert infos[stage]['model_file']['sha256'] == hashlib.sha256(data).hexdigest()
    assert infos['near_failure']['parameters'] == {'threshold': 0.5}
    assert infos['segmenter']['parameters'] == {'set_rest_s': 8.0}


def test_demo_cues_were_rendered_as_audio(demo_run) -> None:
    wav_dir = demo_run['out'] / 'wav'
    index = [json.loads(line) for line in (wav_dir / 'index.jsonl').read_text().splitlines()]
    texts = [entry['text'] for entry in index]
    assert texts[:len(demo_run['summary']['cues'])] == demo_run['summary']['cues'] or \
        set(demo_run['summary']['cues']) <= set(texts)
    assert len(list(wav_dir.glob('*.wav'))) >= len(demo_run['summary']['cues'])


def _wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_launcher_reports_a_killed_node_and_respawns_it(tmp_path) -> None:
    out = Lines()
    nodes = [NodeLaunch('imu_publisher', overrides={'start_delay_s': 0.0}),
             NodeLaunch('rep_segmenter', overrides={'model': 'baseline'}, respawn=True,
                        respawn_delay_s=0.2)]
    launcher = Launcher(nodes, params_file=default_params_file(), env=isolated_env(), output=out)
    launcher.start()
    try:
        assert _wait_for(lambda: 'segmenting reps' in out.text(), 30), out.text()
        victim = launcher.pids()['rep_segmenter']
        os.kill(victim, signal.SIGKILL)
        assert _wait_for(lambda: (launcher.poll() or True)
                         and launcher.pids().get('rep_segmenter', victim) != victim, 30)
        assert 'process has died' in out.text() and 'exit code -9' in out.text()
        assert launcher.alive('imu_publisher')
        assert _wait_for(lambda: out.text().count('segmenting reps') == 2, 30), out.text()
    finally:
        launcher.stop()
    assert launcher.exit_codes['rep_segmenter'][0] == -9
    assert launcher.exit_codes['rep_segmenter'][-1] == 0
    assert launcher.exit_codes['imu_publisher'] == [0]


def test_launch_cli_stops_every_node_cleanly_on_sigint(tmp_path) -> None:
    cmd = [sys.executable, '-m', 'rep_coach.cli', 'launch', '--record', str(tmp_path),
           '--source', 'sim']
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=isolated_env(), cwd=tmp_path)
    try:
        assert _wait_for(lambda: any(tmp_path.glob('*/*.mcap')), 60)
    finally:
        proc.send_signal(signal.SIGINT)
        output, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, output[-3000:]
    assert 'process has died' not in output
    assert 'bag closed' in output
    bags = list(tmp_path.glob('rep_coach_*'))
    assert len(bags) == 1 and (bags[0] / 'metadata.yaml').is_file()


def test_a_node_stopped_the_moment_it_is_spawned_exits_cleanly() -> None:
    # CI: the launcher stopped the graph while one node's interpreter was still starting,
    # before any Python handler existed; the SIGINT killed it (exit code -2, no output).
    out = Lines()
    launcher = Launcher([NodeLaunch('audio_feedback', overrides={'sink': 'null'})],
                        params_file=default_params_file(), env=isolated_env(), output=out)
    launcher.start()
    launcher.stop()
    assert launcher.exit_codes['audio_feedback'] == [0], out.text()
    assert 'stopped while starting' in out.text(), out.text()


def test_launch_cli_stops_the_graph_when_a_node_fails_at_start(tmp_path) -> None:
    # The audit's case: imu_publisher exited 2 with one FATAL line and the other nodes
    # (recorder included) ran on forever, doing nothing.
    missing = tmp_path / 'missing.csv'
    cmd = [sys.executable, '-m', 'rep_coach.cli', 'launch', '--source', f'csv:{missing}',
           '--record', str(tmp_path / 'bags')]
    started = time.monotonic()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=isolated_env(), cwd=tmp_path, timeout=90)
    elapsed = time.monotonic() - started
    output = proc.stdout
    assert proc.returncode == 1, output[-3000:]
    fatal = [line for line in output.splitlines() if '[FATAL]' in line]
    assert len(fatal) == 1 and str(missing) in fatal[0], output[-3000:]
    assert ('imu_publisher-1 failed (exit code 2) and the graph cannot run without it: '
            'stopping rep_segmenter, near_failure_classifier, audio_feedback, '
            'session_recorder') in output, output[-3000:]
    # The others were stopped by SIGINT and exited cleanly, the recording finalised.
    assert 'on shutdown' not in output and 'escalating' not in output, output[-3000:]
    # The recording finalised, unless the recorder was stopped before it had begun one:
    # its start-up races imu_publisher's failure, and it then says so (once a silent exit).
    bags = list((tmp_path / 'bags').glob('*/metadata.yaml'))
    stopped_early = '[session_recorder]: stopped while starting' in output
    assert len(bags) == 1 or (stopped_early and not bags), output[-3000:]
    # Start-up (a few s per process on a loaded machine) plus one SIGINT round.
    assert elapsed < 60, elapsed


def _tiny_csv(path: Path, seconds: float = 2.0) -> Path:
    import numpy as np
    from rep_coach.core.sources import write_our_csv
    from rep_coach.core.types import ImuBlock
    t = np.arange(0.0, seconds, 0.01)
    accel = np.tile([0.0, 0.0, 9.81], (len(t), 1))
    write_our_csv(path, ImuBlock(t, accel, np.zeros((len(t), 3))))
    return path


def test_launcher_drains_then_stops_after_a_required_node_finishes(tmp_path) -> None:
    out = Lines()
    nodes = [NodeLaunch('imu_publisher', overrides={
                 'source': f'csv:{_tiny_csv(tmp_path / "short.csv")}', 'playback_speed': 0.0,
                 'start_delay_s': 0.0, 'shutdown_when_done': True, 'publish_labels': False}),
             NodeLaunch('rep_segmenter', overrides={'model': 'baseline'})]
    launcher = Launcher(nodes, params_file=default_params_file(), env=isolated_env(),
                        output=out, drain_s=1.5)
    code = launcher.run(duration=90, handle_signals=False)
    assert code == 0, out.text()[-3000:]
    assert launcher.exit_codes == {'imu_publisher': [0], 'rep_segmenter': [0]}
    assert ('imu_publisher-1 finished (exit code 0), so the graph is done: '
            'stopping rep_segmenter in 1.5 s') in out.text(), out.text()[-3000:]
    assert launcher.stop_reason.startswith('imu_publisher-1 finished')


def test_a_node_that_is_not_required_may_exit_alone(tmp_path) -> None:
    out = Lines()
    nodes = [NodeLaunch('imu_publisher', overrides={'source': f'csv:{tmp_path / "no.csv"}'},
                        required=False),
             NodeLaunch('rep_segmenter', overrides={'model': 'baseline'})]
    launcher = Launcher(nodes, params_file=default_params_file(), env=isolated_env(), output=out)
    launcher.start()
    try:
        assert _wait_for(lambda: (launcher.poll() or True)
                         and 'imu_publisher' in launcher.exit_codes, 60), out.text()
        time.sleep(1.0)
        launcher.poll()
        assert launcher.alive('rep_segmenter') and launcher.stop_reason is None
    finally:
        launcher.stop()
    assert launcher.exit_codes == {'imu_publisher': [2], 'rep_segmenter': [0]}


def test_bad_parameter_stops_the_node_naming_it() -> None:
    proc = subprocess.run([sys.executable, '-m', 'rep_coach.nodes.rep_segmenter', '--ros-args',
                           '-p', 'model:=resnet'], capture_output=True, text=True, timeout=60,
                          env=isolated_env())
    assert proc.returncode == 2
    assert "parameter 'model'" in proc.stderr and 'resnet' in proc.stderr
    assert 'Traceback' not in proc.stderr


def test_unknown_source_file_is_a_clear_error(tmp_path) -> None:
    missing = tmp_path / 'nope.csv'
    proc = subprocess.run([sys.executable, '-m', 'rep_coach.nodes.imu_publisher', '--ros-args',
                           '-p', f'source:=csv:{missing}'], capture_output=True, text=True,
                          timeout=60, env=isolated_env())
    assert proc.returncode == 2
    assert str(missing) in proc.stderr and 'Traceback' not in proc.stderr


def test_mistyped_parameter_in_a_params_file_is_caught_before_start(tmp_path) -> None:
    params = tmp_path / 'params.yaml'
    params.write_text('/**/imu_publisher:\n  ros__parameters:\n    sourse: sim\n')
    with pytest.raises(LaunchError, match="'sourse'.*unknown parameter"):
        validate_params_file(params, [NodeLaunch('imu_publisher')])
    params.write_text('/**/imu_publisher:\n  ros__parameters:\n    source: [sim\n')
    with pytest.raises(LaunchError, match='not valid YAML'):
        validate_params_file(params, [NodeLaunch('imu_publisher')])
    with pytest.raises(LaunchError, match='nope.yaml'):
        validate_params_file(tmp_path / 'nope.yaml', [NodeLaunch('imu_publisher')])


@pytest.mark.parametrize('node', ['rep_segmenter', 'near_failure_classifier'])
def test_nodes_start_with_the_committed_learned_models(node: str) -> None:
    if not (ROOT / 'models' / 'segmenter.onnx').is_file():
        pytest.skip('no trained models in models/')
    proc = subprocess.Popen([sys.executable, '-m', f'rep_coach.nodes.{node}', '--ros-args',
                             '-p', 'model:=learned'], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, env=isolated_env())
    try:
        lines = []
        for line in proc.stdout:
            lines.append(line)
            if 'learned model' in line or 'FATAL' in line:
                break
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    output = ''.join(lines) + rest
    assert 'with the learned model' in output, output
    assert proc.returncode == 0, output


def test_demo_bag_is_readable_by_rosbags_with_its_typestore(demo_run) -> None:
    """
    Every topic of a recorded bag deserialises with rosbags' own Reader and typestore.

    No rep_coach code in the reading path: what another lab's tooling does.  The
    metadata.yaml fields ``ros2 bag info`` prints agree with the messages.
    """
    from rosbags.rosbag2 import Reader
    from rosbags.typesys import get_typestore, Stores
    bag = Path(demo_run['summary']['bag'])
    meta = yaml.safe_load((bag / 'metadata.yaml').read_text())['rosbag2_bagfile_information']
    store = get_typestore(Stores.ROS2_HUMBLE if meta['ros_distro'] == 'humble'
                          else Stores.ROS2_JAZZY)
    counts: dict = {}
    stamps = []
    with Reader(bag) as reader:
        for conn in reader.connections:
            assert conn.msgtype in store.types, conn.msgtype   # empty topics too
        for conn, timestamp, raw in reader.messages():
            msg = store.deserialize_cdr(raw, conn.msgtype)
            counts[conn.topic] = counts.get(conn.topic, 0) + 1
            stamps.append(timestamp)
            if conn.msgtype == 'std_msgs/msg/String' and conn.topic != '/feedback':
                assert json.loads(msg.data)['v'] >= 1
    assert set(counts) >= {'/imu/data_raw', '/labels/reps', '/reps', '/near_failure',
                           '/feedback'}
    # What `ros2 bag info` shows: storage, counts per topic and in all, start, duration.
    assert meta['storage_identifier'] == 'mcap'
    assert meta['message_count'] == sum(counts.values()) == len(stamps)
    assert {t['topic_metadata']['name']: t['message_count']
            for t in meta['topics_with_message_count'] if t['message_count']} == counts
    assert all(t['topic_metadata']['serialization_format'] == 'cdr'
               for t in meta['topics_with_message_count'])
    assert meta['starting_time']['nanoseconds_since_epoch'] == min(stamps)
    assert meta['duration']['nanoseconds'] == max(stamps) - min(stamps)


def test_evaluate_scores_the_demo_bag_under_its_name(demo_run) -> None:
    bag = Path(demo_run['summary']['bag'])
    proc = subprocess.run([sys.executable, '-m', 'rep_coach.cli', 'evaluate', str(bag),
                           '--json', '--no-progress'], capture_output=True, text=True,
                          timeout=120, env=isolated_env())
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    base = out['baseline']
    assert base['segmentation']['n_true_reps'] == demo_run['summary']['reps_true']
    assert list(base['per_subject']) == [bag.name]   # recorded at the root: the bag's name
    assert list(base['per_set']) == [f'{bag.name}:1'] and out['n_sets'] == 1
    # What the graph's nodes published during the demo, as its bag recorded it.
    recorded, detected = out['recorded'], demo_run['summary']['reps_detected']
    assert recorded['segmentation']['n_detected_reps'] == detected
    assert recorded['segmentation']['n_true_reps'] == demo_run['summary']['reps_true']
    assert recorded['messages'] == {'reps': detected, 'near_failure': detected,
                                    'bad_payloads': 0, 'reps_without_verdict': 0,
                                    'verdicts_without_rep': 0}
    assert recorded['segmentation']['event_f1'] >= 0.8
    assert 0 < recorded['segmentation']['cue_delay_p50_s'] < 1.0   # data time, not wall time
    assert list(recorded['per_set']) == list(base['per_set'])
    # Which stages decided them: the learned replay's, so the two columns agree.
    stages = recorded['stages'][bag.name]
    assert sorted(stages['descriptions'], key=lambda i: i['stage']) == \
        sorted(out['learned']['stages'], key=lambda i: i['stage'])
    assert stages['same_as'] == ['learned'] and stages['differences']['learned'] == []
