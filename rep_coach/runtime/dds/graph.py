"""
Announce this process's nodes on ``ros_discovery_info`` so ``ros2 node list`` shows them.

Layout (Jazzy, ``rmw_dds_common/msg/ParticipantEntitiesInfo`` from the rosbags Jazzy store):
``{gid: Gid, node_entities_info_seq: NodeEntitiesInfo[]}`` with ``Gid = {char[16] data}`` holding
the 16-byte DDS GUID of the participant/reader/writer (what rmw_cyclonedds Jazzy puts there)
and ``NodeEntitiesInfo = {node_namespace, node_name, reader_gid_seq, writer_gid_seq}``. As in
rmw_cyclonedds the topic has no ``rt/`` prefix and is reliable, transient-local, keep-last 1,
and the whole participant state is republished on every change. Humble peers use a 24-byte Gid
and will not match this type; that is a known limitation.
"""

from __future__ import annotations

import threading
from typing import Any, Dict, Optional

from cyclonedds.pub import DataWriter
from cyclonedds.topic import Topic

from .messages import jazzy_message_class
from .qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy, to_dds_qos

_TOPIC = 'ros_discovery_info'
_QOS = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                  durability=DurabilityPolicy.TRANSIENT_LOCAL)


class GraphAnnouncer:
    """Keeps the ParticipantEntitiesInfo of one participant and republishes it on change."""

    def __init__(self, participant: Any) -> None:
        self._participant = participant
        self._lock = threading.Lock()
        self._nodes: Dict[int, Any] = {}
        self._writer: Optional[DataWriter] = None
        self._info = jazzy_message_class('rmw_dds_common/msg/ParticipantEntitiesInfo')
        self._node_info = jazzy_message_class('rmw_dds_common/msg/NodeEntitiesInfo')
        self._gid = jazzy_message_class('rmw_dds_common/msg/Gid')

    def _ensure_writer(self) -> DataWriter:
        if self._writer is None:
            topic = Topic(self._participant.dp, _TOPIC, self._info)
            self._writer = DataWriter(self._participant.dp, topic,
                                      to_dds_qos(_QOS, self._info._type_hash))
        return self._writer

    def update(self, node: Any, present: bool) -> None:
        """Add/refresh (``present``) or drop a node, then publish the participant state."""
        with self._lock:
            if present:
                self._nodes[id(node)] = node
            else:
                self._nodes.pop(id(node), None)
            msg = self._info(gid=self._gid(data=self._participant.dp.guid.bytes))
            for each in self._nodes.values():
                msg.node_entities_info_seq.append(self._node_info(
                    node_namespace=each.get_namespace(), node_name=each.get_name(),
                    reader_gid_seq=[self._gid(data=s._reader.guid.bytes)
                                    for s in each._subscriptions if s._reader is not None],
                    writer_gid_seq=[self._gid(data=p._writer.guid.bytes)
                                    for p in each._publishers if p._writer is not None]))
            self._ensure_writer().write(msg)


def _announcer(node: Any) -> GraphAnnouncer:
    participant = node._participant
    announcer = getattr(participant, 'graph', None)
    if announcer is None:
        announcer = participant.graph = GraphAnnouncer(participant)
    return announcer


def announce_node(node: Any) -> None:
    """Publish the node and its current readers/writers."""
    _announcer(node).update(node, present=True)


def withdraw_node(node: Any) -> None:
    """Remove the node from the announcement."""
    _announcer(node).update(node, present=False)
