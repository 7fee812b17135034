"""
near_failure_classifier: reps in, near-failure verdicts out (stage 2).

The node reads only ``reps``: each rep event carries what the classifier needs
(the per-rep features and the rep's raw IMU signal, cut by the segmenter), so it
is not woken by the 100 Hz ``imu/data_raw`` stream.  Each rep's verdict (near
failure or not, its probability and the reps in reserve) goes out on
``near_failure`` as JSON; the latched ``stage_info`` says which model ran.
"""

from __future__ import annotations

from typing import List, Optional

from rep_coach import topics
from rep_coach.core.types import RepEvent
from rep_coach.nodes.common import (declare_parameters, event_qos, guarded, publish_stage_info,
                                    run_node, StartupError)
from rep_coach.pipeline import classifier_factory, StageError
from rep_coach.runtime import Node
from rep_coach.runtime.msg import String


class NearFailureClassifierNode(Node):
    """Gives each rep to the classifier core and publishes ``near_failure``."""

    NODE_NAME = 'near_failure_classifier'

    def __init__(self) -> None:
        super().__init__(self.NODE_NAME)
        params = declare_parameters(self, self.NODE_NAME)
        try:
            make_classifier = classifier_factory(params['model'], params['models_dir'],
                                                 threshold=params['threshold'])
        except StageError as exc:
            raise StartupError(exc.for_node(params)) from exc
        self.classifier = make_classifier()
        self.state_pub = self.create_publisher(String, topics.NEAR_FAILURE, event_qos())
        self.create_subscription(String, topics.REPS, guarded(self, 'rep event')(self.on_rep),
                                 event_qos())
        # Latched: a bag recorded from here on says which model and threshold decided.
        self.info_pub = publish_stage_info(self, make_classifier.info)
        self.get_logger().info(f'classifying near-failure with the {params["model"]} model'
                               f'{make_classifier.info.file_text()}, '
                               f'threshold {params["threshold"]:.2f}')

    def on_rep(self, msg: String) -> None:
        """Classify the rep just detected and publish the verdict."""
        rep = RepEvent.from_json(msg.data)
        state = self.classifier.on_rep(rep)
        if self.classifier.reps_without_signal == 1 and rep.signal is None:
            self.get_logger().warning(
                f'set {rep.set_index} rep {rep.rep_index}: the rep event carries no raw '
                'signal (a segmenter or bag from before events carried one); classified '
                'on a zero signal, further ones are counted and reported at shutdown')
        out = String()
        out.data = state.to_json()
        self.state_pub.publish(out)
        if state.near_failure:
            rir = '' if state.rir is None else f', about {state.rir} in reserve'
            self.get_logger().info(f'set {state.set_index} rep {state.rep_index}: near failure '
                                   f'(p={state.probability:.2f}{rir})')

    def close(self) -> None:
        """Report how many reps were classified without the signal the classifier uses."""
        missing = self.classifier.reps_without_signal
        if missing > 1:
            self.get_logger().warning(f'{missing} rep events carried no raw signal and were '
                                      'classified on a zero signal')


def main(args: Optional[List[str]] = None) -> None:
    """Run the near_failure_classifier node."""
    run_node(NearFailureClassifierNode, args)


if __name__ == '__main__':
    main()
