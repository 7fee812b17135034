"""ROS time: ``Clock``, ``Time`` and ``Duration`` with rclpy's attributes (system time only)."""

from __future__ import annotations

from enum import IntEnum
import time
from typing import Any, Tuple

_NS = 1_000_000_000


class ClockType(IntEnum):
    """Clock kinds, numbered as rcl."""

    UNINITIALIZED = 0
    ROS_TIME = 1
    SYSTEM_TIME = 2
    STEADY_TIME = 3


class Duration:
    """A signed span of time in nanoseconds."""

    def __init__(self, *, seconds: float = 0, nanoseconds: int = 0) -> None:
        self.nanoseconds = int(seconds * _NS) + int(nanoseconds)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Duration) and self.nanoseconds == other.nanoseconds

    def __lt__(self, other: 'Duration') -> bool:
        return self.nanoseconds < other.nanoseconds

    def __repr__(self) -> str:
        return f'Duration(nanoseconds={self.nanoseconds})'


class Time:
    """A point in time in nanoseconds since the epoch."""

    def __init__(self, *, seconds: float = 0, nanoseconds: int = 0,
                 clock_type: ClockType = ClockType.SYSTEM_TIME) -> None:
        self.nanoseconds = int(seconds * _NS) + int(nanoseconds)
        self.clock_type = clock_type

    def seconds_nanoseconds(self) -> Tuple[int, int]:
        """Return ``(seconds, nanoseconds)``."""
        return divmod(self.nanoseconds, _NS)

    def to_msg(self) -> Any:
        """Return a ``builtin_interfaces/Time`` message."""
        from .messages import message_class

        sec, nanosec = self.seconds_nanoseconds()
        return message_class('builtin_interfaces/msg/Time')(sec=sec, nanosec=nanosec)

    @classmethod
    def from_msg(cls, msg: Any, clock_type: ClockType = ClockType.ROS_TIME) -> 'Time':
        """Build from a ``builtin_interfaces/Time`` message."""
        return cls(seconds=msg.sec, nanoseconds=msg.nanosec, clock_type=clock_type)

    def __sub__(self, other: Any) -> Any:
        if isinstance(other, Time):
            return Duration(nanoseconds=self.nanoseconds - other.nanoseconds)
        return Time(nanoseconds=self.nanoseconds - other.nanoseconds,
                    clock_type=self.clock_type)

    def __add__(self, other: Duration) -> 'Time':
        return Time(nanoseconds=self.nanoseconds + other.nanoseconds, clock_type=self.clock_type)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Time) and self.nanoseconds == other.nanoseconds

    def __lt__(self, other: 'Time') -> bool:
        return self.nanoseconds < other.nanoseconds

    def __repr__(self) -> str:
        return f'Time(nanoseconds={self.nanoseconds}, clock_type={self.clock_type.name})'


class Clock:
    """A clock; ROS_TIME equals system time here (``use_sim_time`` is not supported)."""

    def __init__(self, *, clock_type: ClockType = ClockType.SYSTEM_TIME) -> None:
        self.clock_type = clock_type

    def now(self) -> Time:
        """Return the current time."""
        if self.clock_type == ClockType.STEADY_TIME:
            return Time(nanoseconds=time.monotonic_ns(), clock_type=self.clock_type)
        return Time(nanoseconds=time.time_ns(), clock_type=self.clock_type)
