"""
QoS profiles with rclpy's names, and their mapping onto Cyclone DDS QoS.

The mapping mirrors ``create_readwrite_qos`` in rmw_cyclonedds_cpp so that a node on this runtime
and a node on ROS 2 with rmw_cyclonedds negotiate exactly the same way: KEEP_LAST(depth) with the
system default depth meaning 1, KEEP_ALL unlimited, RELIABLE with infinite max-blocking time,
TRANSIENT_LOCAL with a durability service that keeps the history depth, autodispose off,
automatic liveliness. Every reader and writer carries ``typehash=RIHS01_...;`` in USER_DATA (the
Iron+ convention) and is restricted to XCDR1, the representation rmw_cyclonedds uses.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, Optional, Union

from cyclonedds.core import Policy, Qos
from cyclonedds.util import duration


class ReliabilityPolicy(IntEnum):
    """Reliability, numbered as rmw."""

    SYSTEM_DEFAULT = 0
    RELIABLE = 1
    BEST_EFFORT = 2
    UNKNOWN = 3
    BEST_AVAILABLE = 4


class HistoryPolicy(IntEnum):
    """History, numbered as rmw."""

    SYSTEM_DEFAULT = 0
    KEEP_LAST = 1
    KEEP_ALL = 2
    UNKNOWN = 3


class DurabilityPolicy(IntEnum):
    """Durability, numbered as rmw."""

    SYSTEM_DEFAULT = 0
    TRANSIENT_LOCAL = 1
    VOLATILE = 2
    UNKNOWN = 3
    BEST_AVAILABLE = 4


class LivelinessPolicy(IntEnum):
    """Liveliness, numbered as rmw."""

    SYSTEM_DEFAULT = 0
    AUTOMATIC = 1
    MANUAL_BY_TOPIC = 3
    UNKNOWN = 4


class InvalidQoSProfileException(ValueError):
    """A QoS profile cannot be built or mapped."""


def _seconds(value: Any) -> Optional[float]:
    # rclpy takes rclpy.duration.Duration; accept that (nanoseconds) or plain seconds.
    if value is None:
        return None
    if hasattr(value, 'nanoseconds'):
        return value.nanoseconds / 1e9
    return float(value)


class QoSProfile:
    """A QoS profile; keyword arguments and defaults as rclpy.qos.QoSProfile."""

    def __init__(self, **kwargs: Any) -> None:
        if 'history' not in kwargs and 'depth' not in kwargs:
            raise InvalidQoSProfileException('History and/or depth settings are required.')
        self.history = HistoryPolicy(kwargs.get('history', HistoryPolicy.KEEP_LAST))
        self.depth = int(kwargs.get('depth', 0))
        self.reliability = ReliabilityPolicy(
            kwargs.get('reliability', ReliabilityPolicy.RELIABLE))
        self.durability = DurabilityPolicy(kwargs.get('durability', DurabilityPolicy.VOLATILE))
        self.liveliness = LivelinessPolicy(
            kwargs.get('liveliness', LivelinessPolicy.SYSTEM_DEFAULT))
        self.lifespan = kwargs.get('lifespan')
        self.deadline = kwargs.get('deadline')
        self.liveliness_lease_duration = kwargs.get('liveliness_lease_duration')
        self.avoid_ros_namespace_conventions = bool(
            kwargs.get('avoid_ros_namespace_conventions', False))

    def __eq__(self, other: object) -> bool:
        return isinstance(other, QoSProfile) and vars(self) == vars(other)

    def __repr__(self) -> str:
        return (f'QoSProfile(history={self.history.name}, depth={self.depth}, '
                f'reliability={self.reliability.name}, durability={self.durability.name})')


qos_profile_sensor_data = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=5, reliability=ReliabilityPolicy.BEST_EFFORT,
    durability=DurabilityPolicy.VOLATILE)
qos_profile_system_default = QoSProfile(
    history=HistoryPolicy.SYSTEM_DEFAULT, reliability=ReliabilityPolicy.SYSTEM_DEFAULT,
    durability=DurabilityPolicy.SYSTEM_DEFAULT)
qos_profile_parameters = QoSProfile(depth=1000)


def as_profile(qos: Union[QoSProfile, int]) -> QoSProfile:
    """Accept a profile or, as rclpy does, an int history depth (KEEP_LAST)."""
    if isinstance(qos, QoSProfile):
        return qos
    if isinstance(qos, int) and not isinstance(qos, bool):
        if qos < 0:
            raise InvalidQoSProfileException(f'history depth must be >= 0, got {qos}')
        return QoSProfile(depth=qos)
    raise TypeError(f'qos_profile must be a QoSProfile or an int depth, got {qos!r}')


def to_dds_qos(profile: QoSProfile, type_hash: str) -> Qos:
    """Build the Cyclone QoS for a reader or writer as rmw_cyclonedds does."""
    policies = [Policy.WriterDataLifecycle(autodispose=False)]
    if profile.history == HistoryPolicy.KEEP_ALL:
        history = Policy.History.KeepAll
    elif profile.history in (HistoryPolicy.KEEP_LAST, HistoryPolicy.SYSTEM_DEFAULT):
        depth = profile.depth if profile.depth > 0 else 1
        history = Policy.History.KeepLast(depth)
    else:
        raise InvalidQoSProfileException(f'unsupported history {profile.history!r}')
    policies.append(history)

    if profile.reliability == ReliabilityPolicy.BEST_EFFORT:
        policies.append(Policy.Reliability.BestEffort)
    elif profile.reliability in (ReliabilityPolicy.RELIABLE, ReliabilityPolicy.SYSTEM_DEFAULT):
        policies.append(Policy.Reliability.Reliable(max_blocking_time=duration(infinite=True)))
    else:
        # BEST_AVAILABLE needs endpoint discovery before creation; not supported here.
        raise InvalidQoSProfileException(f'unsupported reliability {profile.reliability!r}')

    if profile.durability == DurabilityPolicy.TRANSIENT_LOCAL:
        policies.append(Policy.Durability.TransientLocal)
        # Cyclone keeps late-joiner history per the durability service, not the history QoS.
        policies.append(Policy.DurabilityService(
            cleanup_delay=0, history=history, max_samples=-1, max_instances=-1,
            max_samples_per_instance=-1))
    elif profile.durability in (DurabilityPolicy.VOLATILE, DurabilityPolicy.SYSTEM_DEFAULT):
        policies.append(Policy.Durability.Volatile)
    else:
        raise InvalidQoSProfileException(f'unsupported durability {profile.durability!r}')

    lifespan = _seconds(profile.lifespan)
    if lifespan:
        policies.append(Policy.Lifespan(duration(seconds=lifespan)))
    deadline = _seconds(profile.deadline)
    if deadline:
        policies.append(Policy.Deadline(duration(seconds=deadline)))
    lease = _seconds(profile.liveliness_lease_duration)
    lease_ns = duration(seconds=lease) if lease else duration(infinite=True)
    if profile.liveliness == LivelinessPolicy.MANUAL_BY_TOPIC:
        policies.append(Policy.Liveliness.ManualByTopic(lease_duration=lease_ns))
    else:
        policies.append(Policy.Liveliness.Automatic(lease_duration=lease_ns))

    policies.append(Policy.DataRepresentation(use_cdrv0_representation=True))
    policies.append(Policy.Userdata(data=f'typehash={type_hash};'.encode('ascii')))
    return Qos(*policies)
