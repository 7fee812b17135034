"""The one DomainParticipant of this process, plus graph queries over the builtin topics."""

from __future__ import annotations

import os
import threading
from typing import Any, Dict, Optional

from cyclonedds.builtin import BuiltinDataReader, BuiltinTopicDcpsPublication
from cyclonedds.builtin import BuiltinTopicDcpsSubscription
from cyclonedds.core import (DDSException, InstanceState, Policy, Qos, ReadCondition,
                             SampleState, ViewState)
from cyclonedds.domain import Domain, DomainParticipant

from .context import cyclone_config, discovery_range
from ..errors import MiddlewareStartupError


#: Participant indices a host has per domain with unicast discovery (LOCALHOST or static
#: peers), as rmw_cyclonedds configures it: one per node process.
MAX_PARTICIPANT_INDEX = 32


class ParticipantError(MiddlewareStartupError):
    """
    This process cannot join its DDS domain; the message says why and what to change.

    A :class:`MiddlewareStartupError`, so a node reports it as one FATAL line (``run_node``).
    """


def participant_error(domain_id: int, range_: str, static_peers: bool, exc: Exception) -> str:
    """Explain a refused DomainParticipant, with the participant-index limit when it applies."""
    text = f'cannot join DDS domain {domain_id} (discovery range {range_}): {exc}'
    if range_ == 'LOCALHOST' or static_peers:
        text += (f'. With unicast discovery (ROS_LOCALHOST_ONLY=1, ROS_STATIC_PEERS) a host has '
                 f'{MAX_PARTICIPANT_INDEX} participant indices per domain, one per node '
                 'process (as rmw_cyclonedds), so at most 6 stations of 5 nodes; if Cyclone '
                 'said "Failed to find a free participant index", stop other processes of '
                 'this domain, use multicast discovery (ROS_AUTOMATIC_DISCOVERY_RANGE=SUBNET), '
                 'or raise the limit for every process of the domain: CYCLONEDDS_URI='
                 '"<CycloneDDS><Domain><Discovery><MaxAutoParticipantIndex>100'
                 '</MaxAutoParticipantIndex></Discovery></Domain></CycloneDDS>"')
    return text


class Participant:
    """A DomainParticipant with readers on the DCPSPublication/DCPSSubscription builtin topics."""

    def __init__(self, domain_id: int) -> None:
        self.domain_id = domain_id
        static_peers = [p for p in os.environ.get('ROS_STATIC_PEERS', '').split(';') if p]
        range_ = discovery_range()
        config = cyclone_config(range_, static_peers, os.environ.get('CYCLONEDDS_URI'))
        try:
            # An explicit Domain applies our config for this domain id only, without editing
            # the environment that child processes inherit.
            self.domain: Optional[Domain] = Domain(domain_id, config) if config else None
            # USER_DATA "enclave=/;" as rmw_cyclonedds sets on its participants (no security).
            self.dp = DomainParticipant(domain_id,
                                        qos=Qos(Policy.Userdata(data=b'enclave=/;')))
        except DDSException as exc:
            raise ParticipantError(participant_error(domain_id, range_, bool(static_peers),
                                                     exc)) from exc
        self.graph: Any = None
        self._graph_lock = threading.Lock()
        self._pub_reader = BuiltinDataReader(self.dp, BuiltinTopicDcpsPublication)
        self._sub_reader = BuiltinDataReader(self.dp, BuiltinTopicDcpsSubscription)

    def _count(self, reader: BuiltinDataReader, dds_topic: str) -> int:
        alive = ReadCondition(reader, SampleState.Any | ViewState.Any | InstanceState.Alive)
        try:
            with self._graph_lock:
                samples = reader.read(N=100_000, condition=alive)
        finally:
            alive.__del__()
        keys = {s.key for s in samples if getattr(s, 'topic_name', None) == dds_topic}
        return len(keys)

    def count_publishers(self, dds_topic: str) -> int:
        """Return how many writers (any process, this one included) exist on a DDS topic."""
        return self._count(self._pub_reader, dds_topic)

    def count_subscribers(self, dds_topic: str) -> int:
        """Return how many readers (any process, this one included) exist on a DDS topic."""
        return self._count(self._sub_reader, dds_topic)


_participants: Dict[int, Participant] = {}
_lock = threading.Lock()


def get_participant(domain_id: int) -> Participant:
    """Return (creating once) the participant for a domain."""
    with _lock:
        participant = _participants.get(domain_id)
        if participant is None:
            participant = Participant(domain_id)
            _participants[domain_id] = participant
        return participant


def delete_entity(entity: Any) -> None:
    """Delete a cyclonedds entity now (cyclonedds keeps a strong reference until ``__del__``)."""
    if entity is not None:
        entity.__del__()
