"""Incoming IMU messages -> clean ImuBlocks, with counted warnings and diagnostics."""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable

from rep_coach import topics
from rep_coach.core.types import ImuBlock
from rep_coach.core.validation import SampleGate
from rep_coach.imu_msg import msgs_to_block
from rep_coach.nodes.common import diagnostic, event_qos, WARN
from rep_coach.runtime.msg import DiagnosticArray

#: Bad samples are reported at most this often: one counted warning, not one per sample.
REPORT_PERIOD_S = 5.0


class ImuIntake:
    """Every IMU consumer's front door: the SampleGate plus rate-limited reporting."""

    def __init__(self, node: Any, report_period_s: float = REPORT_PERIOD_S) -> None:
        self.node = node
        self.gate = SampleGate()
        self.report_period_s = report_period_s
        self._next_report = time.monotonic() + report_period_s
        self._diag_pub = node.create_publisher(DiagnosticArray, topics.DIAGNOSTICS, event_qos())

    def accept(self, msgs: Iterable[Any], feed: Callable[[ImuBlock], None],
               reset: Callable[[], None]) -> int:
        """Gate ``msgs``; feed each clean part to ``feed``; ``reset`` at a clock jump.

        Returns the number of samples fed.
        """
        result = self.gate.push(msgs_to_block(msgs))
        parts = result.parts
        fed = 0
        for i, part in enumerate(parts):
            # Samples after a clock jump start a new timeline: stage state from the old
            # one must not mix with it.  A single part flagged resync jumped before it
            # (one message per push, as the nodes do).
            if result.report.resync and (i > 0 or len(parts) == 1):
                reset()
            if len(part):
                feed(part)
                fed += len(part)
        now = time.monotonic()
        if now >= self._next_report:
            self._next_report = now + self.report_period_s
            self._report()
        return fed

    def _report(self) -> None:
        report = self.gate.take_report()
        if report.clean:
            return
        text = report.summary()
        self.node.get_logger().warn(f'imu/data_raw: {text}')
        self._diag_pub.publish(diagnostic(self.node, WARN, text, report.as_key_values()))
