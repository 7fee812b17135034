"""CDR bytes of a message, as rosbag2 stores them, for either runtime backend."""

from typing import Any

from rep_coach.runtime import BACKEND

if BACKEND == 'rclpy':
    from rclpy.serialization import serialize_message  # noqa: F401
else:
    def serialize_message(msg: Any) -> bytes:
        """Serialise a generated DDS message: encapsulation header + XCDR1, as rosbag2."""
        return msg.serialize()
