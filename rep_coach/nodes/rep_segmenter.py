"""
rep_segmenter: IMU samples in, repetition events out (stage 1).

Reads ``imu/data_raw`` (sensor QoS) and publishes each rep on ``reps`` as JSON (its
start, end, features and the rep's IMU signal) as soon as the model decides it has
ended; ``imu/clock`` and ``diagnostics`` carry the IMU timeline and problems with the
samples, and the latched ``stage_info`` says which model ran.
"""

from __future__ import annotations

from typing import List, Optional

from rep_coach import topics
from rep_coach.nodes.common import (declare_parameters, event_qos, guarded, imu_reader_qos,
                                    publish_stage_info, run_node, StartupError)
from rep_coach.nodes.imu_intake import ImuIntake
from rep_coach.pipeline import segmenter_factory, StageError
from rep_coach.runtime import Node
from rep_coach.runtime.msg import Imu, String


class RepSegmenterNode(Node):
    """Feeds ``imu/data_raw`` to the segmenter core and publishes ``reps``."""

    NODE_NAME = 'rep_segmenter'

    def __init__(self) -> None:
        super().__init__(self.NODE_NAME)
        params = declare_parameters(self, self.NODE_NAME)
        try:
            make_segmenter = segmenter_factory(params['model'], params['models_dir'],
                                               set_rest_s=params['set_rest_s'])
        except StageError as exc:
            raise StartupError(exc.for_node(params)) from exc
        self.segmenter = make_segmenter()
        self.reps_pub = self.create_publisher(String, topics.REPS, event_qos())
        self.intake = ImuIntake(self)
        self.create_subscription(Imu, topics.IMU, guarded(self, 'IMU sample')(self.on_imu),
                                 imu_reader_qos())
        self.reps = 0
        # Latched: a bag recorded from here on says which model produced its reps.
        self.info_pub = publish_stage_info(self, make_segmenter.info)
        self.get_logger().info(f'segmenting reps with the {params["model"]} model'
                               f'{make_segmenter.info.file_text()}')

    def on_imu(self, msg: Imu) -> None:
        """Push one sample through the gate and the segmenter; publish decided reps."""
        self.intake.accept([msg], self._segment, self.segmenter.reset, self.segmenter.resume)

    def _segment(self, block) -> None:
        for rep in self.segmenter.push(block):
            out = String()
            out.data = rep.to_json()
            self.reps_pub.publish(out)
            self.reps += 1
            self.get_logger().info(
                f'set {rep.set_index} rep {rep.rep_index}: {rep.end - rep.start:.2f} s, '
                f'cue delay {rep.stamp - rep.end:.2f} s')

    def close(self) -> None:
        """Report the IMU problems still held back by the rate limit."""
        self.intake.close()


def main(args: Optional[List[str]] = None) -> None:
    """Run the rep_segmenter node."""
    run_node(RepSegmenterNode, args)


if __name__ == '__main__':
    main()
