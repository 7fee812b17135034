"""
Many gym stations on one DDS domain, one namespace each: nothing crosses stations.

A smart gym runs one graph per station (one lifter, one wrist IMU, one speaker) under
its own namespace, all on the same domain.  These tests check what that needs: bags
named and labelled by station, and two real graphs launched together that keep every
topic, cue and recording to themselves.
"""

from __future__ import annotations

from datetime import datetime
import json
from pathlib import Path
import re
import subprocess
import sys
import time
from typing import Any, Dict, List

from graph_helpers import Lines
import pytest
from rep_coach.bag_names import bag_name_candidates, default_bag_name, station_label
from rep_coach.bagio import load_metadata, read_bag
from rep_coach.core.sim import SimConfig, simulate
from rep_coach.core.sources import parse_spec
from rep_coach.core.types import RepEvent
from rep_coach.launcher import (claim_domain, GRAPH, IMU_READERS, isolated_env, Launcher,
                                standard_graph)
from rep_coach.nodes import session_recorder
from rep_coach.nodes.session_recorder import SessionRecorderNode
from rep_coach.runtime import rclpy
from rep_coach.runtime.dds.participant import Participant, ParticipantError
import yaml

WHEN = datetime(2026, 11, 21, 12, 49, 33)


@pytest.mark.parametrize('namespace, name', [
    ('', 'rep_coach_20261121_124933'),
    ('/', 'rep_coach_20261121_124933'),
    ('/station1', 'rep_coach_station1_20261121_124933'),
    ('/gym/station_3', 'rep_coach_gym.station_3_20261121_124933'),
])
def test_default_bag_name_says_which_station(namespace: str, name: str) -> None:
    assert default_bag_name(namespace, WHEN) == name


def test_station_labels_of_different_namespaces_differ() -> None:
    assert station_label('/gym/station_3') != station_label('/gym_station_3')


def test_bag_name_candidates_start_with_the_name_then_number_it() -> None:
    names = list(bag_name_candidates('x'))
    assert names[:3] == ['x', 'x_2', 'x_3'] and len(set(names)) == len(names)


