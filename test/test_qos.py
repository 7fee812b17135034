"""Each topic's QoS is defined once (``rep_coach.topics``) for the nodes and the bags."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rep_coach import topics
from rep_coach.bagio import PRESETS, QosSpec, to_rosbags_qos
from rep_coach.nodes.common import event_qos, imu_reader_qos, qos_for, qos_profile
from rep_coach.nodes.session_recorder import recorder_qos

ALL_TOPICS = sorted(set(topics.TOPIC_TYPES)
                    | {topics.IMU_CLOCK, topics.IMAGE, topics.IMAGE_COMPRESSED,
                       topics.FORM_LANDMARKS})


def _policies(profile) -> tuple:
    return (profile.reliability.name.lower(), profile.durability.name.lower(),
            profile.history.name.lower(), profile.depth)


def test_the_documented_qos_of_each_kind_of_topic() -> None:
    assert topics.topic_qos(topics.IMU) == QosSpec('best_effort', 'volatile', 'keep_last', 5)
    assert topics.topic_qos(topics.IMU_CLOCK) == topics.SENSOR_QOS
    assert topics.topic_qos(topics.REPS) == QosSpec('reliable', 'volatile', 'keep_last', 100)
    assert topics.topic_qos(topics.IMAGE) == QosSpec('best_effort', 'volatile', 'keep_last', 1)
    # What each stage runs: said once at start-up, kept for whoever joins later.
    assert topics.topic_qos(topics.STAGE_INFO) == QosSpec('reliable', 'transient_local',
                                                          'keep_last', 1)


@pytest.mark.parametrize('topic', ALL_TOPICS)
def test_node_profiles_and_bag_metadata_come_from_the_one_definition(topic: str) -> None:
    spec = topics.topic_qos(topic)
    assert _policies(qos_for(topic)) == (spec.reliability, spec.durability, spec.history,
                                         spec.depth)
    # Readers may keep more, but must match the writer's reliability and durability.
    assert _policies(recorder_qos(topic))[:3] == _policies(qos_for(topic))[:3]
    assert QosSpec.from_rosbags(to_rosbags_qos(spec)[0]) == spec


def test_the_bag_presets_and_node_helpers_are_the_topics_qos() -> None:
    assert PRESETS['sensor_data'] is topics.SENSOR_QOS
    assert PRESETS['events'] is topics.EVENT_QOS
    assert PRESETS['latched'] is topics.LATCHED_QOS
    assert event_qos() == qos_profile(topics.EVENT_QOS)
    assert _policies(imu_reader_qos())[:3] == _policies(qos_for(topics.IMU))[:3]


def test_the_description_and_the_bags_import_no_runtime() -> None:
    code = ('import sys, rep_coach.qos, rep_coach.topics, rep_coach.bagio; '
            'bad = [m for m in sys.modules if m == "rclpy" or m.startswith("rep_coach.runtime")]; '
            'assert not bad, bad')
    subprocess.run([sys.executable, '-c', code], check=True)
