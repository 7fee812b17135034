"""Many gym stations on one DDS domain, one namespace each: nothing crosses stations.

A smart gym runs one graph per station (one lifter, one wrist IMU, one speaker) under
its own namespace, all on the same domain.  These tests check what that needs: bags
named and labelled by station, and two real graphs launched together that keep every
topic, cue and recording to themselves.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest

from rep_coach.bagio import load_metadata
from rep_coach.bag_names import bag_name_candidates, default_bag_name, station_label
from rep_coach.launcher import claim_domain
from rep_coach.nodes import session_recorder
from rep_coach.nodes.session_recorder import SessionRecorderNode
from rep_coach.runtime import rclpy

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
