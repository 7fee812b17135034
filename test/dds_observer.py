"""
Watch a DDS domain from outside the graph: every topic, and every node announced.

Run as ``python dds_observer.py`` with the graph's environment (``ROS_DOMAIN_ID``,
``ROS_LOCALHOST_ONLY``); it watches until its stdin is closed, then prints one JSON
object: ``topics`` (every DDS topic a reader or writer of the domain used) and
``nodes`` (the ``[namespace, name]`` pairs announced on ``ros_discovery_info``).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from typing import Any, Set, Tuple

from cyclonedds.sub import DataReader
from cyclonedds.topic import Topic

from rep_coach.runtime.dds.graph import _TOPIC
from rep_coach.runtime.dds.messages import jazzy_message_class
from rep_coach.runtime.dds.participant import Participant
from rep_coach.runtime.dds.qos import (DurabilityPolicy, QoSProfile, ReliabilityPolicy,
                                       to_dds_qos)

#: Every participant writes the one (keyless) instance: keep many, or polls miss some.
_GRAPH_QOS = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE,
                        durability=DurabilityPolicy.TRANSIENT_LOCAL)


def _topic_names(reader: Any) -> Set[str]:
    return {s.topic_name for s in reader.take(N=100_000) if getattr(s, 'topic_name', None)}


def main() -> None:
    """Watch until stdin closes, then print what was seen."""
    participant = Participant(int(os.environ.get('ROS_DOMAIN_ID', '0')))
    info = jazzy_message_class('rmw_dds_common/msg/ParticipantEntitiesInfo')
    graph = DataReader(participant.dp, Topic(participant.dp, _TOPIC, info),
                       to_dds_qos(_GRAPH_QOS, info._type_hash))
    topics: Set[str] = set()
    nodes: Set[Tuple[str, str]] = set()
    closed = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), closed.set()), daemon=True).start()
    print('watching', file=sys.stderr, flush=True)
    while True:
        topics |= _topic_names(participant._pub_reader) | _topic_names(participant._sub_reader)
        for sample in graph.take(N=1000):
            nodes |= {(n.node_namespace, n.node_name) for n in sample.node_entities_info_seq}
        if closed.wait(0.2):
            break
    print(json.dumps({'topics': sorted(topics), 'nodes': sorted(nodes)}), flush=True)


if __name__ == '__main__':
    main()
