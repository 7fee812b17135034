"""Separate processes on loopback: message exchange and clean shutdown on signals."""

import os
from pathlib import Path
import signal
import subprocess
import sys
import textwrap
import time
from typing import List

import pytest

from rep_coach.launcher import claim_domain
from rep_coach.runtime import Node, qos_profile_sensor_data, rclpy
from rep_coach.runtime.msg import Imu, String

REPO = Path(__file__).resolve().parents[1]

# The child runs the standard rep_coach main pattern.
LISTENER = textwrap.dedent("""
    import sys
    from rep_coach.runtime import ExternalShutdownException, Node, qos_profile_sensor_data, rclpy
    from rep_coach.runtime.msg import Imu, String

    def main():
        rclpy.init(args=sys.argv)
        node = Node('listener')
        got = []

        def on_string(msg):
            got.append(msg.data)
            print('GOT', msg.data, flush=True)
            if len(got) >= 3:
                rclpy.shutdown()

        imu = node.create_publisher(Imu, 'imu/data_raw', qos_profile_sensor_data)

        def tick():
            msg = Imu()
            msg.orientation_covariance[0] = -1.0
            msg.header.frame_id = 'child'
            imu.publish(msg)

        node.create_subscription(String, 'chatter', on_string, 10)
        node.create_timer(0.05, tick)
        print('SPINNING', flush=True)
        try:
            rclpy.spin(node)
        except (KeyboardInterrupt, ExternalShutdownException) as exc:
            print('STOPPED', type(exc).__name__, flush=True)
        finally:
            node.destroy_node()
            rclpy.try_shutdown()
        print('CLEAN', flush=True)

    main()
""")


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> dict:
    domain = str(claim_domain().domain)   # held until the test process exits
    monkeypatch.setenv('ROS_LOCALHOST_ONLY', '1')
    monkeypatch.setenv('ROS_DOMAIN_ID', domain)
    child_env = dict(os.environ)
    child_env['PYTHONPATH'] = os.pathsep.join(
        [str(REPO)] + [p for p in child_env.get('PYTHONPATH', '').split(os.pathsep) if p])
    return child_env


def start_child(env: dict, *ros_args: str) -> subprocess.Popen:
    args = [sys.executable, '-c', LISTENER]
    if ros_args:
        args += ['--ros-args', *ros_args]
    proc = subprocess.Popen(args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == 'SPINNING', proc.stderr.read()
    return proc


def test_two_processes_exchange_messages(env: dict) -> None:
    child = start_child(env, '-r', '__ns:=/station1')
    rclpy.init(args=['parent'])
    node = Node('talker', namespace='/station1')
    imus: List[Imu] = []
    try:
        publisher = node.create_publisher(String, 'chatter', 10)
        node.create_subscription(Imu, 'imu/data_raw', imus.append, qos_profile_sensor_data)
        node.create_timer(0.05, lambda: publisher.publish(String(data='hello')))
        deadline = time.monotonic() + 10
        while child.poll() is None and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.05)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
        if child.poll() is None:
            child.kill()
    out, err = child.communicate(timeout=5)
    assert child.returncode == 0, err
    assert out.count('GOT hello') >= 3 and 'CLEAN' in out, out + err
    assert imus and imus[0].header.frame_id == 'child'
    assert imus[0].orientation_covariance[0] == -1.0


@pytest.mark.parametrize('signum, raised', [(signal.SIGINT, 'KeyboardInterrupt'),
                                            (signal.SIGTERM, 'ExternalShutdownException')])
def test_signal_stops_spinning_process_cleanly(env: dict, signum: int, raised: str) -> None:
    child = start_child(env)
    time.sleep(0.3)
    child.send_signal(signum)
    try:
        out, err = child.communicate(timeout=5)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err
    assert f'STOPPED {raised}' in out and 'CLEAN' in out, out + err
    assert 'Traceback' not in err, err


# A timer callback that takes a while, like a bag flush.
SLOW_CALLBACK = textwrap.dedent("""
    import sys, time
    from rep_coach.runtime import ExternalShutdownException, Node, rclpy

    rclpy.init(args=sys.argv)
    node = Node('slow')

    def slow():
        print('BEGIN', flush=True)
        time.sleep(0.6)
        print('END', 'ok' if rclpy.ok() else 'shut-down', flush=True)

    node.create_timer(0.05, slow)
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException) as exc:
        print('STOPPED', type(exc).__name__, flush=True)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
""")


def test_sigint_during_a_callback_lets_it_finish(env: dict) -> None:
    child = subprocess.Popen([sys.executable, '-c', SLOW_CALLBACK], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == 'BEGIN'
        child.send_signal(signal.SIGINT)
        out, err = child.communicate(timeout=10)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 0, err
    # The whole signal waits for the callback: the context is still up where it ends.
    assert out.split() == ['END', 'ok', 'STOPPED', 'KeyboardInterrupt'], out + err
