"""
form_coach: camera frames in; landmarks, form events and form cues out.

Subscribes to ``image_raw`` (sensor_msgs/Image) and ``image_raw/compressed``
(sensor_msgs/CompressedImage) with keep-last-1 sensor QoS, so a slow pose model
always works on the newest frame instead of a growing backlog.  Its cues
("elbows up") go to ``form/cues``, which audio_feedback speaks and republishes on
``feedback`` like the IMU cues.
"""

from __future__ import annotations

import json
from typing import Any, Callable, List, Optional

import numpy as np

from rep_coach import topics
from rep_coach.image_msg import compressed_to_bgr, image_to_bgr
from rep_coach.imu_msg import stamp_to_seconds
from rep_coach.nodes.common import declare_parameters, event_qos, guarded, qos_for, run_node
from rep_coach.pose import FormCoach, FrameVerdict, PoseBackendUnavailable
from rep_coach.runtime import Node
from rep_coach.runtime.msg import CompressedImage, Image, String


class FormCoachNode(Node):
    """Runs the pose-based form coach on every frame it can keep up with."""

    NODE_NAME = 'form_coach'

    def __init__(self) -> None:
        super().__init__(self.NODE_NAME)
        self.params = declare_parameters(self, self.NODE_NAME)
        self.coach = FormCoach(self.params['exercise'], backend=self.params['backend'])
        self.landmarks_pub = self.create_publisher(String, topics.FORM_LANDMARKS,
                                                   qos_for(topics.FORM_LANDMARKS))
        self.events_pub = self.create_publisher(String, topics.FORM_EVENTS, event_qos())
        self.cues_pub = self.create_publisher(String, topics.FORM_CUES, event_qos())
        self.backend_failed = False
        self.create_subscription(Image, topics.IMAGE,
                                 guarded(self, 'image')(self._on(image_to_bgr)),
                                 qos_for(topics.IMAGE))
        self.create_subscription(CompressedImage, topics.IMAGE_COMPRESSED,
                                 guarded(self, 'compressed image')(self._on(compressed_to_bgr)),
                                 qos_for(topics.IMAGE_COMPRESSED))
        self.get_logger().info(f'judging {self.params["exercise"]} form with the '
                               f'{self.params["backend"]} pose backend')

    def _on(self, decode: Callable[[Any], np.ndarray]) -> Callable[[Any], None]:
        def callback(msg: Any) -> None:
            if self.backend_failed:
                return
            frame = decode(msg)
            try:
                verdict = self.coach.process(frame, stamp_to_seconds(msg.header.stamp))
            except PoseBackendUnavailable as exc:
                # Without the pose extra the node cannot judge; say so once, stay up.
                self.backend_failed = True
                self.get_logger().error(f'pose backend unavailable: {exc}')
                return
            self._publish(verdict)
        return callback

    def _publish(self, verdict: FrameVerdict) -> None:
        if self.params['publish_landmarks'] and verdict.pose is not None:
            pose = verdict.pose
            self.landmarks_pub.publish(_string(json.dumps({
                't': verdict.t, 'width': pose.width, 'height': pose.height,
                'image': np.round(pose.image, 4).tolist(),
                'world': np.round(pose.world, 4).tolist(),
                'visibility': np.round(pose.visibility, 3).tolist()})))
        if verdict.rep is not None or verdict.faults or verdict.status != 'ok':
            self.events_pub.publish(_string(json.dumps(verdict.to_dict())))
        for cue in verdict.cues:
            self.cues_pub.publish(_string(cue))
            self.get_logger().info(f'form cue: {cue}')

    def close(self) -> None:
        """Release the pose model."""
        self.coach.close()


def _string(text: str) -> String:
    msg = String()
    msg.data = text
    return msg


def main(args: Optional[List[str]] = None) -> None:
    """Run the form_coach node."""
    run_node(FormCoachNode, args)


if __name__ == '__main__':
    main()
