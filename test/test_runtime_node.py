"""Nodes in one process: pub/sub, QoS matching, timers, executor behaviour."""

import random
import time
from typing import Callable, List

import pytest

from rep_coach.launcher import claim_domain
from rep_coach.runtime import (
    BACKEND, Node, qos_profile_sensor_data, QoSProfile, rclpy, ReliabilityPolicy)
from rep_coach.runtime.msg import Imu, String

#: Held until the test process exits, so no parallel run shares it.
DOMAIN = claim_domain().domain
RELIABLE = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
BEST_EFFORT = QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)


@pytest.fixture
def node(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv('ROS_LOCALHOST_ONLY', '1')
    rclpy.init(args=['test'], domain_id=DOMAIN)
    created = Node(f'node_{random.randint(0, 10**6)}', namespace='/t')
    yield created
    created.destroy_node()
    rclpy.try_shutdown()


def spin_until(node: Node, done: Callable[[], bool], timeout: float = 3.0) -> bool:
    deadline = time.monotonic() + timeout
    while not done() and time.monotonic() < deadline:
        rclpy.spin_once(node, timeout_sec=0.05)
    return done()


def publish_while_spinning(node: Node, publish: Callable[[], None], done: Callable[[], bool],
                           timeout: float = 3.0) -> bool:
    timer = node.create_timer(0.02, publish)
    try:
        return spin_until(node, done, timeout)
    finally:
        node.destroy_timer(timer)


def test_pub_sub_same_process(node: Node) -> None:
    got: List[str] = []
    topic = f'chat_{random.randint(0, 10**6)}'
    publisher = node.create_publisher(String, topic, 10)
    node.create_subscription(String, topic, lambda m: got.append(m.data), 10)
    assert publish_while_spinning(node, lambda: publisher.publish(String(data='hi')),
                                  lambda: len(got) >= 3)
    assert got[0] == 'hi'
    assert publisher.get_subscription_count() == 1
    assert node.count_subscribers(topic) == 1
    assert node.count_publishers(topic) == 1


def test_imu_sensor_qos(node: Node) -> None:
    got: List[Imu] = []
    publisher = node.create_publisher(Imu, 'imu/data_raw', qos_profile_sensor_data)
    node.create_subscription(Imu, 'imu/data_raw', got.append, qos_profile_sensor_data)

    def publish() -> None:
        msg = Imu()
        msg.header.stamp = node.get_clock().now().to_msg()
        msg.orientation_covariance[0] = -1.0
        msg.linear_acceleration.z = 9.81
        publisher.publish(msg)

    assert publish_while_spinning(node, publish, lambda: bool(got))
    assert got[0].orientation_covariance[0] == -1.0
    assert got[0].linear_acceleration.z == 9.81


def test_publish_wrong_type_raises(node: Node) -> None:
    publisher = node.create_publisher(String, 'typed', 10)
    with pytest.raises(TypeError):
        publisher.publish(Imu())


def test_publish_after_shutdown_raises_as_rcl_does(node: Node) -> None:
    # rcl: "Failed to publish: publisher's context is invalid" (rclpy raises RCLError); a
    # node's shutdown code that publishes must be written for it.
    publisher = node.create_publisher(String, 'chat_after', 10)
    publisher.publish(String(data='before'))
    rclpy.shutdown()
    with pytest.raises(RuntimeError, match="publisher's context is invalid") as info:
        publisher.publish(String(data='after'))
    assert type(info.value).__name__ == 'RCLError'


def test_best_effort_writer_never_reaches_reliable_reader(node: Node) -> None:
    got: List[str] = []
    publisher = node.create_publisher(String, 'qos_a', BEST_EFFORT)
    node.create_subscription(String, 'qos_a', lambda m: got.append(m.data), RELIABLE)
    publish_while_spinning(node, lambda: publisher.publish(String(data='x')), lambda: False,
                           timeout=0.6)
    assert got == []
    assert publisher.get_subscription_count() == 0


def test_reliable_writer_reaches_best_effort_reader(node: Node) -> None:
    got: List[str] = []
    publisher = node.create_publisher(String, 'qos_b', RELIABLE)
    node.create_subscription(String, 'qos_b', lambda m: got.append(m.data), BEST_EFFORT)
    assert publish_while_spinning(node, lambda: publisher.publish(String(data='x')),
                                  lambda: bool(got))
    assert publisher.get_subscription_count() == 1


def test_timer_period_and_cancel(node: Node) -> None:
    calls: List[float] = []
    timer = node.create_timer(0.05, lambda: calls.append(time.monotonic()))
    spin_until(node, lambda: False, timeout=0.55)
    assert 7 <= len(calls) <= 12
    gaps = [b - a for a, b in zip(calls, calls[1:])]
    assert all(0.02 < g < 0.15 for g in gaps)
    timer.cancel()
    before = len(calls)
    spin_until(node, lambda: False, timeout=0.2)
    assert len(calls) == before and timer.is_canceled()


def test_raising_callback_is_logged_and_spinning_continues(
        node: Node, capfd: pytest.CaptureFixture) -> None:
    ticks: List[int] = []

    def flaky() -> None:
        ticks.append(1)
        if len(ticks) == 1:
            raise RuntimeError('boom')

    node.create_timer(0.02, flaky)
    assert spin_until(node, lambda: len(ticks) >= 3)
    err = capfd.readouterr().err
    assert '[ERROR]' in err and 'boom' in err and node.get_fully_qualified_name() in err


def test_callbacks_run_on_spinning_thread(node: Node) -> None:
    import threading

    threads = set()
    publisher = node.create_publisher(String, 'thr', 10)
    node.create_subscription(String, 'thr', lambda m: threads.add(threading.get_ident()), 10)
    assert publish_while_spinning(node, lambda: publisher.publish(String(data='x')),
                                  lambda: bool(threads))
    assert threads == {threading.get_ident()}


def test_spin_returns_after_shutdown_in_callback(node: Node) -> None:
    node.create_timer(0.02, rclpy.shutdown)
    rclpy.spin(node)
    assert not rclpy.ok()


@pytest.mark.skipif(BACKEND != 'dds', reason='the fallback executor')
def test_a_signal_between_picking_and_running_a_callback_skips_it(node: Node) -> None:
    # The race behind a rare traceback on SIGTERM: the executor picked a timer callback,
    # then the signal shut the context down before the callback ran, and the callback's
    # publish failed ("publisher's context is invalid").  The signal is sent here at that
    # very point; the callback must not run, and spin must end as after any SIGTERM.
    from rep_coach.runtime import ExternalShutdownException
    from rep_coach.runtime.dds.context import get_default_context
    from rep_coach.runtime.dds.executor import SingleThreadedExecutor
    publisher = node.create_publisher(String, 'raced', 10)
    ran: List[str] = []

    def tick() -> None:
        ran.append('tick')      # before the publish, which would fail and be logged
        publisher.publish(String(data='tick'))

    node.create_timer(0.01, tick)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    picked = executor._next_ready

    def pick_then_signal(timeout_sec):
        item = picked(timeout_sec)
        if item is not None:
            get_default_context()._on_signal('SIGTERM')
        return item

    executor._next_ready = pick_then_signal   # type: ignore[method-assign]
    try:
        with pytest.raises(ExternalShutdownException):
            for _ in range(100):
                executor.spin_once(timeout_sec=0.1)
    finally:
        executor.shutdown()
    assert ran == [] and not rclpy.ok()


@pytest.mark.skipif(BACKEND != 'dds', reason='DDS user data')
def test_type_hash_in_user_data(node: Node) -> None:
    from cyclonedds.core import Policy

    from rep_coach.runtime.dds.messages import type_hash
    from rep_coach.runtime.dds.participant import get_participant

    node.create_publisher(Imu, 'hashed', qos_profile_sensor_data)
    node.create_subscription(Imu, 'hashed', lambda m: None, qos_profile_sensor_data)
    participant = get_participant(DOMAIN)
    expected = f'typehash={type_hash(Imu)};'.encode()
    for reader in (participant._pub_reader, participant._sub_reader):
        endpoints = [s for s in reader.read(N=1000) if s.topic_name == 'rt/t/hashed']
        assert endpoints
        assert endpoints[0].type_name == 'sensor_msgs::msg::dds_::Imu_'
        assert endpoints[0].qos[Policy.Userdata].data == expected


@pytest.mark.skipif(BACKEND != 'dds', reason='DDS discovery info')
def test_node_announced_on_ros_discovery_info(node: Node) -> None:
    from cyclonedds.sub import DataReader
    from cyclonedds.topic import Topic

    from rep_coach.runtime.dds.graph import _QOS
    from rep_coach.runtime.dds.messages import jazzy_message_class
    from rep_coach.runtime.dds.participant import get_participant
    from rep_coach.runtime.dds.qos import to_dds_qos

    info_type = jazzy_message_class('rmw_dds_common/msg/ParticipantEntitiesInfo')
    assert info_type.__idl_typename__ == 'rmw_dds_common::msg::dds_::ParticipantEntitiesInfo_'
    publisher = node.create_publisher(String, 'announced', 10)
    dp = get_participant(DOMAIN).dp
    reader = DataReader(dp, Topic(dp, 'ros_discovery_info', info_type),
                        to_dds_qos(_QOS, info_type._type_hash))
    deadline = time.monotonic() + 3
    mine = None
    while mine is None and time.monotonic() < deadline:
        for sample in reader.read(N=10):
            for entry in sample.node_entities_info_seq:
                if entry.node_name == node.get_name() and entry.node_namespace == '/t':
                    mine = entry
        time.sleep(0.02)
    assert mine is not None
    assert publisher._writer.guid.bytes in [g.data for g in mine.writer_gid_seq]
    assert len(sample.gid.data) == 16


def test_raw_subscription_gets_the_serialized_message(node: Node) -> None:
    """As rclpy's ``raw=True``: CDR bytes with the encapsulation header, nothing deserialized."""
    raw: List[bytes] = []
    topic = f'raw_{random.randint(0, 10**6)}'
    publisher = node.create_publisher(String, topic, RELIABLE)
    node.create_subscription(String, topic, raw.append, RELIABLE, raw=True)
    assert publish_while_spinning(node, lambda: publisher.publish(String(data='hello')),
                                  lambda: bool(raw))
    assert isinstance(raw[0], bytes)
    assert raw[0][:2] == b'\x00\x01' and b'hello\x00' in raw[0]   # CDR little endian


@pytest.mark.skipif(BACKEND != 'dds', reason='the DDS runtime decodes samples itself')
def test_a_sample_that_does_not_deserialize_is_dropped_and_logged(
        node: Node, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture) -> None:
    decode = String.deserialize

    def picky(data: bytes, *args: object, **kwargs: object) -> String:
        if b'garbage' in data:
            raise ValueError('cannot decode')
        return decode(data, *args, **kwargs)
    monkeypatch.setattr(String, 'deserialize', picky)
    got: List[str] = []
    topic = f'picky_{random.randint(0, 10**6)}'
    publisher = node.create_publisher(String, topic, RELIABLE)
    node.create_subscription(String, topic, lambda m: got.append(m.data), RELIABLE)
    assert spin_until(node, lambda: publisher.get_subscription_count() == 1)
    publisher.publish(String(data='garbage'))
    publisher.publish(String(data='fine'))
    assert spin_until(node, lambda: got == ['fine'])
    err = capfd.readouterr().err
    assert '[ERROR]' in err and 'does not deserialize' in err and 'cannot decode' in err


def test_subscriptions_and_timers_added_while_spinning_are_served(node: Node) -> None:
    """The executor rebuilds what it waits on when entities come and go."""
    got: List[str] = []
    ticks: List[int] = []
    topic = f'late_{random.randint(0, 10**6)}'
    publisher = node.create_publisher(String, topic, RELIABLE)
    spin_until(node, lambda: False, timeout=0.1)       # the node is on the executor now
    subscription = node.create_subscription(String, topic, lambda m: got.append(m.data),
                                            RELIABLE)
    timer = node.create_timer(0.02, lambda: ticks.append(1))
    assert publish_while_spinning(node, lambda: publisher.publish(String(data='x')),
                                  lambda: bool(got) and bool(ticks))
    node.destroy_subscription(subscription)
    node.destroy_timer(timer)
    done = len(got), len(ticks)
    publisher.publish(String(data='y'))
    spin_until(node, lambda: False, timeout=0.2)
    assert (len(got), len(ticks)) == done
