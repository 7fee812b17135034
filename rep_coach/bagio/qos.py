"""Offered QoS profiles as rosbag2 stores them.

Callers describe a topic's offered QoS in whatever form they hold: a
:class:`QosSpec`, a preset name (``'sensor_data'``, ``'reliable'``), a dict, an
rclpy-style ``QoSProfile`` (also the runtime's), or a ``rosbags`` ``Qos``.
:func:`to_rosbags_qos` normalises all of them to ``rosbags.interfaces.Qos``, which
the writer serialises in the bag version's format (see ``rep_coach.bagio``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Mapping, Sequence

from rosbags.interfaces import (
    Qos,
    QosDurability,
    QosHistory,
    QosLiveliness,
    QosReliability,
    QosTime,
)

# rmw's "unspecified" duration: the middleware default (infinite) deadline,
# lifespan and lease.  Humble's player passes it through untouched, whereas the
# "infinite" sentinel some recorders write has tripped DDS vendors in the past.
_DEFAULT_TIME = QosTime(0, 0)

_RELIABILITY = {'reliable': QosReliability.RELIABLE,
                'best_effort': QosReliability.BEST_EFFORT,
                'system_default': QosReliability.SYSTEM_DEFAULT}
_DURABILITY = {'volatile': QosDurability.VOLATILE,
               'transient_local': QosDurability.TRANSIENT_LOCAL,
               'system_default': QosDurability.SYSTEM_DEFAULT}
_HISTORY = {'keep_last': QosHistory.KEEP_LAST,
            'keep_all': QosHistory.KEEP_ALL,
            'system_default': QosHistory.SYSTEM_DEFAULT}


@dataclass(frozen=True)
class QosSpec:
    """The QoS policies rep_coach uses; durations stay at the middleware default."""

    reliability: str = 'reliable'     # 'reliable' | 'best_effort'
    durability: str = 'volatile'      # 'volatile' | 'transient_local'
    history: str = 'keep_last'        # 'keep_last' | 'keep_all'
    depth: int = 10

    def __post_init__(self) -> None:
        for field, table in (('reliability', _RELIABILITY), ('durability', _DURABILITY),
                             ('history', _HISTORY)):
            if getattr(self, field) not in table:
                raise ValueError(f'QosSpec.{field}={getattr(self, field)!r}; '
                                 f'expected one of {sorted(table)}')
        if int(self.depth) < 0:
            raise ValueError(f'QosSpec.depth={self.depth!r} must be >= 0')

    def to_rosbags(self) -> Qos:
        """Return the ``rosbags`` form."""
        return Qos(_HISTORY[self.history], int(self.depth), _RELIABILITY[self.reliability],
                   _DURABILITY[self.durability], _DEFAULT_TIME, _DEFAULT_TIME,
                   QosLiveliness.AUTOMATIC, _DEFAULT_TIME, False)

    @classmethod
    def from_rosbags(cls, qos: Qos) -> 'QosSpec':
        """Return the policies of a ``rosbags`` Qos (unknown values fall back to defaults)."""
        def name(value: Any, table: Mapping[str, Any], default: str) -> str:
            return next((k for k, v in table.items() if v == value), default)
        return cls(reliability=name(qos.reliability, _RELIABILITY, 'reliable'),
                   durability=name(qos.durability, _DURABILITY, 'volatile'),
                   history=name(qos.history, _HISTORY, 'keep_last'),
                   depth=int(qos.depth))


#: Presets matching docs/ARCHITECTURE.md's topic table.
PRESETS: Mapping[str, QosSpec] = {
    'sensor_data': QosSpec('best_effort', 'volatile', 'keep_last', 5),
    'reliable': QosSpec('reliable', 'volatile', 'keep_last', 10),
    'events': QosSpec('reliable', 'volatile', 'keep_last', 100),
    'latched': QosSpec('reliable', 'transient_local', 'keep_last', 1),
}


def _policy_name(value: Any) -> str:
    """Name of an rclpy/runtime enum member, a string, or a rosbags enum, lower case."""
    name = getattr(value, 'name', value)
    return str(name).lower()


def to_rosbags_qos(desc: Any) -> List[Qos]:
    """Normalise an offered QoS description to a list of ``rosbags`` Qos.

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
