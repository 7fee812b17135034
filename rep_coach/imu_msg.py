"""
Conversion between ImuBlock and sensor_msgs/Imu (REP-145), for any message backend.

Works on rclpy messages, on the DDS fallback's generated classes and on messages
deserialized by ``rosbags``, because it only touches the standard field names.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable, List

import numpy as np

from rep_coach.core.types import ImuBlock


def stamp_to_seconds(stamp: Any) -> float:
    """Return a builtin_interfaces/Time as float seconds."""
    return float(stamp.sec) + float(stamp.nanosec) * 1e-9


def seconds_to_stamp(seconds: float, stamp: Any) -> None:
    """Write float seconds into a builtin_interfaces/Time in place."""
    ns = int(round(seconds * 1e9))
    stamp.sec, stamp.nanosec = divmod(ns, 1_000_000_000)


def block_to_msgs(block: ImuBlock, frame_id: str, make_msg: Callable[[], Any],
                  accel_var: float = 0.0, gyro_var: float = 0.0) -> List[Any]:
    """
    Build one Imu message per sample.

    REP-145: no orientation is estimated, so ``orientation_covariance[0] = -1``;
    covariances are diagonal variances, 0 meaning unknown.
    """
    msgs = []
    for i in range(len(block)):
        msg = make_msg()
        seconds_to_stamp(float(block.t[i]), msg.header.stamp)
        msg.header.frame_id = frame_id
        msg.orientation_covariance[0] = -1.0
        acc, gyr = block.accel[i], block.gyro[i]
        lin, ang = msg.linear_acceleration, msg.angular_velocity
        lin.x, lin.y, lin.z = float(acc[0]), float(acc[1]), float(acc[2])
        ang.x, ang.y, ang.z = float(gyr[0]), float(gyr[1]), float(gyr[2])
        for k in (0, 4, 8):
            msg.linear_acceleration_covariance[k] = accel_var
            msg.angular_velocity_covariance[k] = gyro_var
        msgs.append(msg)
    return msgs


def msgs_to_block(msgs: Iterable[Any]) -> ImuBlock:
    """Collect Imu messages into an ImuBlock (no validation: see SampleGate)."""
    rows = [(stamp_to_seconds(m.header.stamp),
             m.linear_acceleration.x, m.linear_acceleration.y, m.linear_acceleration.z,
             m.angular_velocity.x, m.angular_velocity.y, m.angular_velocity.z) for m in msgs]
    if not rows:
        return ImuBlock.empty()
    data = np.asarray(rows, dtype=np.float64)
    return ImuBlock(data[:, 0], data[:, 1:4], data[:, 4:7])
