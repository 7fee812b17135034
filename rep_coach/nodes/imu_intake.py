"""
Incoming IMU messages -> clean ImuBlocks, with counted warnings and diagnostics.

Reporting: the first problem is reported at once (one counted warning in the log
and one ``diagnostics`` message); later ones are summed and reported at most every
``report_period_s``, from a timer as well, so counts are not held back when samples
stop arriving; :meth:`ImuIntake.close` reports what is still pending at shutdown.

Frame ids: any ``header.frame_id`` is accepted (a wrist IMU has no TF tree to check
against); a change of frame id mid-stream is warned about once, with the old and new
ids, since it usually means two publishers share the topic.

Data clock: the intake publishes ``imu/clock`` (std_msgs/Header stamped with the newest
accepted sample) every ``IMU_CLOCK_PERIOD_S`` of data, so a node that only needs the
IMU's timeline (``audio_feedback`` timing rests) reads a few messages per data second
instead of every sample.  Being derived from the samples, it follows a replay at any
speed and is regenerated when a bag is played onto the graph.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable, List, Optional

from rep_coach import topics
from rep_coach.core.types import ImuBlock
from rep_coach.core.validation import GatedStream
from rep_coach.imu_msg import msgs_to_block, seconds_to_stamp
from rep_coach.nodes.common import (diagnostic, diagnostics_publisher, publish_safely, qos_for,
                                    WARN)
from rep_coach.runtime.msg import Header

#: Bad samples are reported at most this often: one counted warning, not one per sample.
REPORT_PERIOD_S = 5.0


class ImuIntake:
    """Every IMU consumer's front door: the SampleGate plus rate-limited reporting."""

    def __init__(self, node: Any, report_period_s: float = REPORT_PERIOD_S,
                 publish_clock: bool = True) -> None:
        self.node = node
        self.stream = GatedStream()
        self.gate = self.stream.gate
        self.report_period_s = report_period_s
        self._last_report = -float('inf')
        self.reports = 0
        self.frame_id: Optional[str] = None
        self.frame_changes = 0
        self._dirty = False
        self._diag_pub = diagnostics_publisher(node)
        self._clock_pub = (node.create_publisher(Header, topics.IMU_CLOCK,
                                                 qos_for(topics.IMU_CLOCK))
                           if publish_clock else None)
        self._clock_due = -float('inf')
        # Counts held back by the rate limit go out even if no sample follows.
        node.create_timer(min(1.0, report_period_s), self._report_if_due)

    def accept(self, msgs: Iterable[Any], feed: Callable[[ImuBlock], None],
               reset: Callable[[], None], resume: Optional[Callable[[], None]] = None) -> int:
        """
        Gate ``msgs``; feed each clean part to ``feed``; ``reset`` at a clock jump.

        A jump forward of at most ``HOLE_MAX_S`` is a hole in the same stream: then
        ``resume`` is called instead, when given.  Returns the number of samples fed.
        """
        msgs = list(msgs)
        self._check_frames(msgs)
        fed, result = self.stream.push(msgs_to_block(msgs), feed, reset, resume)
        if len(result.parts) > 1 or result.after_jump:
            self._clock_due = -float('inf')   # a new timeline: its clock starts at once
        if fed and self._clock_pub is not None and self.stream.newest is not None:
            self._tick_clock(self.stream.newest)
        if not result.report.clean:
            self._dirty = True
            self._report_if_due()
        return fed

    def _tick_clock(self, newest: float) -> None:
        """Publish the newest accepted stamp once a clock period of data has passed."""
        if newest < self._clock_due:
            return
        self._clock_due = newest + topics.IMU_CLOCK_PERIOD_S
        msg = Header()
        seconds_to_stamp(newest, msg.stamp)
        msg.frame_id = self.frame_id or ''
        self._clock_pub.publish(msg)

    def _check_frames(self, msgs: List[Any]) -> None:
        for msg in msgs:
            frame = str(msg.header.frame_id)
            if self.frame_id is not None and frame != self.frame_id:
                self.frame_changes += 1
                if self.frame_changes == 1:
                    self.node.get_logger().warning(
                        f'imu/data_raw: frame_id changed from {self.frame_id!r} to {frame!r} '
                        'mid-stream (two publishers on one topic?); samples are accepted, '
                        'further changes are not reported')
            self.frame_id = frame

    def _report_if_due(self) -> None:
        now = time.monotonic()
        if self._dirty and now - self._last_report >= self.report_period_s:
            self._last_report = now
            self._report()

    def _report(self, at_shutdown: bool = False) -> bool:
        """Log and publish the counts since the last report; False if there were none."""
        if not self._dirty:
            return False
        self._dirty = False
        report = self.gate.take_report()
        if report.clean:
            return False
        text = report.summary()
        self.reports += 1
        msg = diagnostic(self.node, WARN, text, report.as_key_values())
        note = ''
        if at_shutdown:
            note = ' (at shutdown)' + publish_safely(self._diag_pub, msg)
        else:
            self._diag_pub.publish(msg)
        self.node.get_logger().warning(f'imu/data_raw: {text}{note}')
        return True

    def close(self) -> None:
        """Report what the rate limit still holds (call at shutdown)."""
        self._report(at_shutdown=True)
