"""
audio_feedback: reps and near-failure verdicts in; spoken or tone cues and `feedback` out.

Reads ``reps``, ``near_failure``, ``form/cues`` and ``imu/clock`` (the data timeline
that ends a set after ``set_rest_s`` without reps), runs the coaching policy, plays each
cue on the ``sink`` without blocking, and publishes its text on ``feedback``.
"""

from __future__ import annotations

import time
from typing import List, Optional

from rep_coach import topics
from rep_coach.audio import build_player
from rep_coach.core.coaching import CoachingConfig, CoachingPolicy, Cue, form_cue
from rep_coach.core.data_clock import DataClock
from rep_coach.core.types import NearFailureState, RepEvent
from rep_coach.imu_msg import stamp_to_seconds
from rep_coach.nodes.common import (declare_parameters, event_qos, guarded,
                                    publish_safely, qos_for, run_node, StartupError)
from rep_coach.runtime import Node
from rep_coach.runtime.msg import Header, String

#: Period of the timer that ends rested sets and applies verdicts whose rep was lost.
TICK_S = 0.1


class AudioFeedbackNode(Node):
    """Runs the coaching policy; publishes every cue as text and plays it without blocking."""

    NODE_NAME = 'audio_feedback'

    def __init__(self) -> None:
        super().__init__(self.NODE_NAME)
        params = declare_parameters(self, self.NODE_NAME)
        self.policy = CoachingPolicy(CoachingConfig(
            target_rir=params['target_rir'], set_rest_s=params['set_rest_s'],
            rep_cue=params['rep_cue'], confidence=params['confidence']))
        # Problems with the sound device or espeak-ng are warnings: text still flows.  A
        # sink that cannot exist at all (a wav: directory that cannot be made) is fatal.
        try:
            self.player = build_player(sink=params['sink'], voice=params['voice'],
                                       rate=params['speech_rate'],
                                       volume=params['volume'] / 100.0,
                                       tone_hz=params['tone_hz'], logger=self.get_logger(),
                                       phrases=self.policy.fixed_phrases())
        except ValueError as exc:
            raise StartupError(f"parameter 'sink' = {params['sink']!r}: {exc}") from exc
        self.clock = DataClock()
        self.feedback_pub = self.create_publisher(String, topics.FEEDBACK, event_qos())
        self.create_subscription(String, topics.REPS, guarded(self, 'rep event')(self.on_rep),
                                 event_qos())
        self.create_subscription(String, topics.NEAR_FAILURE,
                                 guarded(self, 'near-failure state')(self.on_state), event_qos())
        self.create_subscription(String, topics.FORM_CUES,
                                 guarded(self, 'form cue')(self.on_form_cue), event_qos())
        # Rests are measured in data time, the IMU's timeline.  imu/clock carries it a few
        # times per data second (see ImuIntake); the 100 Hz samples themselves would cost
        # this node a wake-up each for nothing else.  Event stamps advance it too.
        self.create_subscription(Header, topics.IMU_CLOCK,
                                 guarded(self, 'IMU clock')(self.on_clock),
                                 qos_for(topics.IMU_CLOCK))
        self.create_timer(TICK_S, guarded(self, 'tick')(self.on_tick))
        self.get_logger().info(f'coaching to {params["target_rir"]} rep(s) in reserve; '
                               f'audio sink {params["sink"]!r}')

    def _now(self, fallback: float) -> float:
        now = self.clock.now(time.monotonic())
        return fallback if now is None else now

    def on_clock(self, msg: Header) -> None:
        """Advance the data clock."""
        self.clock.observe(stamp_to_seconds(msg.stamp), time.monotonic())

    def on_rep(self, msg: String) -> None:
        """Count a detected rep."""
        rep = RepEvent.from_json(msg.data)
        self.clock.observe(rep.stamp, time.monotonic())
        self._emit(self.policy.on_rep(rep, self._now(rep.stamp)))

    def on_state(self, msg: String) -> None:
        """Warn or stop when a near-failure verdict makes it due."""
        state = NearFailureState.from_json(msg.data)
        self.clock.observe(state.stamp, time.monotonic())
        self._emit(self.policy.on_near_failure(state, self._now(state.stamp)))

    def on_form_cue(self, msg: String) -> None:
        """Speak a camera form cue ("elbows up") through the same path as the IMU cues."""
        now = self._now(self.get_clock().now().nanoseconds * 1e-9)
        cue = form_cue(msg.data, now, self.policy.set_index)
        if cue is not None:     # an empty cue says nothing: neither spoken nor published
            self._emit([cue])

    def on_tick(self) -> None:
        """End a rested set with its summary."""
        now = self.clock.now(time.monotonic())
        if now is not None:
            self._emit(self.policy.tick(now))

    def _emit(self, cues: List[Cue], note: str = '') -> None:
        for cue in cues:
            self.player.play(cue)
            out = String()
            out.data = cue.text
            if note:
                note_out = note + publish_safely(self.feedback_pub, out)
            else:
                self.feedback_pub.publish(out)
                note_out = ''
            self.get_logger().info(f'cue [{cue.kind}]: {cue.text}{note_out}')

    def close(self) -> None:
        """Summarise a set still in progress (spoken and published) and let it finish."""
        now = self.clock.now(time.monotonic())
        if now is not None:
            # After Ctrl-C the middleware may already be down; the cue is still spoken.
            self._emit(self.policy.flush(now), note=' (at shutdown)')
        if self.clock.ignored:
            self.get_logger().warning(f'ignored {self.clock.ignored} stamps off the data '
                                      'timeline (non-finite, or a lone jump)')
        self.player.close()


def main(args: Optional[List[str]] = None) -> None:
    """Run the audio_feedback node."""
    run_node(AudioFeedbackNode, args)


if __name__ == '__main__':
    main()
