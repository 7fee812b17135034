"""near_failure_classifier: reps (and raw IMU) in, near-failure verdicts out (stage 2)."""

from __future__ import annotations

from typing import List, Optional

from rep_coach import topics
from rep_coach.core.types import RepEvent
from rep_coach.nodes.common import (declare_parameters, event_qos, guarded, imu_reader_qos,
                                    run_node, StartupError)
from rep_coach.nodes.imu_intake import ImuIntake
from rep_coach.pipeline import stage_factories, StageError
from rep_coach.runtime import Node
from rep_coach.runtime.msg import Imu, String


class NearFailureClassifierNode(Node):
    """Gives the classifier core raw IMU context and each rep; publishes ``near_failure``."""

    NODE_NAME = 'near_failure_classifier'

    def __init__(self) -> None:
        super().__init__(self.NODE_NAME)
        params = declare_parameters(self, self.NODE_NAME)
        try:
            _, make_classifier = stage_factories(params['model'], params['models_dir'],
                                                 threshold=params['threshold'])
        except StageError as exc:
            raise StartupError(f"parameter 'model' = {params['model']!r}: {exc}") from exc
        self.classifier = make_classifier()
        self.state_pub = self.create_publisher(String, topics.NEAR_FAILURE, event_qos())
        self.intake = ImuIntake(self)
        self.create_subscription(Imu, topics.IMU, guarded(self, 'IMU sample')(self.on_imu),
                                 imu_reader_qos())
        self.create_subscription(String, topics.REPS, guarded(self, 'rep event')(self.on_rep),
                                 event_qos())
        self.get_logger().info(f'classifying near-failure with the {params["model"]} model, '
                               f'threshold {params["threshold"]:.2f}')

    def on_imu(self, msg: Imu) -> None:
        """Keep the raw signal the classifier's learned features need."""
        self.intake.accept([msg], self.classifier.push, self.classifier.reset)

    def on_rep(self, msg: String) -> None:
        """Classify the rep just detected and publish the verdict."""
        rep = RepEvent.from_json(msg.data)
        state = self.classifier.on_rep(rep)
        out = String()
        out.data = state.to_json()
        self.state_pub.publish(out)
        if state.near_failure:
            rir = '' if state.rir is None else f', about {state.rir} in reserve'
            self.get_logger().info(f'set {state.set_index} rep {state.rep_index}: near failure '
                                   f'(p={state.probability:.2f}{rir})')

    def close(self) -> None:
        """Report the IMU problems still held back by the rate limit."""
        self.intake.close()


def main(args: Optional[List[str]] = None) -> None:
    """Run the near_failure_classifier node."""
    run_node(NearFailureClassifierNode, args)


if __name__ == '__main__':
    main()
