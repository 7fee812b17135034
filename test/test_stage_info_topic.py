"""``stage_info`` over the real middleware: latched, so a reader that joins late gets it."""

from __future__ import annotations

from pathlib import Path
import signal
import subprocess
import sys
import time
from typing import Callable, Dict, List

import pytest

from rep_coach import topics
from rep_coach.launcher import claim_domain, isolated_env
from rep_coach.nodes.common import qos_for
from rep_coach.runtime import Node, QoSProfile, rclpy, ReliabilityPolicy
from rep_coach.runtime.msg import String
from rep_coach.stage_info import StageInfo

ROOT = Path(__file__).resolve().parents[1]
#: The line each stage node logs once it has published its description.
STARTED = {'rep_segmenter': 'segmenting reps with the baseline model',
           'near_failure_classifier': 'classifying near-failure with the baseline model'}


#: History of the late reader: room for every writer's message.
READER_DEPTH = 10


def start_stage_node(name: str, env: Dict[str, str]) -> subprocess.Popen:
    """Start ``name`` with the baseline model; return once it has published its description."""
    proc = subprocess.Popen([sys.executable, '-m', f'rep_coach.nodes.{name}', '--ros-args',
                             '-p', 'model:=baseline', '-p', 'threshold:=0.6'],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=env, cwd=ROOT)
    lines: List[str] = []
    for line in proc.stdout:
        lines.append(line)
        if STARTED[name] in line or 'FATAL' in line:
            break
    assert STARTED[name] in ''.join(lines), ''.join(lines)
    return proc


def spin(node: Node, done: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.05)


def test_a_reader_that_joins_after_the_stage_nodes_still_gets_both_descriptions(
        monkeypatch: pytest.MonkeyPatch) -> None:
    claim = claim_domain()
    env = isolated_env(claim=claim)
    env['PYTHONPATH'] = str(ROOT)
    procs = [start_stage_node(name, env) for name in STARTED]
    monkeypatch.setenv('ROS_LOCALHOST_ONLY', '1')
    rclpy.init(args=['late_reader'], domain_id=claim.domain)
    try:
        node = Node('late_reader')
        # Both published before any reader existed.  One that does not ask for the kept
        # message gets nothing: it was said once.
        volatile: List[str] = []
        node.create_subscription(String, topics.STAGE_INFO, lambda m: volatile.append(m.data),
                                 QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        spin(node, lambda: False, 1.5)
        latched: List[str] = []
        # Transient local as the writers; deeper than their keep last 1, or the reader's
        # cache of the topic (one instance: String has no key) keeps one writer's only.
        node.create_subscription(String, topics.STAGE_INFO, lambda m: latched.append(m.data),
                                 qos_for(topics.STAGE_INFO, READER_DEPTH))
        spin(node, lambda: len(latched) >= 2, 10.0)
        spin(node, lambda: False, 0.5)   # anything more would come now
        node.destroy_node()
    finally:
        rclpy.try_shutdown()
        for proc in procs:
            proc.send_signal(signal.SIGINT)
        codes = [proc.wait(timeout=30) for proc in procs]
    infos = sorted((StageInfo.from_json(text) for text in latched), key=lambda i: i.stage)
    assert [(i.stage, i.model) for i in infos] == [('near_failure', 'baseline'),
                                                   ('segmenter', 'baseline')]
    assert infos[0].parameters == {'threshold': 0.6}
    assert volatile == []
    assert codes == [0, 0]
