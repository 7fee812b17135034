"""
QoS policies as plain data: one description for the nodes, the bags and the CLIs.

A :class:`QosSpec` names the four policies rep_coach sets (reliability, durability,
history and its depth); durations stay at the middleware default.  It imports
neither rclpy nor the runtime, so the bag code (``rep_coach.bagio``) can describe a
topic's offered QoS with it, and the nodes turn the same description into a
runtime ``QoSProfile`` (:meth:`QosSpec.to_runtime`).  Each topic's
QoS is in :mod:`rep_coach.topics`.  The ``rosbags`` form is built on demand
(``rosbags`` is imported only then), for the bag metadata.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

#: The policy names a QosSpec accepts, per field: the lower-case names of the enum
#: members of rclpy, the runtime and ``rosbags`` alike.
POLICY_NAMES: Dict[str, Tuple[str, ...]] = {
    'reliability': ('reliable', 'best_effort', 'system_default'),
    'durability': ('volatile', 'transient_local', 'system_default'),
    'history': ('keep_last', 'keep_all', 'system_default'),
}


@dataclass(frozen=True)
class QosSpec:
    """The QoS policies rep_coach uses; durations stay at the middleware default."""

    reliability: str = 'reliable'     # 'reliable' | 'best_effort'
    durability: str = 'volatile'      # 'volatile' | 'transient_local'
    history: str = 'keep_last'        # 'keep_last' | 'keep_all'
    depth: int = 10

    def __post_init__(self) -> None:
        for field, names in POLICY_NAMES.items():
            if getattr(self, field) not in names:
                raise ValueError(f'QosSpec.{field}={getattr(self, field)!r}; '
                                 f'expected one of {sorted(names)}')
        if int(self.depth) < 0:
            raise ValueError(f'QosSpec.depth={self.depth!r} must be >= 0')

    def to_runtime(self, runtime: Any, depth: Optional[int] = None) -> Any:
        """
        Return ``runtime.QoSProfile`` of these policies; ``depth`` replaces the depth.

        ``runtime`` is :mod:`rep_coach.runtime` (or rclpy): any module with
        ``QoSProfile`` and the three policy enums.  Passed in rather than imported,
        so this module stays free of the runtime (the bag code uses it).
        """
        return runtime.QoSProfile(
            history=runtime.HistoryPolicy[self.history.upper()],
            depth=self.depth if depth is None else depth,
            reliability=runtime.ReliabilityPolicy[self.reliability.upper()],
            durability=runtime.DurabilityPolicy[self.durability.upper()])

    def to_rosbags(self) -> Any:
        """Return the ``rosbags.interfaces.Qos`` form (what a bag's metadata stores)."""
        from rosbags.interfaces import Qos, QosLiveliness, QosTime
        enums = _rosbags_enums()
        # rmw's "unspecified" duration: the middleware default (infinite) deadline,
        # lifespan and lease.  Humble's player passes it through untouched, whereas the
        # "infinite" sentinel some recorders write has tripped DDS vendors in the past.
        default_time = QosTime(0, 0)
        return Qos(enums['history'][self.history.upper()], int(self.depth),
                   enums['reliability'][self.reliability.upper()],
                   enums['durability'][self.durability.upper()], default_time, default_time,
                   QosLiveliness.AUTOMATIC, default_time, False)

    @classmethod
    def from_rosbags(cls, qos: Any) -> 'QosSpec':
        """Return the policies of a ``rosbags`` Qos (unknown values fall back to defaults)."""
        enums = _rosbags_enums()

        def name(field: str) -> str:
            value = getattr(qos, field)
            known = (n for n in POLICY_NAMES[field] if enums[field][n.upper()] == value)
            return next(known, getattr(cls, field))
        return cls(reliability=name('reliability'), durability=name('durability'),
                   history=name('history'), depth=int(qos.depth))


def _rosbags_enums() -> Dict[str, Any]:
    """Return the ``rosbags`` enum of each policy field (imported only when asked)."""
    from rosbags.interfaces import QosDurability, QosHistory, QosReliability
    return {'reliability': QosReliability, 'durability': QosDurability, 'history': QosHistory}
