"""
imu_publisher: `imu/data_raw` (REP-145) from a simulator, a file, a bag or an MPU-6050.

Labelled sources (the simulator, a thomas2025 set file) also publish their ground
truth on ``labels/reps`` once the samples of each rep have gone out, so a recorded
session carries its own labels for ``rep-coach evaluate BAG``.
"""

from __future__ import annotations

import time
from typing import List, Optional

from rep_coach import topics
from rep_coach.core.sim import SimConfig
from rep_coach.core.sources import open_source, Pacer, SourceError
from rep_coach.imu_msg import block_to_msgs
from rep_coach.nodes.common import (declare_parameters, diagnostic, diagnostics_publisher,
                                    ERROR, event_qos, guarded, qos_for, run_node, StartupError)
from rep_coach.runtime import Node, rclpy
from rep_coach.runtime.msg import Imu, String

#: Seconds between attempts to resume a live device (configured again) after a read error.
REOPEN_S = 1.0


class ImuPublisherNode(Node):
    """Paces a source onto ``imu/data_raw`` from a timer."""

    NODE_NAME = 'imu_publisher'

    def __init__(self) -> None:
        super().__init__(self.NODE_NAME)
        self.params = p = declare_parameters(self, self.NODE_NAME)
        self.accel_var = p['linear_acceleration_stddev'] ** 2
        self.gyro_var = p['angular_velocity_stddev'] ** 2
        self.source = self._open()
        self.imu_pub = self.create_publisher(Imu, topics.IMU, qos_for(topics.IMU))
        self.labels_pub = (self.create_publisher(String, topics.TRUE_REPS, event_qos())
                           if p['publish_labels'] else None)
        self.diag_pub = diagnostics_publisher(self)
        self.pacer: Optional[Pacer] = None
        self.created = time.monotonic()
        self.retry_at = 0.0
        self.published = 0
        self.finished = False
        self.timer = self.create_timer(1.0 / p['publish_rate_hz'],
                                       guarded(self, 'publish')(self.on_timer))
        self.get_logger().info(f'publishing {self.source.name} at {self.source.rate_hz:.1f} Hz '
                               f'on {topics.IMU} (frame {p["frame_id"]!r})')

    def _open(self):
        p = self.params
        sim = SimConfig(seed=p['sim_seed'], exercise=p['sim_exercise'], sets=p['sim_sets'],
                        rate_hz=p['sim_rate_hz'])
        mpu = {'bus': p['i2c_bus'], 'address': p['i2c_address'],
               'rate_hz': p['mpu6050_rate_hz'], 'accel_range_g': p['accel_range_g'],
               'gyro_range_dps': p['gyro_range_dps']}
        try:
            # A damaged bag source's recovery report is one line of this node's log,
            # not Python's warnings output (file:line and the offending source line).
            return open_source(p['source'], sim_defaults=sim, mpu_defaults=mpu,
                               on_warning=self.get_logger().warning)
        except SourceError as exc:
            raise StartupError(f"parameter 'source' = {p['source']!r}: {exc}") from exc

    def _ready(self) -> bool:
        """Whether to start: readers matched (if asked to wait) or the start delay passed."""
        waited = time.monotonic() - self.created
        wanted = self.params['wait_for_subscribers']
        if wanted and self.count_subscribers(topics.IMU) >= wanted:
            return True
        return waited >= self.params['start_delay_s']

    def on_timer(self) -> None:
        """Publish every sample (and label) due now."""
        if self.finished:
            return
        if self.pacer is None:
            if not self._ready() or time.monotonic() < self.retry_at:
                return
            epoch = self.get_clock().now().nanoseconds * 1e-9
            self.pacer = Pacer(self.source, speed=self.params['playback_speed'], epoch=epoch,
                               loop=self.params['loop'])
        try:
            due = self.pacer.due()
        except SourceError as exc:
            self._device_error(exc)
            return
        for msg in block_to_msgs(due.block, self.params['frame_id'], Imu, self.accel_var,
                                 self.gyro_var):
            self.imu_pub.publish(msg)
        self.published += len(due.block)
        for rep in due.reps if self.labels_pub is not None else ():
            out = String()
            out.data = rep.to_json()
            self.labels_pub.publish(out)
        if due.done:
            self._finish()

    def _device_error(self, exc: Exception) -> None:
        """Report a live device that failed mid-session; resume (reconfigured) after a pause."""
        self.get_logger().error(f'{self.source.name}: {exc}; retrying in {REOPEN_S:.0f} s')
        self.diag_pub.publish(diagnostic(self, ERROR, str(exc), {'source': self.source.name}))
        self.pacer = None
        self.retry_at = time.monotonic() + REOPEN_S

    def _finish(self) -> None:
        self.finished = True
        # Nothing more to publish: stop waking up publish_rate_hz times a second for nothing.
        self.timer.cancel()
        self.get_logger().info(f'{self.source.name} finished after {self.published} samples')
        if self.params['shutdown_when_done']:
            rclpy.try_shutdown()

    def close(self) -> None:
        """Release the file or device."""
        self.source.close()


def main(args: Optional[List[str]] = None) -> None:
    """Run the imu_publisher node."""
    run_node(ImuPublisherNode, args)


if __name__ == '__main__':
    main()
