"""
Offered QoS profiles as rosbag2 stores them.

Callers describe a topic's offered QoS in whatever form they hold: a
:class:`~rep_coach.qos.QosSpec` (the plain description, re-exported here), a
preset name (``'sensor_data'``, ``'reliable'``), a dict, an rclpy-style
``QoSProfile`` (also the runtime's), or a ``rosbags`` ``Qos``.
:func:`to_rosbags_qos` normalises all of them to ``rosbags.interfaces.Qos``, which
the writer serialises in the bag version's format (see ``rep_coach.bagio``).
"""

from __future__ import annotations

from typing import Any, List, Mapping, Sequence

from rep_coach.qos import QosSpec
from rep_coach.topics import EVENT_QOS, LATCHED_QOS, SENSOR_QOS
from rosbags.interfaces import Qos

#: Named presets a bag's writer may give for a topic's offered QoS; the topics' own
#: are those of :mod:`rep_coach.topics`, the one definition the nodes use too.
PRESETS: Mapping[str, QosSpec] = {
    'sensor_data': SENSOR_QOS,
    'reliable': QosSpec('reliable', 'volatile', 'keep_last', 10),
    'events': EVENT_QOS,
    'latched': LATCHED_QOS,
}


def _policy_name(value: Any) -> str:
    """Name of an rclpy/runtime enum member, a string, or a rosbags enum, lower case."""
    name = getattr(value, 'name', value)
    return str(name).lower()


def to_rosbags_qos(desc: Any) -> List[Qos]:
    """
    Normalise an offered QoS description to a list of ``rosbags`` Qos.

    ``desc`` may be None (no QoS recorded), a preset name, a :class:`QosSpec`, a
    dict with QosSpec's fields, an rclpy-style ``QoSProfile``, a ``rosbags`` Qos,
    or a list of these (one per publisher, as ``ros2 bag record`` stores them).
    """
    if desc is None:
        return []
    if isinstance(desc, Qos):
        return [desc]
    if isinstance(desc, QosSpec):
        return [desc.to_rosbags()]
    if isinstance(desc, str):
        if desc not in PRESETS:
            raise ValueError(f'unknown QoS preset {desc!r}; expected one of {sorted(PRESETS)}')
        return [PRESETS[desc].to_rosbags()]
    if isinstance(desc, Mapping):
        return [QosSpec(**dict(desc)).to_rosbags()]
    if isinstance(desc, Sequence):
        return [q for item in desc for q in to_rosbags_qos(item)]
    if all(hasattr(desc, a) for a in ('reliability', 'durability', 'history', 'depth')):
        # rclpy QoSProfile and the runtime's lookalike: enum members with names.
        return [QosSpec(reliability=_policy_name(desc.reliability),
                        durability=_policy_name(desc.durability),
                        history=_policy_name(desc.history),
                        depth=int(desc.depth)).to_rosbags()]
    raise TypeError(f'cannot interpret {desc!r} as an offered QoS profile')