def test_recorders_started_in_the_same_second_get_a_bag_each(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Two stations (or a respawned recorder) starting in one second into one bag_dir.
    monkeypatch.setenv('ROS_LOCALHOST_ONLY', '1')
    monkeypatch.setattr(session_recorder, 'default_bag_name',
                        lambda namespace: default_bag_name(namespace, WHEN))
    rclpy.init(args=['test', '--ros-args', '-r', '__ns:=/gym/station_3',
                     '-p', f'bag_dir:={tmp_path}'], domain_id=claim_domain().domain)
    nodes = []
    try:
        nodes = [SessionRecorderNode(), SessionRecorderNode()]
        paths = [node.path for node in nodes]
    finally:
        for node in nodes:
            node.close()
            node.destroy_node()
        rclpy.try_shutdown()
    assert [p.name for p in paths] == ['rep_coach_gym.station_3_20261121_124933',
                                       'rep_coach_gym.station_3_20261121_124933_2']
    for path in paths:
        meta = load_metadata(path)
        assert meta.custom_data['namespace'] == '/gym/station_3'
        assert meta.topics and all(t.name.startswith('/gym/station_3/') for t in meta.topics)


# -- two real stations on one domain -------------------------------------------------------

#: Station -> the sim its lifter does: different rep counts, so a crossed topic shows.
STATIONS = {'/station1': {'seed': 1, 'reps_to_failure': 4},
            '/gym/station_2': {'seed': 2, 'reps_to_failure': 7}}
SPEED = 4.0


def _sim_spec(options: Dict[str, int]) -> str:
    extra = ','.join(f'{key}={value}' for key, value in options.items())
    return f'sim:{extra},lead_in_s=1,tail_s=10,false_start_prob=0,failed_attempt_prob=0'


def _params_file(path: Path, wav_dirs: Dict[str, Path]) -> Path:
    """One file for the whole gym: /** defaults, then a section per station's speaker."""
    sections: Dict[str, Any] = {
        '/**/imu_publisher': {'playback_speed': SPEED, 'shutdown_when_done': True,
                              'start_delay_s': 20.0, 'wait_for_subscribers': IMU_READERS},
        '/**/rep_segmenter': {'model': 'baseline'},
        '/**/near_failure_classifier': {'model': 'baseline'},
        '/**/audio_feedback': {'sink': 'null'},
    }
    for namespace, directory in wav_dirs.items():
        sections[f'{namespace}/audio_feedback'] = {'sink': f'wav:{directory}'}
    path.write_text(yaml.safe_dump({key: {'ros__parameters': value}
                                    for key, value in sections.items()}, sort_keys=False))
    return path


def _bag_messages(bag: Path) -> Dict[str, List[Any]]:
    out: Dict[str, List[Any]] = {}
    for msg in read_bag(bag):
        out.setdefault(msg.topic, []).append(msg.message)
    return out


@pytest.fixture(scope='module')
def two_stations(tmp_path_factory) -> Dict[str, Any]:
    """Launch two stations together on one domain, each to its sim's end; watch the domain."""
    tmp = tmp_path_factory.mktemp('stations')
    env = isolated_env(claim=claim_domain())
    wav_dirs = {ns: tmp / f'wav_{station_label(ns)}' for ns in STATIONS}
    params = _params_file(tmp / 'gym.yaml', wav_dirs)
    observer = subprocess.Popen([sys.executable, str(Path(__file__).parent / 'dds_observer.py')],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                                env=env)
    outputs = {ns: Lines() for ns in STATIONS}
    launchers = {ns: Launcher(standard_graph(_sim_spec(sim), str(tmp / 'bags')),
                              params_file=params, namespace=ns, env=env, output=outputs[ns])
                 for ns, sim in STATIONS.items()}
    try:
        for launcher in launchers.values():
            launcher.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and any(
                launcher.alive('imu_publisher') for launcher in launchers.values()):
            for launcher in launchers.values():
                launcher.poll()
            time.sleep(0.2)
        time.sleep(1.0)                   # the last cues reach the recorders
    finally:
        for launcher in launchers.values():
            launcher.stop()
        seen, _ = observer.communicate(timeout=30)
    return {'tmp': tmp, 'wav': wav_dirs, 'seen': json.loads(seen),
            'log': {ns: out.text() for ns, out in outputs.items()},
            'exit_codes': {ns: launcher.exit_codes for ns, launcher in launchers.items()}}


def test_every_topic_and_node_of_the_domain_belongs_to_one_station(two_stations) -> None:
    seen = two_stations['seen']
    prefixes = tuple(f'rt{ns}/' for ns in STATIONS)
    builtin = {'DCPSPublication', 'DCPSSubscription', 'ros_discovery_info'}
    stray = [t for t in seen['topics'] if t not in builtin and not t.startswith(prefixes)]
    assert not stray, f'topics outside every station namespace: {stray}'
    for ns in STATIONS:
        assert {name for node_ns, name in seen['nodes'] if node_ns == ns} == set(
            GRAPH) | {'session_recorder'}, seen['nodes']
    assert {node_ns for node_ns, _ in seen['nodes']} == set(STATIONS)


def test_each_station_ran_cleanly_and_logs_only_its_own_nodes(two_stations) -> None:
    for ns, log in two_stations['log'].items():
        assert all(code == [0] for code in two_stations['exit_codes'][ns].values()), log
        assert 'process has died' not in log and '[ERROR]' not in log, log[-3000:]
        loggers = set(re.findall(r'\] \[([\w.]+)\]: ', log)) - {'launch'}
        assert loggers and all(name.startswith(station_label(ns) + '.') for name in loggers), \
            loggers


@pytest.mark.parametrize('namespace', list(STATIONS))
def test_each_station_records_coaches_and_speaks_only_its_own_lifter(
        two_stations, namespace: str) -> None:
    bags = sorted((two_stations['tmp'] / 'bags').glob(
        f'rep_coach_{station_label(namespace)}_*'))
    assert len(bags) == 1, sorted((two_stations['tmp'] / 'bags').iterdir())
    meta = load_metadata(bags[0])
    assert meta.custom_data['namespace'] == namespace
    assert all(t.name.startswith(namespace + '/') for t in meta.topics), meta.topics
    messages = {name[len(namespace) + 1:]: values
                for name, values in _bag_messages(bags[0]).items()}
    expected = STATIONS[namespace]['reps_to_failure']
    assert len(messages['labels/reps']) == expected
    reps = [RepEvent.from_json(m.data) for m in messages['reps']]
    assert abs(len(reps) - expected) <= 1, reps
    assert len(messages['near_failure']) == len(reps)
    # The IMU stream is this lifter's alone: at most as many samples as the sim holds.
    samples = len(simulate(SimConfig.from_options(
        parse_spec(_sim_spec(STATIONS[namespace]))[2])).imu.t)
    assert 0.9 * samples <= len(messages['imu/data_raw']) <= samples
    # Spoken (the station's own wav sink, from its params-file section) = published.
    index = (two_stations['wav'][namespace] / 'index.jsonl').read_text().splitlines()
    spoken = [json.loads(line)['text'] for line in index]
    published = [m.data for m in messages['feedback']]
    assert spoken == published and len(spoken) > len(reps), (spoken, published)
    assert 'reps' in spoken[-1], spoken               # the set's summary, in time


# -- more processes than a host's participant indices ------------------------------------------

def test_a_refused_participant_is_explained_with_the_hosts_index_limit(
        monkeypatch: pytest.MonkeyPatch) -> None:
    # Seen with 7 stations (35 node processes) under ROS_LOCALHOST_ONLY=1: Cyclone logs
    # "Failed to find a free participant index" and raised a bare "Non specific error".
    # A configuration Cyclone rejects fails the same call, deterministically.
    monkeypatch.setenv('ROS_LOCALHOST_ONLY', '1')
    monkeypatch.setenv('CYCLONEDDS_URI', '<CycloneDDS><Domain><Discovery><MaxAutoParticipant'
                                         'Index>many</MaxAutoParticipantIndex></Discovery>'
                                         '</Domain></CycloneDDS>')
    claim = claim_domain()
    try:
        with pytest.raises(ParticipantError) as info:
            Participant(claim.domain)
    finally:
        claim.release()
    text = str(info.value)
    assert text.startswith(f'cannot join DDS domain {claim.domain} (discovery range LOCALHOST)')
    assert 'MaxAutoParticipantIndex' in text and 'ROS_AUTOMATIC_DISCOVERY_RANGE=SUBNET' in text
