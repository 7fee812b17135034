"""
session_recorder: records the session's topics as a rosbag2 (MCAP) where ROS is absent.

With ROS 2 the launch file runs ``ros2 bag record -s mcap`` instead.  The bag is
owner-only (0700 directory, 0600 files) and crash-safe: the open MCAP file is
appended to and synced every ``flush_interval_s`` and a killed recorder loses at
most that much; a new file is begun every ``max_file_duration_s`` or
``max_file_size_mb`` (docs/bags.md).  A recorder that cannot write (unwritable
directory, disk full) says so clearly; the other nodes, and so the coaching, go on.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

from rep_coach import topics as topic_names
from rep_coach.bag_names import bag_name_candidates, default_bag_name
from rep_coach.bagio import BagError, BagExistsError, BagRecorder
from rep_coach.core.params import ParameterError
from rep_coach.nodes.common import (declare_parameters, diagnostic, diagnostics_publisher,
                                    ERROR, guarded, qos_for, run_node, StartupError)
from rep_coach.nodes.serialization import serialize_message
from rep_coach.ros_names import join_name
from rep_coach.runtime import Node, QoSProfile
from rep_coach.runtime.msg import DiagnosticArray, Imu, String

#: Reader history of the recorder: a flush (append + fdatasync, a file rotation) may stall it
#: for tens of milliseconds, which a keep-last-5 sensor queue would not survive at 100 Hz.
RECORDER_DEPTH = 1000

MESSAGE_CLASSES: Dict[str, Any] = {
    'sensor_msgs/msg/Imu': Imu,
    'std_msgs/msg/String': String,
    'diagnostic_msgs/msg/DiagnosticArray': DiagnosticArray,
}


def recorder_qos(topic: str) -> QoSProfile:
    """Return the topic's own reliability (so it matches its writer) with a deep history."""
    return qos_for(topic, RECORDER_DEPTH)


class SessionRecorderNode(Node):
    """Subscribes to the session topics and writes every message to the bag."""

    NODE_NAME = 'session_recorder'

    def __init__(self) -> None:
        super().__init__(self.NODE_NAME)
        params = declare_parameters(self, self.NODE_NAME)
        unknown = [t for t in params['topics'] if t not in topic_names.TOPIC_TYPES]
        if unknown:
            raise ParameterError(self.get_name(), 'topics', params['topics'],
                                 f'unknown topics {unknown}; known: '
                                 f'{sorted(topic_names.TOPIC_TYPES)}')
        namespace = self.get_namespace().rstrip('/')
        # The offered QoS the bag stores is the one the nodes' writers use.
        specs = {join_name(namespace, topic): (topic_names.TOPIC_TYPES[topic],
                                               topic_names.topic_qos(topic))
                 for topic in params['topics']}
        bag_dir = Path(params['bag_dir']).expanduser()
        # A generated name holds the station, and is numbered when taken (two stations, or
        # a respawn, in the same second); a bag_name the user chose is never overwritten.
        names = ([params['bag_name']] if params['bag_name']
                 else list(bag_name_candidates(default_bag_name(namespace))))
        for number, name in enumerate(names, 1):
            self.path = bag_dir / name
            try:
                # The namespace lets `rep-coach play --namespace` replay onto another station.
                self.recorder = BagRecorder(
                    self.path, specs, params['flush_interval_s'], serialize=serialize_message,
                    custom_data={'namespace': namespace or '/'},
                    max_file_size=params['max_file_size_mb'] * 2**20,
                    max_file_duration_s=params['max_file_duration_s'])
                break
            except BagExistsError as exc:
                if number == len(names):
                    raise StartupError(f'cannot record the session: {exc}') from exc
            except (BagError, OSError) as exc:
                raise StartupError(f'cannot record the session: {exc}') from exc
        self.failed_reported = False
        self.diag_pub = diagnostics_publisher(self)
        for topic in params['topics']:
            full = join_name(namespace, topic)
            msg_class = MESSAGE_CLASSES[topic_names.TOPIC_TYPES[topic]]
            self.create_subscription(
                msg_class, topic,
                guarded(self, f'recording {topic}')(lambda msg, full=full: self.on_msg(full,
                                                                                       msg)),
                # rclpy API: hand over the CDR bytes as received, so nothing is deserialised
                # and serialised again; a runtime without it passes messages (serialised here).
                recorder_qos(topic), raw=True)
        self.create_timer(params['flush_interval_s'] / 2, guarded(self, 'flush')(self.on_timer))
        self.get_logger().info(f'recording {len(specs)} topics to {self.path} '
                               f'(flush every {params["flush_interval_s"]:.1f} s, new file '
                               f'every {params["max_file_duration_s"]:g} s or '
                               f'{params["max_file_size_mb"]} MiB)')

    def on_msg(self, topic: str, msg: Any) -> None:
        """
        Write one message (CDR bytes or a message) stamped with its reception time.

        Reception time is what ``ros2 bag record`` stamps with too.
        """
        stamp_ns = self.get_clock().now().nanoseconds
        try:
            written = self.recorder.write(topic, stamp_ns, msg)
        except BagError:  # raised once, at the failure itself (e.g. disk full)
            written = False
        if not written and not self.failed_reported:
            self._report_failure()

    def on_timer(self) -> None:
        """Flush what waits for a flush when messages stop arriving."""
        try:
            self.recorder.flush_if_due()
        except BagError:  # raised once, at the failure itself (e.g. disk full)
            pass
        if self.recorder.failed is not None and not self.failed_reported:
            self._report_failure()

    def _report_failure(self) -> None:
        self.failed_reported = True
        error = self.recorder.failed
        text = f'recording stopped: {error}' if error else 'recording stopped'
        self.get_logger().error(f'{text}; everything flushed before is kept in {self.path}; '
                                'coaching goes on')
        self.diag_pub.publish(diagnostic(self, ERROR, text, {'bag': str(self.path)}))

    def close(self) -> None:
        """Flush and finalise the bag."""
        try:
            self.recorder.close()
        except BagError as exc:
            self.get_logger().error(f'closing {self.path}: {exc}')
            return
        stats = self.recorder.stats
        self.get_logger().info(f'bag closed: {self.path} ({stats.flushed} messages in '
                               f'{stats.files} file(s), {stats.dropped} dropped)')


def main(args: Optional[List[str]] = None) -> None:
    """Run the session_recorder node."""
    run_node(SessionRecorderNode, args)


if __name__ == '__main__':
    main()
